"""Callbacks that record how a run goes: quality figures, history.csv rows and grids of digits."""

from __future__ import annotations

import os
import time

import keras
import numpy as np

from .images import save_grid
from .presets import DEFAULT_QUALITY_N, GRID_COLS_PER_DIGIT, GRID_DIGITS
from .sampling import balanced_labels, generator_inputs


class QualityMetrics(keras.callbacks.Callback):
    """Add ``val_fid``, ``val_score``, ``val_diversity`` (within-class
    diversity, real digits 1), ``val_class_entropy`` and
    ``val_rarest_class`` to the logs at epoch ends, from ``n`` digits
    against ``n`` real test digits (``self.last`` keeps the latest).

    ``every``: measure at the epoch ends where the GAN's step is a multiple
    of it; None (the default) at every epoch end; 0 only at the end of the
    last epoch of `fit` (a run's final figures, which cost the run nothing
    on the way). ``val_seconds`` in the logs is the time each measurement
    took, so a run's time to a given quality can leave it out.

    Place it before callbacks that read them (``ModelCheckpoint(monitor=
    "val_fid")``, ``EarlyStopping``, keras-tuner), and after
    `CalibrateBatchNorm`. FID at small N is biased upwards, so compare
    figures at the same N only.
    """

    def __init__(self, evaluator, real_images, n: int = DEFAULT_QUALITY_N, seed: int = 0, every: int | None = None):
        super().__init__()
        from .mnist_data import to_float

        self.evaluator = evaluator
        self.real = to_float(real_images)[:n]
        self.n = min(n, len(self.real))
        self.seed = seed
        self.every = every
        self._real_feats = None
        self.last: dict = {}

    def _due(self, epoch: int) -> bool:
        if self.every is None:
            return True
        step = int(self.model.step.numpy())
        return (self.every > 0 and step % self.every == 0) or epoch + 1 == self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        if self._due(epoch):
            started = time.monotonic()
            self._measure()
            self.last["val_seconds"] = time.monotonic() - started
            if logs is not None:
                logs.update(self.last)

    def _measure(self):
        from .evaluation import class_spread, frechet_distance, mnist_score, within_class_diversity

        if self._real_feats is None:
            self._real_feats, real_probs = self.evaluator.features_and_probs(self.real)
            self._real_classes = real_probs.argmax(axis=1)
        conditional = self.model.num_classes is not None
        # A conditional GAN's digits of random classes: figures comparable
        # with an unconditional GAN's, and its accuracy on the classes drawn.
        digits, labels = self.model.generate(self.n, seed=self.seed, return_labels=True)
        feats, probs = self.evaluator.features_and_probs(digits)
        if not (np.isfinite(feats).all() and np.isfinite(probs).all()):
            nan = float("nan")
            self.last = {
                "val_fid": nan,
                "val_score": nan,
                "val_diversity": nan,
                "val_class_entropy": nan,
                "val_rarest_class": nan,
            }
            if conditional:
                self.last["val_accuracy"] = nan
        else:
            spread = class_spread(probs)
            self.last = {
                "val_fid": frechet_distance(feats, self._real_feats),
                "val_score": mnist_score(probs),
                # Within-class diversity: a generator that draws each class
                # in one style has a fine score and a poor FID; this says why.
                "val_diversity": within_class_diversity(
                    feats, probs.argmax(axis=1), self._real_feats, self._real_classes, probs.shape[1]
                )["within_class_diversity"],
                "val_class_entropy": spread["class_entropy_bits"],
                "val_rarest_class": spread["rarest_class_share"],
            }
            if conditional:
                # How often the evaluator sees the digit that was asked for.
                self.last["val_accuracy"] = float(np.mean(probs.argmax(axis=1) == labels))


class HistoryCSV(keras.callbacks.Callback):
    """Append one CSV row of metrics per epoch, flushed at once.

    Like Keras's CSVLogger, but keyed by the GAN's step counter and without
    the empty ``val_*`` columns CSVLogger adds when there is no validation.
    Appends to an existing file, so a resumed run continues its history.
    ``wall_s`` is the wall time since ``started`` (a `time.monotonic`
    reading; default: train begin) plus ``seconds_before`` (the time earlier
    sessions of a resumed run took), so a run's time to a given quality can
    be read off its history.
    """

    def __init__(self, path: str, started: float | None = None, seconds_before: float = 0.0):
        super().__init__()
        self.path = path
        self.columns: list[str] | None = None
        self.started = started
        self.seconds_before = float(seconds_before)

    def on_train_begin(self, logs=None):
        if self.started is None:
            self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: v for k, v in (logs or {}).items() if k not in ("step", "wall_s")}
        logs["wall_s"] = self.seconds_before + time.monotonic() - self.started
        if self.columns is None:
            self.columns = self._read_header() or ["step"] + sorted(logs)
            if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
                with open(self.path, "w") as f:
                    f.write(",".join(self.columns) + "\n")
        new = sorted(set(logs) - set(self.columns))
        if new:
            # Figures that earlier rows lack (quality figures turned on in a
            # resumed run, or measured only at the end): a wider header, and
            # nan where the earlier rows have none.
            self.columns += new
            self._rewrite_with(self.columns)
        row = [str(int(self.model.step.numpy()))] + [
            f"{float(logs.get(k, float('nan'))):.6g}" for k in self.columns[1:]
        ]
        with open(self.path, "a") as f:
            f.write(",".join(row) + "\n")

    def _read_header(self) -> list[str] | None:
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return None
        with open(self.path) as f:  # a resumed run keeps the file's columns
            return f.readline().strip().split(",")

    def _rewrite_with(self, columns: list[str]) -> None:
        import csv

        from .outputs import write_atomic

        with open(self.path, newline="") as f:
            rows = list(csv.DictReader(f))
        lines = [",".join(columns)] + [",".join(row.get(k) or "nan" for k in columns) for row in rows]
        write_atomic(self.path, lambda f: f.write(("\n".join(lines) + "\n").encode()))


class SampleGrid(keras.callbacks.Callback):
    """Save a PNG grid of digits from the same fixed noise at each epoch end
    (a conditional GAN's: one row per digit, 0 to 9).

    Fixed noise makes the grids comparable: the same cell shows how one
    digit evolves over the run.
    """

    def __init__(self, directory: str, n: int = GRID_DIGITS, seed: int = 0):
        super().__init__()
        self.directory = directory
        self.noise = None  # drawn at train begin, once the noise size is known
        self.n = n
        self.seed = seed
        self.paths: list[str] = []

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        classes = self.model.num_classes
        self.labels, self.cols = None, None
        if classes is not None:
            self.cols = GRID_COLS_PER_DIGIT
            self.n = self.cols * classes
            self.labels = balanced_labels(self.n, classes, per=self.cols)
        self.noise = np.random.default_rng(self.seed).standard_normal((self.n, self.model.noise_dim)).astype("float32")

    def on_epoch_end(self, epoch, logs=None):
        sampler = self.model.sampler
        images = sampler.predict(generator_inputs(sampler, self.noise, self.labels), verbose=0)
        step = int(self.model.step.numpy())
        path = os.path.join(self.directory, f"step_{step:07d}.png")
        self.paths.append(save_grid(images, path, ncols=self.cols))

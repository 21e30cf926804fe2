"""Callbacks that shape and watch a GAN's `fit`."""

from __future__ import annotations

import math
import os
import time

import keras
import numpy as np

from .sampling import CALIBRATION_DIGITS, balanced_labels, generator_inputs
from .images import save_grid
from .presets import DEFAULT_CHECKPOINT_EVERY, DEFAULT_QUALITY_N, GRID_COLS_PER_DIGIT, GRID_DIGITS, SEED_RECIPE


class DiscriminatorWarmup(keras.callbacks.Callback):
    """Train the discriminator alone for the first ``steps`` batches of `fit`.

    The original design pre-trained D for 300 steps so that the generator's
    first gradients come from a discriminator that already tells digits from
    noise. This callback only sets where that ends: the GAN's
    ``generator_start`` variable (saved with the model, so a resumed run
    knows), which the GAN's step reads (`GAN.phases_at`, `schedule.Schedule`).
    """

    def __init__(self, steps: int = SEED_RECIPE.warmup_steps):
        super().__init__()
        if int(steps) < 0:
            raise ValueError(f"warm-up steps must be >= 0; got {steps}.")
        self.steps = int(steps)

    def on_train_begin(self, logs=None):
        step = int(self.model.step.numpy())
        if self.steps > 0:
            self.model.generator_start.assign(step + self.steps)
        else:
            # No warm-up: G trains from now on, and an earlier start (which
            # the weight average's ramp counts from) is kept.
            self.model.generator_start.assign(min(int(self.model.generator_start.numpy()), step))


class StopAtStep(keras.callbacks.Callback):
    """End `fit` once the GAN has done ``total_steps`` training steps."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = int(total_steps)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.step.numpy()) >= self.total_steps:
            self.model.stop_training = True


class StopAfterMinutes(keras.callbacks.Callback):
    """End `fit` once ``minutes`` of wall time have passed since it began.

    ``self.stopped_at`` is the step it stopped at (None if the budget was
    not used up). The checkpoint saved at train end lets the same command
    continue the run later.
    """

    def __init__(self, minutes: float, started: float | None = None):
        super().__init__()
        if not float(minutes) > 0:
            raise ValueError(f"the time budget must be positive; got {minutes} minutes.")
        self.seconds = 60.0 * float(minutes)
        self.stopped_at: int | None = None
        self._start = started  # a time.monotonic() reading; default: the first train begin

    def on_train_begin(self, logs=None):
        if self._start is None:
            self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start >= self.seconds:
            self.stopped_at = int(self.model.step.numpy())
            self.model.stop_training = True


class ContinueEpoch(keras.callbacks.Callback):
    """After a resume in the middle of an epoch, put back the metric totals
    the checkpoint saved, so the epoch's history row averages all its steps,
    not only those after the resume. (`fit` resets the metrics just before
    ``on_epoch_begin``.)"""

    def __init__(self):
        super().__init__()
        self._done = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._done:
            self._done = True
            self.model.restore_metric_states()


class StepProgress(keras.callbacks.Callback):
    """A progress bar per epoch, counted in the run's own steps.

    Keras's bar counts the batches of this `fit` call, so a resumed run
    would start its epoch at 0; this one continues where the run stopped
    ("steps 2,001-3,000 of 10,000", at 936/1000) and prints the epoch's
    quality figures when the epoch ends.

    Off a terminal (``train > log.txt``, a scheduler's log) one plain line
    at the end of each epoch replaces the bar: Keras's bar redraws itself
    with ANSI escapes and carriage returns whenever Python runs on POSIX,
    terminal or not, which a file keeps as one endless line of every step.
    ``live`` overrides the choice (default: whether stdout is a terminal).
    """

    def __init__(self, total_steps: int, steps_per_epoch: int, print_fn=print, live: bool | None = None):
        super().__init__()
        self.total_steps = int(total_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        self.print_fn = print_fn
        self.live = _stdout_is_a_terminal() if live is None else bool(live)
        self._bar = None
        self._first = 0
        self._started = 0.0

    def _position(self) -> int:
        return int(self.model.step.numpy()) - self._first

    def _header(self) -> str:
        last = min(self._first + self.steps_per_epoch, self.total_steps)
        epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        return (
            f"Epoch {self._first // self.steps_per_epoch + 1}/{epochs}: "
            f"steps {self._first + 1:,}-{last:,} of {self.total_steps:,}"
        )

    def on_epoch_begin(self, epoch, logs=None):
        step = int(self.model.step.numpy())
        self._first = step - step % self.steps_per_epoch
        self._started = time.monotonic()
        self.print_fn(self._header())
        self._bar = None
        self._target = min(self._first + self.steps_per_epoch, self.total_steps) - self._first

    def on_train_batch_end(self, batch, logs=None):
        if not self.live:
            return
        logs = logs or {}
        if self._bar is None:
            # The GAN's logs are running means already: show them as they are.
            self._bar = keras.utils.Progbar(self._target, stateful_metrics=list(logs))
        self._bar.update(self._position(), values=list(logs.items()))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        quality = [f"{k} {float(v):.4g}" for k, v in sorted(logs.items()) if k.startswith("val_")]
        if self.live:
            if quality:
                self.print_fn("  " + ", ".join(quality))
            return
        # The bar's last state as one plain line: where the epoch ended, its figures and its time.
        figures = [f"{k} {float(v):.4g}" for k, v in logs.items() if not k.startswith("val_") and np.ndim(v) == 0]
        seconds = time.monotonic() - self._started
        self.print_fn(
            f"  step {int(self.model.step.numpy()):,}: " + ", ".join(figures + quality + [f"{seconds:.1f} s"])
        )


def _stdout_is_a_terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first NaN or infinite loss, and say which and when.

    Keras's TerminateOnNaN watches only ``loss``, which a GAN does not log.
    After a stop, ``self.message`` explains it (the CLI prints it and keeps
    the last good files).
    """

    def __init__(self):
        super().__init__()
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if "loss" in name and not math.isfinite(float(value)):
                self.message = (
                    f"{name} became {float(value)} at step {int(self.model.step.numpy())}; "
                    "training stopped (try lower learning rates)."
                )
                self.model.stop_training = True
                return


class Checkpoint(keras.callbacks.Callback):
    """Save the whole GAN (weights, optimizers, step counter, noise state)
    every ``every_steps`` steps and when training ends, through a temporary
    file and a rename: a kill at any moment leaves the previous good file.

    Nothing is saved once a loss has turned NaN or infinite, so the last
    checkpoint is always one of a healthy game. ``self.saved_step`` is the
    step of the latest checkpoint.
    """

    def __init__(self, path: str, every_steps: int = DEFAULT_CHECKPOINT_EVERY):
        super().__init__()
        if int(every_steps) < 1:
            raise ValueError(f"checkpoint interval must be at least 1 step; got {every_steps}.")
        self.path = path
        self.every_steps = int(every_steps)
        self.saved_step: int | None = None
        self._healthy = True

    def save(self):
        from .saving import save_model_atomic

        if self.model is None:  # fit never ran: nothing new to save
            return
        step = int(self.model.step.numpy())
        if self._healthy and step != self.saved_step:
            save_model_atomic(self.model, self.path)
            self.saved_step = step

    def on_train_batch_end(self, batch, logs=None):
        if any("loss" in k and not math.isfinite(float(v)) for k, v in (logs or {}).items()):
            self._healthy = False
        elif int(self.model.step.numpy()) % self.every_steps == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()


class CalibrateBatchNorm(keras.callbacks.Callback):
    """Recompute the generator's BatchNorm statistics at each epoch end and
    at the end of training, so that inference-mode samples (grids, saved
    models, `GAN.generate`) show what the generator really draws."""

    def __init__(self, n: int = CALIBRATION_DIGITS):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        self.model.calibrate_batchnorm(self.n)

    def on_train_end(self, logs=None):
        self.model.calibrate_batchnorm(self.n)


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

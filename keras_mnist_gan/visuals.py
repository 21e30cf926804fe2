"""What people look at: TensorBoard logs, loss curves, the run as a GIF, and
walks through the noise space."""

from __future__ import annotations

import csv
import math

import keras
import numpy as np
from PIL import Image

from .images import grid
from .outputs import write_atomic
from .presets import GRID_DIGITS


class TensorBoardLogger(keras.callbacks.Callback):
    """Write each epoch's logs as scalars and a digit grid as an image, keyed
    by the GAN's step counter, under ``log_dir`` (``tensorboard --logdir``).

    Keras's own TensorBoard callback expects a model with one optimizer and
    cannot show images of generated digits, hence this small one.
    """

    def __init__(self, log_dir: str, n: int = GRID_DIGITS, seed: int = 0):
        super().__init__()
        self.log_dir = log_dir
        self.n, self.seed = n, seed
        self.writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(self.log_dir)
        self.noise = np.random.default_rng(self.seed).standard_normal((self.n, self.model.noise_dim)).astype("float32")

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        from .sampling import balanced_labels, generator_inputs

        step = int(self.model.step.numpy())
        sampler = self.model.sampler
        classes = self.model.num_classes
        labels = None if classes is None else balanced_labels(self.n, classes)
        picture = grid(sampler.predict(generator_inputs(sampler, self.noise, labels), verbose=0))
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                if np.ndim(value) == 0 and math.isfinite(float(value)):
                    tf.summary.scalar(name, float(value))
            tf.summary.image("digits", picture[None, :, :, None])
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


def read_history(path: str) -> dict[str, np.ndarray]:
    """history.csv as columns (float arrays), ``step`` included."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows]) for k in rows[0]}


def plot_history(history_csv: str, path: str) -> str | None:
    """A PNG of the losses, D's accuracies and (if logged) the quality
    figures over the steps of a run. None if the history is empty."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = read_history(history_csv)
    if not h or len(h["step"]) == 0:
        return None
    panels = [
        ("losses", ["d_loss_real", "d_loss_fake", "g_loss"]),
        ("discriminator accuracy", ["d_acc_real", "d_acc_fake"]),
    ]
    if "val_fid" in h:
        panels.append(("quality (evaluator)", ["val_fid", "val_score"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), dpi=110)
    for ax, (title, names) in zip(np.atleast_1d(axes), panels):
        for name in names:
            if name in h:
                ax.plot(h["step"], h[name], marker="o", markersize=3, label=name)
        if title.startswith("quality"):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
    return path


def make_gif(frames: list[str], path: str, ms_per_frame: int = 250, hold_last_ms: int = 1500) -> str | None:
    """An animated GIF of PNG ``frames`` (the per-epoch grids of a run)."""
    if not frames:
        return None
    images = [Image.open(f).convert("L") for f in frames]
    durations = [ms_per_frame] * (len(images) - 1) + [hold_last_ms]
    return write_atomic(
        path,
        lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0),
    )


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between noise vectors: points on the path
    keep the norm typical of Gaussian noise (a straight line would pass
    through the low-norm middle that the generator rarely saw)."""
    a_n, b_n = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a_n, b_n), -1.0, 1.0))
    t = np.asarray(t, np.float64)[:, None]
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation_noise(noise_dim: int, rows: int = 8, steps: int = 10, seed: int | None = None) -> np.ndarray:
    """(rows * steps, noise_dim): each row walks from one random point of the
    noise space to another."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, steps)
    ends = rng.standard_normal((rows, 2, noise_dim))
    return np.concatenate([slerp(a, b, t) for a, b in ends]).astype("float32")


def interpolation_gif(
    generator, path: str, points: int = 4, steps: int = 12, n: int = 16, seed: int | None = None, labels=None
) -> str:
    """A looping GIF of a grid of ``n`` digits, each walking through
    ``points`` random noise points (and back to the first); a conditional
    generator draws ``labels`` (default 0, 1, ..., 9, 0, ... in turn)."""
    from .models import noise_dim_of, num_classes_of
    from .sampling import balanced_labels, generator_inputs

    rng = np.random.default_rng(seed)
    dim = noise_dim_of(generator)
    if labels is None and num_classes_of(generator) is not None:
        labels = balanced_labels(n, num_classes_of(generator))
    keys = rng.standard_normal((points, n, dim))
    t = np.linspace(0.0, 1.0, steps, endpoint=False)
    frames = []
    for k in range(points):
        a, b = keys[k], keys[(k + 1) % points]
        path_noise = np.stack([slerp(a[i], b[i], t) for i in range(n)], axis=1)  # (steps, n, dim)
        for z in path_noise.astype("float32"):
            digits = generator.predict(generator_inputs(generator, z, labels), verbose=0)
            frames.append(Image.fromarray(grid(digits, scale=3), mode="L"))
    return write_atomic(
        path, lambda f: frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    )

"""One training run: data -> tf.data -> GAN.fit -> .keras files and pictures.

This is what ``keras-mnist-gan train`` runs; call it from Python the same way.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import keras

from .callbacks import CalibrateBatchNorm, DiscriminatorWarmup, HistoryCSV, QualityMetrics, SampleGrid, StopAtStep, StopOnNonFinite
from .data import MnistData, load_mnist, validate_images
from .gan import GAN
from .images import save_grid
from .models import build_discriminator, build_generator
from .pipeline import make_dataset
from .presets import DEFAULT_PRESET, PRESETS, Preset
from .saving import save_model_atomic


class TrainingError(RuntimeError):
    """Training could not go on (for example a loss became NaN)."""


@dataclass
class RunResult:
    gan: GAN
    out_dir: str
    steps: int
    files: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def build_gan(preset: Preset, seed: int | None = 0) -> GAN:
    """A compiled GAN of the seed architecture with the preset's optimizers."""
    gan = GAN(
        build_discriminator(seed=seed),
        build_generator(noise_dim=preset.noise_dim, seed=None if seed is None else seed + 100),
        seed=seed,
        ema_decay=preset.ema_decay,
    )
    gan.compile(**preset.optimizers())
    return gan


def train(
    out_dir: str,
    data: MnistData | str | None = None,
    preset: Preset | str = DEFAULT_PRESET,
    steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    quality_n: int = 1000,
    verbose: int | str = "auto",
) -> RunResult:
    """Train a GAN and write its files into ``out_dir``.

    ``steps`` counts every training step, the discriminator's warm-up
    included; ``epochs`` counts passes over the training digits. Give one
    (default: 1 epoch). A Keras "epoch" here is ``steps_per_epoch`` steps
    (default: one pass over the data, or all the steps if fewer); a grid of
    digits from fixed noise is saved after each.

    With ``quality_n`` > 0 and the shipped evaluator present, each epoch
    also logs ``val_fid``, ``val_score`` and ``val_class_entropy`` on that
    many digits against the test digits.

    Files: ``gan.keras`` (the whole GAN, resumable), ``generator.keras`` (for
    sampling), ``history.csv``, ``samples/step_*.png``, ``samples.png``,
    ``config.json``.
    """
    preset = PRESETS[preset] if isinstance(preset, str) else preset
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both.")
    if not isinstance(data, MnistData):
        data = load_mnist(data)
    images = validate_images(data.x_train)
    batches_per_pass = len(images) // preset.batch_size
    if batches_per_pass < 1:
        raise ValueError(f"the dataset holds {len(images)} images, fewer than one batch of {preset.batch_size}.")
    if steps is None:
        steps = (epochs or 1) * batches_per_pass
    if int(steps) < 1:
        raise ValueError(f"steps must be positive; got {steps}.")
    steps = int(steps)
    steps_per_epoch = int(steps_per_epoch or min(batches_per_pass, steps))
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be positive; got {steps_per_epoch}.")

    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    gan = build_gan(preset, seed=seed)
    ds = make_dataset(images, batch_size=preset.batch_size, seed=seed)
    files = {
        "gan": os.path.join(out_dir, "gan.keras"),
        "generator": os.path.join(out_dir, "generator.keras"),
        "history": os.path.join(out_dir, "history.csv"),
        "samples": os.path.join(out_dir, "samples.png"),
        "config": os.path.join(out_dir, "config.json"),
    }
    with open(files["config"], "w") as f:
        json.dump({"preset": preset.as_dict(), "steps": steps, "steps_per_epoch": steps_per_epoch,
                   "seed": seed, "data": data.source, "train_images": len(images)}, f, indent=2)

    nonfinite = StopOnNonFinite()
    grids = SampleGrid(os.path.join(out_dir, "samples"), n=64, seed=seed)
    callbacks = [
        DiscriminatorWarmup(preset.warmup_steps),
        StopAtStep(steps),
        nonfinite,
        CalibrateBatchNorm(),
    ]
    if quality_n > 0:
        from .evaluation import EVALUATOR_PATH, Evaluator

        if EVALUATOR_PATH.is_file():
            callbacks.append(QualityMetrics(Evaluator.load(EVALUATOR_PATH), data.x_test, n=quality_n, seed=seed))
    callbacks += [HistoryCSV(files["history"]), grids]
    history = gan.fit(ds, epochs=math.ceil(steps / steps_per_epoch), steps_per_epoch=steps_per_epoch,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
    if nonfinite.message:
        raise TrainingError(nonfinite.message + f" No model was saved; grids so far are in {grids.directory}.")
    save_model_atomic(gan, files["gan"])
    save_model_atomic(gan.sampler, files["generator"])
    save_grid(gan.generate(64, seed=seed), files["samples"])
    return RunResult(gan=gan, out_dir=out_dir, steps=int(gan.step.numpy()), files=files, history=history.history)

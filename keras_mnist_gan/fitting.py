"""A GAN built from a preset and fitted to a step count: what a run and a tuning trial share."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .callbacks import ContinueEpoch, DiscriminatorWarmup
from .gan import GAN
from .mnist_data import NUM_CLASSES, DataError, MnistData
from .models import build_discriminator, build_generator
from .pipeline import make_dataset
from .presets import Preset
from .run_config import RunConfig
from .rundir import TrainingError


def build_gan(preset: Preset, seed: int | None = 0, num_classes: int | None = None) -> GAN:
    """A compiled GAN of the seed architecture with the preset's optimizers;
    a conditional preset's has ``num_classes`` classes (default MNIST's 10)."""
    classes = (num_classes or NUM_CLASSES) if preset.conditional else None
    gan = GAN(
        build_discriminator(seed=seed, num_classes=classes, minibatch_std=preset.minibatch_std),
        build_generator(noise_dim=preset.noise_dim, seed=None if seed is None else seed + 100, num_classes=classes),
        seed=seed,
        ema_decay=preset.ema_decay,
    )
    gan.compile(**preset.optimizers())
    return gan


def conditional_labels(
    preset: Preset, data: MnistData, n_images: int, conditional: bool | None = None, log=print
) -> tuple[Preset, np.ndarray | None]:
    """The preset a run trains and its labels (None: unconditional).

    ``conditional`` overrides the preset's choice: True requires labels,
    False trains the unconditional GAN; None follows the preset, and a
    conditional preset on data without labels trains the unconditional GAN
    with a one-line note.
    """
    if conditional is not None:
        preset = replace(preset, conditional=bool(conditional))
    if preset.conditional and data.y_train is None:
        if conditional:
            raise TrainingError(
                f"{data.source} has no labels (y_train): a conditional GAN (--conditional) learns "
                "digits of each class from labelled digits; train --unconditional on it."
            )
        log(
            f"note: {data.source} has no labels ({data.labels_from}), so this trains the unconditional GAN (a "
            "conditional one learns each digit from labelled digits)."
        )
        preset = replace(preset, conditional=False)
    if not preset.conditional:
        return preset, None
    if data.class_names is not None and len(data.class_names) == 1:  # train and tune alike
        raise DataError(
            f"{data.source} holds one class folder ({data.class_names[0]}); a conditional GAN learns two or more "
            f"classes apart: add class folders, or train --unconditional to learn {data.class_names[0]} alone."
        )
    return preset, data.y_train


def _fit_plan(done: int, steps: int, steps_per_epoch: int) -> list[tuple[int, int, int]]:
    """``(initial_epoch, epochs, steps_per_epoch)`` of each `fit` call that
    takes a run from step ``done`` to ``steps``: a run resumed in the middle
    of an epoch first finishes that epoch, so epochs keep ending at
    multiples of ``steps_per_epoch``."""
    plan = []
    if done % steps_per_epoch:
        epoch = done // steps_per_epoch
        plan.append((epoch, epoch + 1, min(steps_per_epoch - done % steps_per_epoch, steps - done)))
    first_whole = math.ceil(done / steps_per_epoch)
    if first_whole * steps_per_epoch < steps:
        plan.append((first_whole, math.ceil(steps / steps_per_epoch), steps_per_epoch))
    return plan


def fit_steps(gan: GAN, config: RunConfig, images, labels, steps: int, steps_per_epoch: int, callbacks: list) -> dict:
    """`GAN.fit` from the GAN's step to ``steps``, ``steps_per_epoch`` a Keras
    epoch; returns the history. The warm-up and the data order count from
    the run's start, so a resumed run (or a trial continued by Hyperband)
    carries on where it stopped."""
    history: dict = {}
    for initial_epoch, epochs, epoch_steps in _fit_plan(int(gan.step.numpy()), steps, steps_per_epoch):
        step = int(gan.step.numpy())
        warmup = config.preset.warmup_steps if step == 0 else max(0, int(gan.generator_start.numpy()) - step)
        first = [DiscriminatorWarmup(warmup)] + ([ContinueEpoch()] if step % steps_per_epoch else [])
        ds = make_dataset(
            images, batch_size=config.preset.batch_size, seed=config.seed, skip_batches=step, labels=labels
        )
        fitted = gan.fit(
            ds,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=epoch_steps,
            callbacks=first + callbacks,
            verbose=0,
            shuffle=False,
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
        if gan.stop_training:
            break
    return history

"""One training run: data -> batches (PyDataset) -> GAN.fit -> .keras files and pictures.

This is what ``keras-mnist-gan train`` runs; call it from Python the same way.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace

import keras
import numpy as np

from .callbacks import (
    CalibrateBatchNorm,
    Checkpoint,
    ContinueEpoch,
    DiscriminatorWarmup,
    HistoryCSV,
    QualityMetrics,
    SampleGrid,
    StepProgress,
    StopAfterMinutes,
    StopAtStep,
    StopOnNonFinite,
)
from .data import NUM_CLASSES, MnistData, load_mnist, validate_images, validate_labels
from .gan import GAN
from .images import save_grid
from .models import build_discriminator, build_generator
from .pipeline import make_dataset
from .presets import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_PRESET,
    DEFAULT_QUALITY_EVERY,
    DEFAULT_QUALITY_N,
    DEFAULT_STEPS,
    DEFAULT_STEPS_PER_EPOCH,
    GRID_COLS_PER_DIGIT,
    GRID_DIGITS,
    MAX_BATCH_SIZE,
    MIN_FID_DIGITS,
    PRESETS,
    Preset,
    closest_preset,
)
from .health import GameHealth
from .sampling import balanced_labels
from .rundir import RUN_FILES, RunLock, TrainingError, forget_after, prepare, write_config
from .saving import load_gan, save_generator
from .visuals import TensorBoardLogger, make_gif, plot_history, run_frames

__all__ = ["RunResult", "TrainingError", "build_gan", "train"]


@dataclass
class RunResult:
    gan: GAN
    out_dir: str
    steps: int
    files: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    resumed_from: int | None = None  # the checkpoint's step, if the run was resumed
    already_done: bool = False  # the run had reached ``steps`` before: nothing was trained or written
    out_of_time: bool = False  # stopped by the ``minutes`` budget before ``steps``


def build_gan(preset: Preset, seed: int | None = 0) -> GAN:
    """A compiled GAN of the seed architecture with the preset's optimizers."""
    classes = NUM_CLASSES if preset.conditional else None
    gan = GAN(
        build_discriminator(seed=seed, num_classes=classes),
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
            f"note: {data.source} has no labels (y_train), so this trains the unconditional GAN (a conditional one "
            "learns each digit from labelled digits)."
        )
        preset = replace(preset, conditional=False)
    if not preset.conditional:
        return preset, None
    return preset, validate_labels(data.y_train, n_images, f"{data.source}: y_train")


def _run_identity(preset: Preset, seed: int, data: MnistData, n_images: int) -> dict:
    """What makes two invocations the same run (the step budget may grow)."""
    return {"preset": preset.as_dict(), "seed": int(seed), "data": data.source, "train_images": int(n_images)}


def generator_metadata(
    gan: GAN,
    preset: Preset,
    steps: int,
    seed: int | None,
    data: MnistData | str | None,
    train_images: int | None = None,
    wall_s: float | None = None,
    command: str | None = None,
    quality: dict | None = None,
) -> dict:
    """What a generator file records of its training (its metadata.json,
    ``keras-mnist-gan info``): the preset (its name, what differs from it,
    every setting), steps, seed, data, wall time, command, and the quality
    figures measured at the end when there are any."""
    from . import __version__

    name, changes = closest_preset(preset)
    source = data.source if isinstance(data, MnistData) else data
    record = {
        "draws": (
            f"28x28 MNIST-like digits, pixels in [0, 1]; class-conditional ({gan.num_classes} classes: "
            "inputs [noise, label])"
            if gan.num_classes
            else "28x28 MNIST-like digits, pixels in [0, 1]; unconditional (input: noise)"
        ),
        "noise_dim": int(gan.noise_dim),
        "num_classes": gan.num_classes,
        "weights": (
            f"exponential moving average of the generator's weights (decay {gan.ema_decay:g})"
            if gan.ema_generator is not None
            else "the generator's weights"
        )
        + "; BatchNorm statistics calibrated before saving",
        "preset": name,
        "preset_changes": changes,
        "preset_settings": preset.as_dict(),
        "steps": int(steps),
        "seed": None if seed is None else int(seed),
        "data": {"source": source, "train_images": train_images, "labels": bool(gan.num_classes)},
        "wall_s": None if wall_s is None else round(float(wall_s), 1),
        "command": command,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "package_version": __version__,
    }
    if quality:
        record["quality_at_end"] = quality
    return record


def _final_quality(history_csv: str, step: int) -> dict:
    """The val_* figures history.csv holds for ``step`` (the run's last), if
    they were measured there."""
    import csv

    try:
        with open(history_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    if not rows or rows[-1].get("step") in (None, "") or int(float(rows[-1]["step"])) != step:
        return {}
    figures = {}
    for key, value in rows[-1].items():
        try:
            if key and key.startswith("val_") and math.isfinite(float(value)):
                figures[key] = float(value)
        except (TypeError, ValueError):
            pass
    return figures


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


def train(
    out_dir: str,
    data: MnistData | str | None = None,
    preset: Preset | str = DEFAULT_PRESET,
    steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    quality_n: int = DEFAULT_QUALITY_N,
    quality_every: int = DEFAULT_QUALITY_EVERY,
    verbose: int | str = "auto",
    resume: bool | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    health: bool = True,
    stop_on_failure: bool = False,
    minutes: float | None = None,
    conditional: bool | None = None,
    log=print,
    command: str | None = None,
) -> RunResult:
    """Train a GAN and write its files into ``out_dir``; resume a run there.

    ``steps`` counts every training step, the discriminator's warm-up
    included (default `presets.DEFAULT_STEPS`, whatever the size of the
    data); ``epochs`` instead counts passes over the training digits. A
    Keras "epoch" here is ``steps_per_epoch`` steps (default
    `presets.DEFAULT_STEPS_PER_EPOCH`); a grid of digits from fixed noise, a
    history row (with ``wall_s``, the seconds since the run began) and
    TensorBoard logs are written after each. ``minutes`` caps the wall time
    of this call: the run stops cleanly with a checkpoint and its files, and
    the same call again continues it.

    ``conditional`` overrides the preset's choice of a class-conditional
    GAN: True requires labelled data, False trains the unconditional GAN;
    None (the default) follows the preset, and a conditional preset on data
    without labels trains the unconditional GAN with a one-line note.

    The whole GAN is checkpointed to ``gan.keras`` every
    ``checkpoint_every`` steps, at the end, and on Ctrl-C. When ``out_dir``
    already holds this run (same preset, seed and data), it continues from
    that checkpoint (``resume=None``, the default, or True); ``resume=False``
    deletes the old run's files and starts over. A different run there is
    an error, never overwritten; so is a second process training in the
    same folder, and a run file that is a symbolic link.

    With ``quality_n`` > 0 and the shipped evaluator present, the run's
    last epoch (and, with ``quality_every`` > 0, every epoch that ends at a
    multiple of that many steps) also logs ``val_fid``, ``val_score`` and
    ``val_class_entropy`` on that many digits against the test digits. With ``health``, `GameHealth` warns
    when D is winning or G collapses (and stops the run if
    ``stop_on_failure``).

    Files: ``gan.keras`` (the whole GAN, resumable), ``generator.keras`` (for
    sampling), ``history.csv``, ``samples/step_*.png``, ``samples.png``,
    ``curves.png``, ``progress.gif``, ``tensorboard/``, ``config.json``.
    ``generator.keras`` is made of Keras's own layers (it loads without this
    package) and records the run's settings in its metadata (`generator_metadata`;
    ``keras-mnist-gan info`` prints them), ``command`` among them if given.
    """
    started = time.monotonic()
    preset = PRESETS[preset] if isinstance(preset, str) else preset
    if steps is not None and epochs is not None:
        raise ValueError("give steps or epochs, not both.")
    if not isinstance(data, MnistData):
        data = load_mnist(data)
    images = validate_images(data.x_train)
    notes: list[str] = []  # said once training starts, not on a run that is already done
    preset, labels = conditional_labels(preset, data, len(images), conditional, notes.append)
    batches_per_pass = len(images) // preset.batch_size
    if batches_per_pass < 1:
        raise ValueError(f"the dataset holds {len(images)} images, fewer than one batch of {preset.batch_size}.")
    if steps is None:
        steps = epochs * batches_per_pass if epochs else DEFAULT_STEPS
    if int(steps) < 1:
        raise ValueError(f"steps must be positive; got {steps}.")
    if not 1 <= preset.batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"the batch size must be from 1 to {MAX_BATCH_SIZE}; got {preset.batch_size}.")
    if 0 < quality_n < MIN_FID_DIGITS:
        raise ValueError(
            f"quality_n must be 0 (off) or at least {MIN_FID_DIGITS} (a Fréchet distance needs that "
            f"many digits); got {quality_n}."
        )
    steps = int(steps)
    steps_per_epoch = int(steps_per_epoch or min(DEFAULT_STEPS_PER_EPOCH, steps))
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be positive; got {steps_per_epoch}.")

    os.makedirs(out_dir, exist_ok=True)
    with RunLock(out_dir):
        identity = _run_identity(preset, seed, data, len(images))
        resuming = prepare(out_dir, identity, resume)
        files = {name.split(".")[0]: os.path.join(out_dir, name) for name in RUN_FILES}
        files["config"] = os.path.join(out_dir, "config.json")
        keras.utils.set_random_seed(seed)
        seconds_before = 0.0
        if resuming:
            gan = load_gan(files["gan"])
            if gan.noise_dim != preset.noise_dim:
                raise TrainingError(
                    f"{files['gan']}: its generator takes {gan.noise_dim}-d noise, the preset {preset.noise_dim}-d."
                )
            done = int(gan.step.numpy())
            if done >= steps:
                log(f"run is already at step {done} of {steps}; raise --steps to train on")
                return RunResult(
                    gan=gan, out_dir=out_dir, steps=done, files=files, resumed_from=done, already_done=True
                )
            _check_warmup(steps, int(gan.generator_start.numpy()))
            for note in notes:
                log(note)
            seconds_before = forget_after(out_dir, done)
            log(f"resuming from step {done} ({files['gan']}), training to step {steps}")
        else:
            _check_warmup(steps, preset.warmup_steps)
            for note in notes:
                log(note)
            gan = build_gan(preset, seed=seed)
            done = 0
        write_config(out_dir, {**identity, "steps": steps, "steps_per_epoch": steps_per_epoch})
        return _fit_run(
            gan,
            out_dir,
            files,
            data,
            (images, labels),
            preset,
            steps,
            steps_per_epoch,
            done,
            resuming,
            seed,
            quality_n,
            quality_every,
            verbose,
            checkpoint_every,
            health,
            stop_on_failure,
            minutes,
            started,
            seconds_before,
            log,
            command=command,
        )


def _check_warmup(steps: int, generator_start: int) -> None:
    if steps <= generator_start:
        raise TrainingError(
            f"{steps} steps end inside the discriminator's warm-up (the generator starts training after step "
            f"{generator_start}), so the generator would never train; give more steps than that "
            "(--steps) or a shorter warm-up (--warmup-steps)."
        )


def _fit_run(
    gan,
    out_dir,
    files,
    data,
    images_and_labels,
    preset,
    steps,
    steps_per_epoch,
    done,
    resuming,
    seed,
    quality_n,
    quality_every,
    verbose,
    checkpoint_every,
    health,
    stop_on_failure,
    minutes,
    started,
    seconds_before,
    log,
    command=None,
) -> RunResult:
    images, labels = images_and_labels
    nonfinite = StopOnNonFinite()
    checkpoint = Checkpoint(files["gan"], checkpoint_every)
    grids = SampleGrid(os.path.join(out_dir, "samples"), n=GRID_DIGITS, seed=seed)
    clock = StopAfterMinutes(minutes, started=started) if minutes else None
    common = [StopAtStep(steps), nonfinite, CalibrateBatchNorm(), checkpoint] + ([clock] if clock else [])
    monitor = None
    if health:
        monitor = GameHealth(images[:512], stop_on_failure=stop_on_failure, seed=seed)
        common.append(monitor)
    if quality_n > 0:
        from .evaluation import EVALUATOR_PATH, Evaluator

        if len(data.x_test) < MIN_FID_DIGITS:
            log(
                f"note: {data.source} holds {len(data.x_test)} test digits, fewer than the {MIN_FID_DIGITS} a Fréchet "
                "distance needs: no quality figures in this run."
            )
        elif EVALUATOR_PATH.is_file():
            common.append(
                QualityMetrics(Evaluator.load(EVALUATOR_PATH), data.x_test, n=quality_n, seed=seed, every=quality_every)
            )
    common += [HistoryCSV(files["history"], started=started, seconds_before=seconds_before), grids]
    if keras.backend.backend() == "tensorflow":
        common.append(TensorBoardLogger(os.path.join(out_dir, "tensorboard"), seed=seed))
    else:
        log(
            f"note: TensorBoard logs need the TensorFlow backend (this is {keras.backend.backend()}); "
            "history.csv and curves.png have the same figures."
        )
    if verbose:
        common.append(StepProgress(steps, steps_per_epoch))
    history: dict = {}
    try:
        for initial_epoch, epochs, epoch_steps in _fit_plan(done, steps, steps_per_epoch):
            step = int(gan.step.numpy())
            # The warm-up is counted from the run's start; a resumed run
            # only finishes what is left of it.
            warmup = preset.warmup_steps if step == 0 else max(0, int(gan.generator_start.numpy()) - step)
            first = [DiscriminatorWarmup(warmup)] + ([ContinueEpoch()] if step % steps_per_epoch else [])
            ds = make_dataset(images, batch_size=preset.batch_size, seed=seed, skip_batches=step, labels=labels)
            fitted = gan.fit(
                ds,
                epochs=epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=epoch_steps,
                callbacks=first + common,
                verbose=0,
                shuffle=False,
            )
            for key, values in fitted.history.items():
                history.setdefault(key, []).extend(values)
            if gan.stop_training:
                break
    except KeyboardInterrupt:
        checkpoint.save()
        log(
            f"interrupted at step {int(gan.step.numpy())}; checkpoint at step {checkpoint.saved_step} in "
            f"{files['gan']}: run the same command again to resume."
        )
        raise
    if nonfinite.message:
        kept = (
            f"the last good checkpoint (step {checkpoint.saved_step}) is kept in {files['gan']}"
            if checkpoint.saved_step is not None or resuming
            else "no checkpoint was saved"
        )
        raise TrainingError(
            f"{nonfinite.message} Nothing was overwritten: {kept}; grids so far are in {grids.directory}."
        )
    gan.calibrate_batchnorm()
    checkpoint.save()
    reached = int(gan.step.numpy())
    quality = _final_quality(files["history"], reached)
    if quality:
        quality = {"n": int(quality_n), "step": reached, **quality}
    record = generator_metadata(
        gan,
        preset,
        steps=reached,
        seed=seed,
        data=data,
        train_images=len(images),
        wall_s=seconds_before + (time.monotonic() - started),
        command=command,
        quality=quality or None,
    )
    save_generator(gan.sampler, files["generator"], metadata=record)
    if gan.num_classes is None:
        save_grid(gan.generate(GRID_DIGITS, seed=seed), files["samples"])
    else:  # one row per digit
        n = GRID_COLS_PER_DIGIT * gan.num_classes
        save_grid(
            gan.generate(n, seed=seed, labels=balanced_labels(n, gan.num_classes, per=GRID_COLS_PER_DIGIT)),
            files["samples"],
            ncols=GRID_COLS_PER_DIGIT,
        )
    plot_history(files["history"], files["curves"])
    make_gif(run_frames(grids.directory), files["progress"])
    if monitor is not None and monitor.message:
        raise TrainingError(f"stopped by the health monitor: {monitor.message} Files saved in {out_dir}.")
    out_of_time = clock is not None and clock.stopped_at is not None and reached < steps
    if out_of_time:
        log(
            f"the {minutes:g}-minute budget ran out at step {reached} of {steps}; its files are saved, and the same "
            "command continues the run."
        )
    return RunResult(
        gan=gan,
        out_dir=out_dir,
        steps=reached,
        files=files,
        history=history,
        resumed_from=done if resuming else None,
        out_of_time=out_of_time,
    )

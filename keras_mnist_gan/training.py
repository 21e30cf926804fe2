"""One training run: data -> tf.data -> GAN.fit -> .keras files and pictures.

This is what ``keras-mnist-gan train`` runs; call it from Python the same way.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field

import keras

from .callbacks import (CalibrateBatchNorm, Checkpoint, DiscriminatorWarmup, HistoryCSV, QualityMetrics, SampleGrid,
                        StopAtStep, StopOnNonFinite)
from .data import MnistData, load_mnist, validate_images
from .gan import GAN
from .images import save_grid
from .models import build_discriminator, build_generator
from .pipeline import make_dataset
from .presets import DEFAULT_PRESET, PRESETS, Preset
from .health import GameHealth
from .saving import load_gan, save_model_atomic
from .visuals import TensorBoardLogger, make_gif, plot_history, run_frames


class TrainingError(RuntimeError):
    """Training could not go on (for example a loss became NaN)."""


@dataclass
class RunResult:
    gan: GAN
    out_dir: str
    steps: int
    files: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    resumed_from: int | None = None  # the checkpoint's step, if the run was resumed


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


RUN_FILES = ("gan.keras", "generator.keras", "history.csv", "samples.png", "curves.png", "progress.gif")
RUN_DIRS = ("samples", "tensorboard")


def _run_identity(preset: Preset, seed: int, data: MnistData, n_images: int) -> dict:
    """What makes two invocations the same run (the step budget may grow)."""
    return {"preset": preset.as_dict(), "seed": int(seed), "data": data.source, "train_images": int(n_images)}


def _prepare_run_dir(out_dir: str, identity: dict, resume: bool | None) -> bool:
    """Decide whether to resume the run in ``out_dir``; clear it for a
    restart. Raises `TrainingError` when it holds a different run."""
    cfg_path = os.path.join(out_dir, "config.json")
    ours = [n for n in RUN_FILES + RUN_DIRS + ("config.json",) if os.path.exists(os.path.join(out_dir, n))]
    checkpoint = os.path.join(out_dir, "gan.keras")
    if resume is False:
        for name in ours:
            path = os.path.join(out_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return False
    if not ours:
        if resume:
            raise TrainingError(f"{out_dir}: there is no run to resume (no gan.keras); leave out --resume to start one.")
        return False
    hint = "use --restart to replace it (its files are deleted) or choose another --out."
    if not os.path.isfile(cfg_path):
        raise TrainingError(f"{out_dir} holds files of a run this version did not write ({', '.join(ours)}); {hint}")
    try:
        with open(cfg_path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise TrainingError(f"{cfg_path}: unreadable ({e}); {hint}") from None
    # A setting added to Preset after the run was written is absent from
    # its config.json; that run trained with the setting's default.
    if not isinstance(saved, dict):
        raise TrainingError(f"{cfg_path}: not a run's settings; {hint}")
    saved = {**saved, "preset": {**asdict(Preset()), **saved.get("preset", {})}}
    there, now = _flat(saved), _flat(identity)
    differ = [k for k in now if there.get(k) != now[k]]
    if differ:
        detail = "; ".join(f"{k} {there.get(k)!r} there, {now[k]!r} now" for k in differ)
        raise TrainingError(f"{out_dir} holds a different run ({detail}); {hint}")
    if not os.path.isfile(checkpoint):
        if resume:
            raise TrainingError(f"{out_dir}: the run has no checkpoint (gan.keras) yet; use --restart.")
        return False
    return True


def _flat(settings: dict) -> dict:
    """{"preset": {"lr_d": ...}} -> {"lr_d": ...}: name the setting that differs."""
    out = {}
    for key, value in settings.items():
        if key in ("steps", "steps_per_epoch"):
            continue  # the budget may grow: that is how a run is extended
        out.update(value if isinstance(value, dict) else {key: value})
    return out


def _forget_after(out_dir: str, step: int) -> None:
    """Drop history rows and grids later than the checkpoint: the resumed run
    redoes those steps and writes them again."""
    history = os.path.join(out_dir, "history.csv")
    if os.path.isfile(history):
        with open(history) as f:
            lines = f.read().splitlines()
        keep = lines[:1] + [ln for ln in lines[1:] if ln and int(float(ln.split(",")[0])) <= step]
        with open(history, "w") as f:
            f.write("\n".join(keep) + "\n")
    for frame in run_frames(os.path.join(out_dir, "samples")):
        if int(os.path.basename(frame)[5:-4]) > step:
            os.remove(frame)
    for stale in glob.glob(os.path.join(out_dir, ".*.tmp-*")):
        os.remove(stale)  # a save that was killed half-way


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
    resume: bool | None = None,
    checkpoint_every: int = 500,
    health: bool = True,
    stop_on_failure: bool = False,
    log=print,
) -> RunResult:
    """Train a GAN and write its files into ``out_dir``; resume a run there.

    ``steps`` counts every training step, the discriminator's warm-up
    included; ``epochs`` counts passes over the training digits. Give one
    (default: 1 epoch). A Keras "epoch" here is ``steps_per_epoch`` steps
    (default: one pass over the data, or all the steps if fewer); a grid of
    digits from fixed noise, a history row and TensorBoard logs are written
    after each.

    The whole GAN is checkpointed to ``gan.keras`` every
    ``checkpoint_every`` steps, at the end, and on Ctrl-C. When ``out_dir``
    already holds this run (same preset, seed and data), it continues from
    that checkpoint (``resume=None``, the default, or True); ``resume=False``
    deletes the old run's files and starts over. A different run there is
    an error, never overwritten.

    With ``quality_n`` > 0 and the shipped evaluator present, each epoch
    also logs ``val_fid``, ``val_score`` and ``val_class_entropy`` on that
    many digits against the test digits. With ``health``, `GameHealth` warns
    when D is winning or G collapses (and stops the run if
    ``stop_on_failure``).

    Files: ``gan.keras`` (the whole GAN, resumable), ``generator.keras`` (for
    sampling), ``history.csv``, ``samples/step_*.png``, ``samples.png``,
    ``curves.png``, ``progress.gif``, ``tensorboard/``, ``config.json``.
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
    identity = _run_identity(preset, seed, data, len(images))
    resuming = _prepare_run_dir(out_dir, identity, resume)
    files = {name.split(".")[0]: os.path.join(out_dir, name) for name in RUN_FILES}
    files["config"] = os.path.join(out_dir, "config.json")
    keras.utils.set_random_seed(seed)
    if resuming:
        gan = load_gan(files["gan"])
        if gan.noise_dim != preset.noise_dim:
            raise TrainingError(f"{files['gan']}: its generator takes {gan.noise_dim}-d noise, the preset {preset.noise_dim}-d.")
        done = int(gan.step.numpy())
        _forget_after(out_dir, done)
        log(f"resuming from step {done} ({files['gan']})" + (f"; {steps} steps were asked, nothing left to train"
                                                             if done >= steps else f", training to step {steps}"))
        warmup = max(0, int(gan.generator_start.numpy()) - done)
    else:
        gan = build_gan(preset, seed=seed)
        done, warmup = 0, preset.warmup_steps
    with open(files["config"], "w") as f:
        json.dump({**identity, "steps": steps, "steps_per_epoch": steps_per_epoch}, f, indent=2)

    nonfinite = StopOnNonFinite()
    checkpoint = Checkpoint(files["gan"], checkpoint_every)
    grids = SampleGrid(os.path.join(out_dir, "samples"), n=64, seed=seed)
    callbacks = [DiscriminatorWarmup(warmup), StopAtStep(steps), nonfinite, CalibrateBatchNorm(), checkpoint]
    monitor = None
    if health:
        monitor = GameHealth(images[:512], stop_on_failure=stop_on_failure, seed=seed)
        callbacks.append(monitor)
    if quality_n > 0:
        from .evaluation import EVALUATOR_PATH, Evaluator

        if EVALUATOR_PATH.is_file():
            callbacks.append(QualityMetrics(Evaluator.load(EVALUATOR_PATH), data.x_test, n=quality_n, seed=seed))
    callbacks += [HistoryCSV(files["history"]), grids, TensorBoardLogger(os.path.join(out_dir, "tensorboard"), seed=seed)]
    history = None
    if done < steps:
        ds = make_dataset(images, batch_size=preset.batch_size, seed=seed, skip_batches=done)
        try:
            history = gan.fit(ds, epochs=math.ceil(steps / steps_per_epoch), initial_epoch=done // steps_per_epoch,
                              steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose, shuffle=False)
        except KeyboardInterrupt:
            checkpoint.save()
            log(f"interrupted at step {int(gan.step.numpy())}; checkpoint at step {checkpoint.saved_step} in "
                f"{files['gan']}: run the same command again to resume.")
            raise
    if nonfinite.message:
        kept = (f"the last good checkpoint (step {checkpoint.saved_step}) is kept in {files['gan']}"
                if checkpoint.saved_step is not None or resuming else "no checkpoint was saved")
        raise TrainingError(f"{nonfinite.message} Nothing was overwritten: {kept}; grids so far are in {grids.directory}.")
    gan.calibrate_batchnorm()
    checkpoint.save()
    save_model_atomic(gan.sampler, files["generator"])
    save_grid(gan.generate(64, seed=seed), files["samples"])
    plot_history(files["history"], files["curves"])
    make_gif(run_frames(grids.directory), files["progress"])
    if monitor is not None and monitor.message:
        raise TrainingError(f"stopped by the health monitor: {monitor.message} Files saved in {out_dir}.")
    return RunResult(gan=gan, out_dir=out_dir, steps=int(gan.step.numpy()), files=files,
                     history=history.history if history else {}, resumed_from=done if resuming else None)

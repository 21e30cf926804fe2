"""One training run: data -> batches (PyDataset) -> GAN.fit -> .keras files and pictures.

This is what ``keras-mnist-gan train`` runs; call it from Python the same way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import keras

from .callbacks import (
    CalibrateBatchNorm,
    Checkpoint,
    HistoryCSV,
    QualityMetrics,
    SampleGrid,
    StepProgress,
    StopAfterMinutes,
    StopAtStep,
    StopOnNonFinite,
)
from .data import ENV_VAR, image_folder_of, load_mnist
from .fitting import build_gan, conditional_labels, fit_steps
from .gan import GAN
from .mnist_data import MnistData, num_classes_of_data
from .images import save_grid
from .presets import GRID_COLS_PER_DIGIT, GRID_DIGITS, MIN_FID_DIGITS, Preset
from .health import HEALTH_DIGITS, GameHealth
from .run_config import RunConfig
from .sampling import balanced_labels
from .rundir import RUN_FILES, RunLock, TrainingError, forget_after, prepare, run_frames, write_config
from .modelinfo import final_quality, generator_metadata
from .saving import load_gan, save_generator
from .visuals import TensorBoardLogger, make_gif, plot_history

__all__ = ["RunConfig", "RunResult", "TrainingError", "build_gan", "train"]


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


def _run_identity(preset: Preset, seed: int, data: MnistData, n_images: int, sha256: str | None = None) -> dict:
    """What makes two invocations the same run (the step budget may grow).
    The data is known by its digits' fingerprint (``sha256``, default
    ``data.record``'s), never by the path it was reached by: the same
    digits by another path are the same run, other digits behind the same
    relative path a different one."""
    sha256 = sha256 or data.record["sha256"]
    identity = {"preset": preset.as_dict(), "seed": int(seed), "data": sha256, "train_images": int(n_images)}
    if data.class_names is not None and preset.conditional:  # `rundir.run_class_names` reads them back
        identity["class_names"] = list(data.class_names)
    return identity


def train(
    out_dir: str,
    data: MnistData | str | None = None,
    config: RunConfig | None = None,
    *,
    resume: bool | None = None,
    log=print,
    command: str | None = None,
    **settings,
) -> RunResult:
    """Train a GAN and write its files into ``out_dir``; resume a run there.

    ``config`` (a `RunConfig`) says what the run is; its fields may also be
    given as keyword arguments (``train("run", steps=1000)``), which
    override it. Each Keras "epoch" (``steps_per_epoch`` steps) ends with a
    grid of digits from fixed noise, a history row (``wall_s``: seconds
    since the run began) and TensorBoard logs; the run's end (and every
    ``quality_every`` steps) with ``val_fid``, ``val_score``,
    ``val_accuracy`` and ``val_class_entropy`` on ``quality_n`` digits.

    The whole GAN is checkpointed to ``gan.keras`` every
    ``checkpoint_every`` steps, at the end, on Ctrl-C and when ``minutes``
    run out. When ``out_dir`` holds this run (same preset, seed and data)
    it continues from there (``resume=None`` or True); ``resume=False``
    starts over. A different run there is an error, never overwritten; so
    is a second process training in the same folder.

    Files: ``gan.keras`` (the whole GAN, resumable), ``generator.keras`` (for
    sampling), ``history.csv``, ``samples/step_*.png``, ``samples.png``,
    ``curves.png``, ``progress.gif``, ``tensorboard/``, ``config.json``.
    ``generator.keras`` is made of Keras's own layers (it loads without this
    package) and records the run's settings in its metadata (`modelinfo.generator_metadata`;
    ``keras-mnist-gan info`` prints them), ``command`` among them if given.
    """
    started = time.monotonic()
    config = (config or RunConfig()).with_(**settings)
    _refuse_out_in_data(out_dir, data)
    if not isinstance(data, MnistData):
        data = load_mnist(data)
    images = data.x_train
    notes = list(data.notes)  # said once training starts, not on a run that is already done
    preset, labels = conditional_labels(config.preset, data, len(images), config.conditional, notes.append)
    config = config.with_(preset=preset)
    classes = None if labels is None else num_classes_of_data(data, labels)
    steps = config.total_steps(len(images))
    record = data.record
    os.makedirs(out_dir, exist_ok=True)
    with RunLock(out_dir):
        identity = _run_identity(preset, config.seed, data, len(images), record["sha256"])
        run = _Run(out_dir, config, steps, config.epoch_steps(steps), started, classes, len(images))
        run.resuming = prepare(out_dir, identity, resume)
        keras.utils.set_random_seed(config.seed)
        gan = _start_or_resume(run, log)
        if run.already_done:
            return RunResult(
                gan=gan, out_dir=out_dir, steps=run.done, files=run.files, resumed_from=run.done, already_done=True
            )
        for note in notes:
            log(note)
        if run.resuming:
            log(f"resuming from step {run.done} ({run.files['gan']}), training to step {steps}")
        settings = {**identity, "data_source": record["source"], "steps": steps, "steps_per_epoch": run.steps_per_epoch}
        write_config(out_dir, settings)
        return _fit_run(gan, run, data, images, labels, log, command)


@dataclass
class _Run:
    """One `train` call's run: its folder, settings and where it starts."""

    out_dir: str
    config: RunConfig
    steps: int
    steps_per_epoch: int
    started: float
    num_classes: int | None  # the conditional GAN's classes (None: unconditional)
    train_images: int = 0
    resuming: bool = False
    done: int = 0
    seconds_before: float = 0.0
    already_done: bool = False

    @property
    def files(self) -> dict:
        files = {name.split(".")[0]: os.path.join(self.out_dir, name) for name in RUN_FILES}
        return {**files, "config": os.path.join(self.out_dir, "config.json")}


def _start_or_resume(run: _Run, log) -> GAN:
    """A new GAN, or the checkpoint's when resuming (``run.done`` its step)."""
    preset = run.config.preset
    if not run.resuming:
        _check_warmup(run, preset.warmup_steps)
        return build_gan(preset, seed=run.config.seed, num_classes=run.num_classes)
    path = run.files["gan"]
    gan = load_gan(path)
    if gan.noise_dim != preset.noise_dim:
        raise TrainingError(f"{path}: its generator takes {gan.noise_dim}-d noise, the preset {preset.noise_dim}-d.")
    if gan.num_classes != run.num_classes:
        raise TrainingError(
            f"{path}: its GAN has {gan.num_classes or 'no'} classes, the data {run.num_classes or 'none'}."
        )
    run.done = int(gan.step.numpy())
    if run.done >= run.steps:
        log(f"run is already at step {run.done} of {run.steps}; raise --steps to train on")
        run.already_done = True
        return gan
    _check_warmup(run, int(gan.generator_start.numpy()))
    run.seconds_before = forget_after(run.out_dir, run.done)
    return gan


def _refuse_out_in_data(out_dir: str, data: MnistData | str | None) -> None:
    """The run's files (its grids are PNGs) must not land in the folder of
    images it trains on: the next run would read them as more images, or
    a class of their own. Refused before anything is written."""
    if isinstance(data, MnistData):  # read from a folder of images, if its labels came from class folders
        path = data.source if data.labels_from == "no class subfolders" else None
    else:
        path = data if data is not None else (os.environ.get(ENV_VAR) or None)
    folder = image_folder_of(path)
    if folder is None:
        return
    out, inside = os.path.realpath(out_dir), os.path.realpath(folder)
    if os.path.commonpath([out, inside]) == inside:
        raise TrainingError(
            f"--out {out_dir} lies inside the data folder {os.path.join(folder, '')}; its files would be read as "
            "images: choose an --out outside it."
        )


def _check_warmup(run: _Run, generator_start: int) -> None:
    """A run must end after the discriminator's warm-up; said in the unit the
    run was given in (epochs or steps)."""
    steps, epochs = run.steps, run.config.epochs
    if steps > generator_start:
        return
    if epochs and run.config.steps is None:
        passes = "s (passes" if epochs > 1 else " (a pass"
        raise TrainingError(
            f"{epochs} epoch{passes} over the {run.train_images:,} training digits) "
            f"{'are' if epochs > 1 else 'is'} {steps} steps of {run.config.preset.batch_size} digits, inside the "
            f"{generator_start}-step warm-up of the discriminator, so the generator would never train; give at "
            f"least {generator_start // (steps // epochs) + 1} epochs (or --steps), or a shorter warm-up "
            "(--warmup-steps)."
        )
    raise TrainingError(
        f"{steps} steps end inside the discriminator's warm-up (the generator starts training after step "
        f"{generator_start}), so the generator would never train; give more steps than that "
        "(--steps) or a shorter warm-up (--warmup-steps)."
    )


@dataclass
class RunCallbacks:
    """A run's callbacks, the ones read after `fit` by name."""

    nonfinite: StopOnNonFinite
    quality: QualityMetrics | None = None
    checkpoint: Checkpoint | None = None
    clock: StopAfterMinutes | None = None
    monitor: GameHealth | None = None
    grids: SampleGrid | None = None
    all: list = field(default_factory=list)


def run_callbacks(config: RunConfig, steps: int, data: MnistData, evaluator=None, run: _Run | None = None, log=print):
    """The callbacks of a run to ``steps`` steps: the same for `train` and for
    each tuning trial, which has no folder (``run`` None): no checkpoints,
    grids, history or progress."""
    cb = RunCallbacks(nonfinite=StopOnNonFinite())
    cb.all = [StopAtStep(steps), cb.nonfinite, CalibrateBatchNorm()]
    if run is not None:
        cb.checkpoint = Checkpoint(run.files["gan"], config.checkpoint_every)
        cb.all.append(cb.checkpoint)
    if config.minutes:
        cb.clock = StopAfterMinutes(config.minutes, started=run.started if run else None)
        cb.all.append(cb.clock)
    if config.health:
        cb.monitor = GameHealth(
            data.x_train[:HEALTH_DIGITS],
            stop_on_failure=config.stop_on_failure,
            seed=config.seed,
            real_labels=None if data.y_train is None else data.y_train[:HEALTH_DIGITS],
        )
        cb.all.append(cb.monitor)
    cb.quality = _quality_metrics(config, data, evaluator, log)
    if cb.quality is not None:
        cb.all.append(cb.quality)
    if run is not None:
        cb.grids = SampleGrid(os.path.join(run.out_dir, "samples"), n=GRID_DIGITS, seed=config.seed)
        cb.all += [HistoryCSV(run.files["history"], started=run.started, seconds_before=run.seconds_before), cb.grids]
        cb.all += _tensorboard(run.out_dir, config.seed, log)
        if config.verbose:
            cb.all.append(StepProgress(steps, run.steps_per_epoch))
    return cb


def _quality_metrics(config: RunConfig, data: MnistData, evaluator, log) -> QualityMetrics | None:
    if config.quality_n <= 0:
        return None
    from .evaluation import EVALUATOR_PATH, Evaluator

    if len(data.x_test) < MIN_FID_DIGITS:
        log(
            f"note: {data.source} holds {len(data.x_test)} test digits, fewer than the {MIN_FID_DIGITS} a Fréchet "
            "distance needs: no quality figures in this run."
        )
        return None
    if evaluator is None:
        if not EVALUATOR_PATH.is_file():
            return None
        evaluator = Evaluator.load(EVALUATOR_PATH)
    return QualityMetrics(evaluator, data.x_test, n=config.quality_n, seed=config.seed, every=config.quality_every)


def _tensorboard(out_dir: str, seed: int, log) -> list:
    if keras.backend.backend() == "tensorflow":
        return [TensorBoardLogger(os.path.join(out_dir, "tensorboard"), seed=seed)]
    log(
        f"note: TensorBoard logs need the TensorFlow backend (this is {keras.backend.backend()}); "
        "history.csv and curves.png have the same figures."
    )
    return []


def _fit_run(gan: GAN, run: _Run, data: MnistData, images, labels, log, command: str | None) -> RunResult:
    cb = run_callbacks(run.config, run.steps, data, run=run, log=log)
    try:
        history = fit_steps(gan, run.config, images, labels, run.steps, run.steps_per_epoch, cb.all)
    except KeyboardInterrupt:
        cb.checkpoint.save()
        log(
            f"interrupted at step {int(gan.step.numpy())}; checkpoint at step {cb.checkpoint.saved_step} in "
            f"{run.files['gan']}: run the same command again to resume."
        )
        raise
    if cb.nonfinite.message:
        kept = (
            f"the last good checkpoint (step {cb.checkpoint.saved_step}) is kept in {run.files['gan']}"
            if cb.checkpoint.saved_step is not None or run.resuming
            else "no checkpoint was saved"
        )
        raise TrainingError(
            f"{cb.nonfinite.message} Nothing was overwritten: {kept}; grids so far are in {cb.grids.directory}."
        )
    _write_results(gan, run, cb, data, command)
    if cb.monitor is not None and cb.monitor.message:
        raise TrainingError(f"stopped by the health monitor: {cb.monitor.message} Files saved in {run.out_dir}.")
    reached = int(gan.step.numpy())
    out_of_time = cb.clock is not None and cb.clock.stopped_at is not None and reached < run.steps
    if out_of_time:
        log(
            f"the {run.config.minutes:g}-minute budget ran out at step {reached} of {run.steps}; its files are saved, "
            "and the same command continues the run."
        )
    return RunResult(
        gan=gan,
        out_dir=run.out_dir,
        steps=reached,
        files=run.files,
        history=history,
        resumed_from=run.done if run.resuming else None,
        out_of_time=out_of_time,
    )


def _write_results(gan: GAN, run: _Run, cb: RunCallbacks, data: MnistData, command: str | None) -> None:
    """The run's end: the checkpoint, the sampling generator (recording its
    training) and the pictures."""
    files, seed = run.files, run.config.seed
    gan.calibrate_batchnorm()
    cb.checkpoint.save()
    reached = int(gan.step.numpy())
    quality = final_quality(files["history"], reached)
    record = generator_metadata(
        gan,
        run.config.preset,
        steps=reached,
        seed=seed,
        data=data,
        train_images=len(data.x_train),
        wall_s=run.seconds_before + (time.monotonic() - run.started),
        command=command,
        quality={"n": run.config.quality_n, "step": reached, **quality} if quality else None,
    )
    save_generator(gan.sampler, files["generator"], metadata=record)
    if gan.num_classes is None:
        save_grid(gan.generate(GRID_DIGITS, seed=seed), files["samples"])
    else:  # one row per digit
        n = GRID_COLS_PER_DIGIT * gan.num_classes
        labels = balanced_labels(n, gan.num_classes, per=GRID_COLS_PER_DIGIT)
        save_grid(gan.generate(n, seed=seed, labels=labels), files["samples"], ncols=GRID_COLS_PER_DIGIT)
    plot_history(files["history"], files["curves"])
    make_gif(run_frames(cb.grids.directory), files["progress"])

"""Searching the learning rates with keras-tuner, judged by the digits.

GAN losses say little about how good the digits are (a generator can get
better while its loss rises), so every trial ends with the evaluator's FID
of its digits (``val_fid``, lower is better) and keras-tuner minimises that.

The split follows keras-tuner's own: `SearchSpace` declares the
hyperparameters, `GANHyperModel` builds and trains one GAN per trial (both
in `hypermodel`), and `run_search` picks a tuner (`tuners`), runs it (alone,
or as the chief or a worker of a distributed search: keras-tuner reads
``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and
``KERASTUNER_ORACLE_PORT``) and writes the report (`search_report`):
``trials.csv``, ``trials.md``, ``objective.png``, the best GAN and a grid of
its digits.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import keras_tuner as kt

from .data import load_mnist
from .fitting import conditional_labels
from .hypermodel import GANHyperModel, SearchError, SearchSpace
from .mnist_data import MnistData, num_classes_of_data
from .presets import (
    DEFAULT_HYPERBAND_EPOCHS,
    DEFAULT_MAX_TRIALS,
    DEFAULT_PRESET,
    DEFAULT_PROJECT_NAME,
    DEFAULT_QUALITY_N,
    DEFAULT_SEED,
    DEFAULT_STEPS_PER_TRIAL,
    DEFAULT_TUNER,
    Preset,
)
from .run_config import RunConfig
from .search_report import SearchResult, write_report
from .tuners import OBJECTIVE, TUNERS, _distributed_role, _make_tuner

SEARCH_CONFIG = "search_config.json"


def _check_project_name(name: str) -> None:
    """The project is a folder inside ``directory``: a path as its name could
    reach outside it ('../victim', '/home/me'), where --overwrite would
    delete files and the search be written."""
    if name in ("", ".", "..") or "/" in name or (os.altsep and os.altsep in name) or os.sep in name or "\0" in name:
        raise SearchError(
            f"--project-name {name!r}: give a plain folder name (no '/', not '.' or '..'); the search "
            "is written in --directory/NAME."
        )


def _check_project(project_dir: Path, settings: dict, overwrite: bool) -> bool:
    """Whether ``project_dir`` holds this very search (to resume). Raises if
    it holds another search (unless ``overwrite``) or something that is not
    a search at all: --overwrite discards a search, never other files."""
    if not project_dir.exists() and not project_dir.is_symlink():
        return False
    if project_dir.is_symlink() or not project_dir.is_dir():
        what = "is a symbolic link" if project_dir.is_symlink() else "exists and is not a directory"
        raise SearchError(f"{project_dir} {what}; choose another --directory/--project-name.")
    cfg = project_dir / SEARCH_CONFIG
    if not cfg.is_file():
        if any(project_dir.iterdir()):
            fix = "--overwrite discards only a search, so " if overwrite else ""
            raise SearchError(
                f"{project_dir} holds files that are not a keras-mnist-gan search (no {SEARCH_CONFIG}); "
                f"{fix}choose another --directory/--project-name."
            )
        return False
    if overwrite:
        return False
    try:
        saved = json.loads(cfg.read_text())
    except (OSError, ValueError) as e:
        raise SearchError(f"{cfg}: unreadable ({e}); --overwrite to start afresh.") from None
    # max_trials is only where to stop: raising it extends the same search.
    differ = {k: (saved.get(k), v) for k, v in settings.items() if k != "max_trials" and saved.get(k) != v}
    if differ:
        what = ", ".join(f"{k} {a!r} there vs {b!r} now" for k, (a, b) in differ.items())
        raise SearchError(
            f"{project_dir} holds a different search ({what}); use another "
            "--project-name, the same settings to resume it, or --overwrite."
        )
    return True


def run_search(
    directory: str,
    project_name: str = DEFAULT_PROJECT_NAME,
    data: MnistData | str | None = None,
    tuner: str = DEFAULT_TUNER,
    max_trials: int = DEFAULT_MAX_TRIALS,
    steps_per_trial: int = DEFAULT_STEPS_PER_TRIAL,
    space: SearchSpace = SearchSpace(),
    preset: Preset | str = DEFAULT_PRESET,
    quality_n: int = DEFAULT_QUALITY_N,
    seed: int = DEFAULT_SEED,
    overwrite: bool = False,
    hyperband_epochs: int = DEFAULT_HYPERBAND_EPOCHS,
    reference: tuple[float, float] | None = None,
    conditional: bool | None = None,
    log=print,
) -> SearchResult:
    """Run (or resume) a search and write its report into the project folder.

    Rerun with the same arguments, finished trials are kept and only the
    missing ones run. ``reference=(lr_d, lr_g)`` also trains those fixed
    rates at the same budget, reported beside the trials. ``conditional``:
    as for `training.train`. Under keras-tuner's distributed mode the chief serves
    the oracle and writes the report; workers only run trials.
    """
    _check_search(tuner, project_name, max_trials, steps_per_trial, preset)
    if not isinstance(data, MnistData):
        data = load_mnist(data)
    for note in data.notes:
        log(note)
    trial, labels = _trial_config(
        data, preset, steps_per_trial, quality_n, seed, conditional, tuner, hyperband_epochs, log
    )
    project_dir = Path(directory) / project_name
    settings = _search_settings(tuner, max_trials, trial, space, hyperband_epochs, len(data.x_train))
    role = _distributed_role()
    is_worker = role.startswith("worker")
    resuming = False if is_worker else _check_project(project_dir, settings, overwrite)
    classes = None if labels is None else num_classes_of_data(data, labels)
    hypermodel = GANHyperModel(space, trial, num_classes=classes)
    tuner_obj = _make_tuner(
        tuner, hypermodel, directory, project_name, overwrite and not is_worker, max_trials, hyperband_epochs, seed
    )
    tuner_obj.log = log
    if not is_worker:
        project_dir.mkdir(parents=True, exist_ok=True)  # keras-tuner's overwrite removes it
        (project_dir / SEARCH_CONFIG).write_text(json.dumps(settings, indent=2))
    if resuming:
        finished = sum(t.status in ("COMPLETED", "FAILED", "INVALID") for t in tuner_obj.oracle.trials.values())
        log(f"resuming the search in {project_dir}: {finished} trial(s) already finished")
    log(
        f"searching with {tuner}{' as ' + role if role else ''}: up to {max_trials} trials of {steps_per_trial} steps "
        f"on {len(data.x_train)} digits; objective {OBJECTIVE} (min) at n={quality_n}"
    )
    tuner_obj.search(data, labels=labels, verbose=0)
    result = SearchResult(project_dir=str(project_dir), trained_here=tuner_obj.trained_here)
    if is_worker:
        return result
    if reference is not None:
        result.reference = reference_trial(hypermodel, project_dir, data, *reference, log=log, labels=labels)
    return write_report(tuner_obj, result, log=log)


def _search_settings(tuner, max_trials, trial: RunConfig, space, hyperband_epochs, train_images) -> dict:
    """What makes two invocations the same search (saved in SEARCH_CONFIG)."""
    return {
        "tuner": tuner,
        "max_trials": int(max_trials),
        "steps_per_trial": int(trial.steps),
        "space": json.loads(json.dumps(asdict(space))),
        "preset": trial.preset.as_dict(),
        "quality_n": int(trial.quality_n),
        "seed": int(trial.seed),
        "hyperband_epochs": int(hyperband_epochs),
        "train_images": train_images,
    }


def _check_search(tuner: str, project_name: str, max_trials: int, steps_per_trial: int, preset) -> None:
    if tuner not in TUNERS:
        raise SearchError(f"unknown tuner {tuner!r}; choose one of {', '.join(TUNERS)}.")
    _check_project_name(project_name)
    if int(max_trials) < 1:
        raise SearchError(f"max_trials must be at least 1; got {max_trials}.")
    if int(steps_per_trial) < 1:
        raise SearchError(f"steps_per_trial must be at least 1; got {steps_per_trial}.")
    warmup = RunConfig(preset=preset).preset.warmup_steps
    if int(steps_per_trial) <= warmup:
        # Every trial would end before the generator trained: all would
        # score the same untrained generator and the "best" be arbitrary.
        raise SearchError(
            f"{steps_per_trial} steps per trial end inside the discriminator's {warmup}-step warm-up, so no "
            "trial's generator would train; give more steps per trial (--steps-per-trial) or a shorter warm-up "
            "(--warmup-steps)."
        )


def _trial_config(data, preset, steps, quality_n, seed, conditional, tuner, hyperband_epochs, log):
    """The run every trial makes (its learning rates aside), and its labels."""
    config = RunConfig(preset=preset, steps=int(steps), quality_n=int(quality_n), seed=int(seed))
    preset, labels = conditional_labels(config.preset, data, len(data.x_train), conditional, log)
    if len(data.x_train) < preset.batch_size:
        raise SearchError(f"the dataset holds {len(data.x_train)} images, fewer than one batch of {preset.batch_size}.")
    epoch = math.ceil(steps / hyperband_epochs) if tuner == "hyperband" else int(steps)
    return config.with_(preset=preset, steps_per_epoch=epoch), labels


def reference_trial(
    hypermodel: GANHyperModel, project_dir: Path, data: MnistData, lr_d: float, lr_g: float, log=print, labels=None
) -> dict:
    """Train the same budget at fixed learning rates (by default the
    original design's) so the search's winner has something to beat. Kept in
    ``reference.json``: a rerun does not train it again."""
    path = project_dir / "reference.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("lr_d") == lr_d and saved.get("lr_g") == lr_g:
            return saved
    hp = kt.HyperParameters()
    hypermodel.space.declare(hp)
    hp.values.update(lr_d=lr_d, ratio=lr_g / lr_d)
    log(f"reference run: lr_D {lr_d:.2e}, lr_G {lr_g:.2e}, same budget")
    figures = hypermodel.fit(hp, hypermodel.build(hp), data, labels=labels)
    row = {
        "trial": "reference",
        "status": "COMPLETED",
        "lr_d": lr_d,
        "lr_g": lr_g,
        "ratio": lr_g / lr_d,
        "beta_1": hp.values.get("beta_1", ""),
        **{k: float(v) for k, v in figures.items()},
    }
    path.write_text(json.dumps(row, indent=2))
    log(f"reference -> val_fid {row['val_fid']:.2f}, score {row['val_score']:.2f}")
    return row

"""Searching the learning rates with keras-tuner, judged by the digits.

GAN losses say little about how good the digits are (a generator can get
better while its loss rises), so every trial ends with the evaluator's FID
of its digits (``val_fid``, lower is better) and keras-tuner minimises that.

The split follows keras-tuner's own: `SearchSpace` declares the
hyperparameters, `GANHyperModel` builds and trains one GAN per trial, and
`run_search` picks a tuner, runs it (alone, or as the chief or a worker of a
distributed search: keras-tuner reads ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``) and writes the
report: ``trials.csv``, ``trials.md``, ``objective.png``, the best GAN and a
grid of its digits.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import keras_tuner as kt

from .data import load_mnist
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
    LR_D_RANGE,
    LR_RATIO_RANGE,
    MIN_FID_DIGITS,
    TUNER_NAMES,
    Preset,
)
from .run_config import RunConfig
from .training import conditional_labels, fit_steps, run_callbacks

OBJECTIVE = "val_fid"
TUNERS = dict(zip(TUNER_NAMES, (kt.RandomSearch, kt.BayesianOptimization, kt.Hyperband)))
SEARCH_CONFIG = "search_config.json"


class SearchError(ValueError):
    """A search cannot start: bad ranges, budgets or directory."""


@dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters a search varies, each on a log scale.

    ``ratio`` is lr_G / lr_D. ``beta_1``: Adam's beta_1 choices for all
    optimizers, or None to keep the preset's.
    """

    lr_d: tuple[float, float] = LR_D_RANGE
    ratio: tuple[float, float] = LR_RATIO_RANGE
    beta_1: tuple[float, ...] | None = None

    def __post_init__(self):
        lo, hi = self.lr_d
        if not 0.0 < lo < hi < 1.0:
            raise SearchError(
                f"the lr_D range must satisfy 0 < min < max < 1; got {lo:g} .. {hi:g} (empty or inverted)."
            )
        lo, hi = self.ratio
        if not 0.0 < lo < hi:
            raise SearchError(
                f"the lr_G/lr_D ratio range must satisfy 0 < min < max; got {lo:g} .. {hi:g} (empty or inverted)."
            )
        if self.beta_1 is not None and (not self.beta_1 or not all(0.0 <= b < 1.0 for b in self.beta_1)):
            raise SearchError(f"beta_1 choices must be in [0, 1); got {self.beta_1}.")

    def declare(self, hp: kt.HyperParameters) -> dict:
        """Declare the hyperparameters on ``hp``; return this trial's values."""
        values = {
            "lr_d": hp.Float("lr_d", *self.lr_d, sampling="log"),
            "ratio": hp.Float("ratio", *self.ratio, sampling="log"),
        }
        if self.beta_1 is not None:
            values["beta_1"] = hp.Choice("beta_1", list(self.beta_1))
        return values


class GANHyperModel(kt.HyperModel):
    """One trial: a GAN trained as ``config`` says (its preset's learning
    rates the trial's), then judged by its digits.

    ``config.steps`` is the trial's budget, the discriminator's warm-up
    included; with Hyperband one of its "epochs" is
    ``config.steps_per_epoch`` steps. ``fit`` returns ``val_fid`` (the
    objective), ``val_score``, ``val_class_entropy``, ``val_rarest_class``
    and ``seconds``.
    """

    def __init__(
        self,
        space: SearchSpace = SearchSpace(),
        config: RunConfig | None = None,
        evaluator=None,
        name: str = "mnist_gan",
        num_classes: int | None = None,
    ):
        """``num_classes``: a conditional preset's classes (None: MNIST's 10)."""
        super().__init__(name=name, tunable=True)
        self.num_classes = num_classes
        self.space = space
        config = config or RunConfig(steps=DEFAULT_STEPS_PER_TRIAL)
        # A trial has no folder and no health monitor; its figure is its end.
        steps = config.steps or DEFAULT_STEPS_PER_TRIAL
        self.config = config.with_(
            steps=steps,
            steps_per_epoch=config.steps_per_epoch or steps,
            health=False,
            verbose=0,
            quality_every=0,
            minutes=None,
        )
        if self.config.quality_n < MIN_FID_DIGITS:
            raise SearchError(
                f"quality_n must be at least {MIN_FID_DIGITS} digits (a Fréchet distance needs a "
                f"covariance of full rank); got {self.config.quality_n}."
            )
        self._evaluator = evaluator

    @property
    def steps(self) -> int:
        return int(self.config.steps)

    @property
    def evaluator(self):
        if self._evaluator is None:
            from .evaluation import Evaluator

            self._evaluator = Evaluator.load()
        return self._evaluator

    def trial_config(self, hp: kt.HyperParameters) -> RunConfig:
        v = self.space.declare(hp)
        preset = self.config.preset.with_(lr_d=v["lr_d"], lr_g=v["lr_d"] * v["ratio"], beta_1=v.get("beta_1"))
        return self.config.with_(preset=preset)

    def build(self, hp: kt.HyperParameters):
        from .training import build_gan

        # Every trial starts from the same weights and noise, so trials
        # differ by their hyperparameters alone.
        keras.utils.set_random_seed(self.config.seed)
        return build_gan(self.trial_config(hp).preset, seed=self.config.seed, num_classes=self.num_classes)

    def fit(self, hp, model, data: MnistData, callbacks=None, epochs: int | None = None, labels=None, **kwargs) -> dict:
        config = self.trial_config(hp)
        steps_per_epoch = config.epoch_steps(self.steps)
        epochs = int(epochs or math.ceil(self.steps / steps_per_epoch))
        total = min(self.steps, epochs * steps_per_epoch)
        cb = run_callbacks(config, total, data, evaluator=self.evaluator)
        start = time.perf_counter()
        fit_steps(model, config, data.x_train, labels, total, steps_per_epoch, cb.all + list(callbacks or []))
        if cb.nonfinite.message:
            raise kt.errors.FailedTrialError(cb.nonfinite.message)
        return {**cb.quality.last, "seconds": time.perf_counter() - start}


# --- the search ---------------------------------------------------------------


@dataclass
class SearchResult:
    project_dir: str
    trials: list = field(default_factory=list)  # one dict per trial, best first
    best: dict | None = None
    files: dict = field(default_factory=dict)
    trained_here: int = 0  # trials this process ran (0 on a rerun of a finished search)
    reference: dict | None = None


def _progress_tuner(base: type) -> type:
    """``base`` (a keras-tuner class) printing one line per finished trial."""

    class Tuner(base):
        log = staticmethod(print)
        trained_here = 0
        _figures: dict = {}

        def run_trial(self, trial, *args, **kwargs):
            self._figures = {}
            results = super().run_trial(trial, *args, **kwargs)
            # A worker's trial object never receives its metrics (the chief's
            # oracle keeps them), so the line below reads what fit returned.
            self._figures = results[-1] if isinstance(results, list) and results else results
            return results

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            self.trained_here += 1
            hp = trial.hyperparameters.values
            f = self._figures if isinstance(self._figures, dict) else {}
            figures = (
                f"val_fid {f['val_fid']:.2f}, score {f['val_score']:.2f}, "
                f"entropy {f['val_class_entropy']:.2f} in {f['seconds']:.0f} s"
                if "val_fid" in f
                else str(trial.status).lower()
            )
            self.log(
                f"trial {trial.trial_id}: lr_D {hp['lr_d']:.2e}, lr_G {hp['lr_d'] * hp['ratio']:.2e} "
                f"(ratio {hp['ratio']:.2f}) -> {figures}"
            )

    Tuner.__name__ = base.__name__
    return Tuner


def trial_row(trial) -> dict:
    hp = trial.hyperparameters.values
    row = {
        "trial": trial.trial_id,
        "status": str(trial.status),
        "lr_d": hp["lr_d"],
        "ratio": hp["ratio"],
        "lr_g": hp["lr_d"] * hp["ratio"],
        "beta_1": hp.get("beta_1", ""),
    }
    for name in ("val_fid", "val_score", "val_class_entropy", "val_rarest_class", "seconds"):
        value = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
        row[name] = float("nan") if value is None else float(value)
    return row


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


def _distributed_role() -> str:
    """ "" alone; "chief" or "worker ID" in keras-tuner's distributed mode, read
    from the variables keras-tuner reads: KERASTUNER_ORACLE_IP and _PORT (the
    chief's oracle) and KERASTUNER_TUNER_ID (an ID holding "chief" serves
    the oracle)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return ""
    missing = [k for k in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if k not in os.environ]
    if missing:
        raise SearchError(
            f"KERASTUNER_ORACLE_IP is set but {' and '.join(missing)} not: a distributed search needs all three."
        )
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    return "chief" if "chief" in tuner_id else f"worker {tuner_id}"


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


def _make_tuner(tuner, hypermodel, directory, project_name, overwrite, max_trials, hyperband_epochs, seed):
    common = dict(
        objective=kt.Objective(OBJECTIVE, "min"),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
    )
    if tuner == "hyperband":
        return _progress_tuner(kt.Hyperband)(hypermodel, max_epochs=hyperband_epochs, factor=3, **common)
    return _progress_tuner(TUNERS[tuner])(hypermodel, max_trials=max_trials, **common)


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


REPORT_COLUMNS = [
    "trial",
    "status",
    "lr_d",
    "lr_g",
    "ratio",
    "beta_1",
    "val_fid",
    "val_score",
    "val_class_entropy",
    "val_rarest_class",
    "seconds",
]


def write_report(tuner, result: SearchResult, log=print) -> SearchResult:
    """trials.csv / trials.md / objective.png, the best GAN and its digits."""
    project_dir = Path(result.project_dir)
    trials = [trial_row(t) for t in tuner.oracle.trials.values()]
    done = [r for r in trials if r["status"] == "COMPLETED" and math.isfinite(r["val_fid"])]
    done.sort(key=lambda r: r["val_fid"])
    result.trials = done + [r for r in trials if r not in done]
    files = {
        "csv": project_dir / "trials.csv",
        "markdown": project_dir / "trials.md",
        "plot": project_dir / "objective.png",
    }
    listed = result.trials + ([result.reference] if result.reference else [])
    with open(files["csv"], "w", newline="") as f:
        w = csv.DictWriter(f, REPORT_COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(listed)
    files["markdown"].write_text(markdown_table(listed, REPORT_COLUMNS))
    plot_objective(result.trials, files["plot"], reference=result.reference)
    if done:
        result.best = done[0]
        files.update(_save_best(tuner, result.best, project_dir, log))
    result.files = {k: str(v) for k, v in files.items()}
    log("wrote " + ", ".join(result.files.values()))
    return result


def _save_best(tuner, b: dict, project_dir: Path, log) -> dict:
    """The best trial's GAN, its generator (with its tuning record) and digits."""
    from .images import save_grid
    from .saving import save_generator, save_model_atomic

    best_trial = tuner.oracle.get_trial(b["trial"])
    gan = tuner.load_model(best_trial)
    gan.calibrate_batchnorm()
    files = {"best_gan": Path(save_model_atomic(gan, project_dir / "best_gan.keras"))}
    record = {
        "draws": "28x28 MNIST-like digits, pixels in [0, 1]"
        + (f"; class-conditional ({gan.num_classes} classes)" if gan.num_classes else "; unconditional"),
        "tuning": {
            k: b[k]
            for k in ("trial", "lr_d", "lr_g", "ratio", "beta_1", "val_fid", "val_score", "seconds")
            if isinstance(b.get(k), (int, float, str)) and (not isinstance(b[k], float) or math.isfinite(b[k]))
        },
        "steps": int(gan.step.numpy()),
    }
    files["best_generator"] = Path(save_generator(gan.sampler, project_dir / "best_generator.keras", metadata=record))
    files["best_samples"] = Path(save_grid(gan.generate(100, seed=0), project_dir / "best_samples.png"))
    log(
        f"best: trial {b['trial']}, lr_D {b['lr_d']:.2e}, lr_G {b['lr_g']:.2e} (ratio {b['ratio']:.2f}): "
        f"val_fid {b['val_fid']:.2f}, score {b['val_score']:.2f}"
    )
    return files


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return (
                ""
                if math.isnan(v)
                else (f"{v:.2e}" if 0 < abs(v) < 1e-2 else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
            )
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot_objective(rows: list[dict], path, reference: dict | None = None) -> str:
    """Scatter of val_fid over (lr_D, lr_G/lr_D), both log scale, with the
    seed and stable presets' learning rates marked for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["status"] == "COMPLETED" and math.isfinite(r["val_fid"])]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
    if done:
        sc = ax.scatter(
            [r["lr_d"] for r in done],
            [r["ratio"] for r in done],
            c=[r["val_fid"] for r in done],
            cmap="viridis_r",
            s=70,
            edgecolors="black",
            linewidths=0.5,
        )
        fig.colorbar(sc, ax=ax, label="val_fid (lower is better)")
        best = done[0]
        ax.scatter(
            [best["lr_d"]],
            [best["ratio"]],
            marker="*",
            s=320,
            facecolors="none",
            edgecolors="red",
            linewidths=1.5,
            label=f"best: FID {best['val_fid']:.1f}",
        )
        for r in done:
            ax.annotate(str(r["trial"]), (r["lr_d"], r["ratio"]), fontsize=6, xytext=(4, 4), textcoords="offset points")
    failed = [r for r in rows if r not in done]
    if failed:
        ax.scatter([r["lr_d"] for r in failed], [r["ratio"] for r in failed], marker="x", c="grey", label="failed")
    if reference:
        ax.scatter(
            [reference["lr_d"]],
            [reference["ratio"]],
            marker="P",
            s=110,
            c="tab:orange",
            edgecolors="black",
            label=f"reference: FID {reference['val_fid']:.1f}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("lr_D")
    ax.set_ylabel("lr_G / lr_D")
    ax.set_title("Search: digit quality by learning rates")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)

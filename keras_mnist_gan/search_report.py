"""A search's report: trials.csv, trials.md, objective.png, the best GAN and a grid of its digits."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SearchResult:
    project_dir: str
    trials: list = field(default_factory=list)  # one dict per trial, best first
    best: dict | None = None
    files: dict = field(default_factory=dict)
    trained_here: int = 0  # trials this process ran (0 on a rerun of a finished search)
    reference: dict | None = None


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

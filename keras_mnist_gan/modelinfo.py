"""``keras-mnist-gan info MODEL``: what a .keras file holds and what it
records of its training (its metadata.json, `saving.read_metadata`)."""

from __future__ import annotations

import math
import os

import keras

from .mnist_data import MnistData
from .presets import Preset, closest_preset
from .saving import METADATA_KEY, ModelFileError, _load, read_metadata

# How the figures of an evaluation are named, in the order printed.
_FIGURES = [
    ("fid", "FID (lower is better)", "{:.3f}"),
    ("mnist_score", "MNIST score (max 10)", "{:.3f}"),
    ("within_class_diversity", "within-class diversity (real digits 1)", "{:.3f}"),
    ("class_entropy_bits", "class entropy, bits (max 3.32)", "{:.3f}"),
    ("rarest_class_share", "rarest class share", "{:.4f}"),
    ("mean_confidence", "mean confidence", "{:.4f}"),
    ("memorised_share", "memorised share", "{:.4f}"),
    ("accuracy", "recognised as the digit asked for", "{:.4f}"),
]
_QUALITY = [
    ("val_fid", "FID", "{:.2f}"),
    ("val_score", "MNIST score", "{:.2f}"),
    ("val_diversity", "within-class diversity (real digits 1)", "{:.2f}"),
    ("val_class_entropy", "class entropy, bits", "{:.3f}"),
    ("val_rarest_class", "rarest class share", "{:.3f}"),
    ("val_accuracy", "recognised as the digit asked for", "{:.3f}"),
]


def generator_metadata(
    gan: keras.Model,
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


def final_quality(history_csv: str, step: int) -> dict:
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


def _layers_within(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _layers_within(layer)


def _describe(model: keras.Model) -> list[str]:
    from .gan import GAN
    from .models import noise_dim_of, num_classes_of

    lines = []
    if isinstance(model, GAN):
        step = int(model.step.numpy())
        kind = f"conditional ({model.num_classes} classes)" if model.num_classes else "unconditional"
        lines.append(f"model: a whole GAN ({kind}, {model.noise_dim}-d noise), checkpoint at step {step:,}")
        inner = model.sampler
    else:
        inner = model
        try:
            shapes = (tuple(model.input_shape), tuple(model.output_shape))
        except Exception:
            shapes = None
        if shapes and shapes[1][1:] == (28, 28, 1):
            classes = num_classes_of(model)
            noise = noise_dim_of(model)
            inputs = ", ".join(f"{t.name} {tuple(t.shape)[1:]}" for t in model.inputs)
            kind = f"class-conditional generator ({classes} classes)" if classes else "unconditional generator"
            lines.append(f"model: {kind}: {noise}-d noise -> 28x28x1 digits (inputs: {inputs})")
        else:
            inputs, outputs = shapes or ("?", "?")
            lines.append(f"model: {type(model).__name__} {inputs} -> {outputs}")
    ours = sorted({type(x).__name__ for x in _layers_within(inner) if type(x).__module__.startswith("keras_mnist_gan")})
    lines.append(
        "layers: "
        + (f"{', '.join(ours)} of keras_mnist_gan (loads with the package only)" if ours else "Keras's own only")
    )
    lines.append(f"parameters: {model.count_params():,}")
    return lines


def _settings(settings: dict) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in settings.items())


def _figures(figures: dict, indent: str = "    ") -> list[str]:
    lines = []
    floor = figures.get("real_floor") or {}
    for key, label, fmt in _FIGURES:
        if isinstance(figures.get(key), (int, float)):
            extra = f" (real-data floor {fmt.format(floor[key])})" if isinstance(floor.get(key), (int, float)) else ""
            lines.append(f"{indent}{label}: {fmt.format(figures[key])}{extra}")
    for key, label in (("class_share", "class shares"), ("accuracy_per_class", "recognised, per digit")):
        values = figures.get(key)
        if isinstance(values, list) and values:
            lines.append(f"{indent}{label}: " + " ".join(f"{i}:{v:.3f}" for i, v in enumerate(values)))
    return lines


def _training_lines(record: dict) -> list[str]:
    """The "training:" part of `model_info`, from a file's training record."""
    lines = []
    lines.append("training:")
    for key in ("draws", "weights"):
        if record.get(key):
            lines.append(f"  {key}: {record[key]}")
    simple = [
        ("steps", "steps"),
        ("seed", "seed"),
        ("backend", "trained on backend"),
        ("package_version", "keras-mnist-gan version"),
    ]
    if record.get("preset"):
        changes = record.get("preset_changes") or {}
        lines.append(f"  preset: {record['preset']}" + (f", changed: {_settings(changes)}" if changes else ""))
    if isinstance(record.get("preset_settings"), dict):
        lines.append(f"  settings: {_settings(record['preset_settings'])}")
    for key, label in simple:
        if record.get(key) is not None:
            value = record[key]
            lines.append(f"  {label}: {value:,}" if isinstance(value, int) else f"  {label}: {value}")
    data = record.get("data")
    if isinstance(data, dict) and data.get("source"):
        n = data.get("train_images")
        lines.append(
            f"  data: {data['source']}"
            + (f" ({n:,} training digits{', with labels' if data.get('labels') else ''})" if isinstance(n, int) else "")
        )
        if data.get("description"):
            lines.append(f"    ({data['description']})")
    elif isinstance(data, str):
        lines.append(f"  data: {data}")
    if isinstance(record.get("wall_s"), (int, float)):
        lines.append(f"  wall time: {record['wall_s']:,.0f} s ({record['wall_s'] / 60:.1f} min)")
    if record.get("wall_note"):
        lines.append(f"    ({record['wall_note']})")
    if record.get("command"):
        lines.append(f"  command: {record['command']}")
    if record.get("command_note"):
        lines.append(f"    ({record['command_note']})")
    if record.get("resaved"):
        lines.append(f"  re-saved: {record['resaved']}")
    if isinstance(record.get("tuning"), dict):
        lines.append(f"  best tuning trial: {_settings(record['tuning'])}")
    quality = record.get("quality_at_end")
    if isinstance(quality, dict):
        figures = [f"{label} {fmt.format(quality[k])}" for k, label, fmt in _QUALITY if k in quality]
        where = f" (n={quality['n']:,}" if isinstance(quality.get("n"), int) else ""
        if where and isinstance(quality.get("step"), int):
            where += f", step {quality['step']:,}"
        where += ")" if where else ""
        lines.append(f"  quality at the end of training{where}: " + ", ".join(figures))
    return lines


def model_info(path: str | os.PathLike) -> str:
    """The text ``keras-mnist-gan info`` prints for ``path``; raises
    `ModelFileError` for a missing, damaged or non-model file."""
    metadata = read_metadata(path)  # says what is wrong with a file that is no model, before Keras reads it
    model = _load(path, "model")
    lines = [str(path)] + ["  " + line for line in _describe(model)]
    if metadata.get("keras_version") or metadata.get("date_saved"):
        lines.append(f"  saved: {metadata.get('date_saved', '?')} by Keras {metadata.get('keras_version', '?')}")
    record = metadata.get(METADATA_KEY)
    if not isinstance(record, dict):
        lines.append(
            "training: not recorded in this file (generator files record it; a checkpoint's run has it in "
            "config.json beside it; older generator files did not record it)"
        )
        return "\n".join(lines)
    lines += _training_lines(record)
    evaluation = record.get("evaluation")
    if isinstance(evaluation, dict):
        n = evaluation.get("n")
        lines.append(
            "evaluation"
            + (f" ({n:,} digits against {evaluation.get('data', 'the test digits')})" if isinstance(n, int) else "")
            + ":"
        )
        if evaluation.get("command"):
            lines.append(f"  command: {evaluation['command']}")
        lines += _figures(evaluation, indent="  ")
    return "\n".join(lines)


__all__ = ["ModelFileError", "model_info"]

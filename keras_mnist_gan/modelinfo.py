"""``keras-mnist-gan info MODEL``: what a .keras file holds and what it
records of its training (its metadata.json, `saving.read_metadata`).

A file's metadata.json is untrusted input: a field of the wrong type is
shown as "(unreadable: ...)" naming the field, and every printed line has
its control characters escaped (``\\x1b``, ``\\n``), so a field can neither
drive the terminal nor forge a line."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from string import hexdigits
from typing import Any

import keras

from .mnist_data import MnistData, data_name
from .presets import Preset, closest_preset
from .saving import METADATA_KEY, ModelFileError, _load, read_metadata

# The options of ``keras-mnist-gan train`` whose values are paths: the
# command a model file records names them without their folders.
TRAIN_PATH_OPTIONS = ("--data", "--out")
# The longest line `model_info` prints of one field; a longer one is cut.
MAX_LINE = 2000

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
    figures measured at the end when there are any.

    The file is shared, so it records nothing of the machine or its folders:
    the data by `MnistData.record` (its name, digit count, size and SHA-256
    of the digits), a source given as a string by its name only; ``command``
    should come through `command_without_paths`."""
    from . import __version__

    name, changes = closest_preset(preset)
    if isinstance(data, MnistData):
        data_record = dict(data.record)
    else:
        data_record = {"source": None if data is None else data_name(str(data))}
    if train_images is not None:
        data_record["train_images"] = int(train_images)
    data_record.setdefault("train_images", None)
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
        "data": {**data_record, "labels": bool(gan.num_classes)},
        "wall_s": None if wall_s is None else round(float(wall_s), 1),
        "command": command,
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "package_version": __version__,
    }
    if quality:
        record["quality_at_end"] = quality
    return record


def _path_name(path: str) -> str:
    """``path`` without its folders: 'mnist.npz' for '/home/u/mnist.npz',
    'a' for '../runs/a', the folder's own name for '..'."""
    name = os.path.basename(os.path.normpath(path))
    if path and name in ("", ".."):
        name = os.path.basename(os.path.abspath(path)) or "(root folder)"
    return name


def command_without_paths(argv: Sequence[str], path_options: Sequence[str] = TRAIN_PATH_OPTIONS) -> list[str]:
    """``argv`` with the values of ``path_options`` reduced to their names
    (`_path_name`), in both forms ``--data PATH`` and ``--data=PATH`` and
    argparse's abbreviations (``--da PATH``): the command a model file
    records, which is shared, so carries neither the user's folders nor
    absolute paths. ``path_options`` must be the path options of the parser
    that accepted ``argv`` (an abbreviation matches when it names exactly
    one of them); the default is ``keras-mnist-gan train``'s."""

    def is_path_option(flag: str) -> bool:
        if not flag.startswith("--") or len(flag) < 3:
            return False
        return flag in path_options or len([o for o in path_options if o.startswith(flag)]) == 1

    out, argv = [], [str(arg) for arg in argv]
    for i, arg in enumerate(argv):
        flag, equals, value = arg.partition("=")
        if i and is_path_option(argv[i - 1]):  # --data PATH
            out.append(_path_name(arg))
        else:  # --data=PATH, or no path
            out.append(f"{flag}={_path_name(value)}" if equals and is_path_option(flag) else arg)
    return out


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


def _one_line(text: str) -> str:
    """``text`` with every control or otherwise unprintable character
    written as Python writes it in a repr (ESC as \x1b, a newline as \n),
    so that it is one line that cannot drive the terminal; cut at MAX_LINE."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "... (cut)"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What each field of a training record must be: a test, and the words for it.
_CHECKS = {
    "text": (lambda v: isinstance(v, str), "text"),
    "count": (_is_count, "a whole number"),
    "number": (_is_number, "a number"),
    "numbers": (lambda v: isinstance(v, list) and all(_is_number(x) for x in v), "a list of numbers"),
    "settings": (
        lambda v: isinstance(v, dict) and all(x is None or isinstance(x, (str, int, float)) for x in v.values()),
        "an object of settings",
    ),
    "sha256": (lambda v: isinstance(v, str) and len(v) == 64 and all(c in hexdigits for c in v), "64 hex digits"),
}


_KINDS = {type(None): "null", bool: "true/false", str: "text", int: "a number", float: "a number", list: "a list"}


def _bad(field: str, value: object, expected: str) -> str:
    return f"(unreadable: field {field} of metadata.json is {_KINDS.get(type(value), 'an object')}, not {expected})"


def _show(value: object, field: str, check: str, fmt: Callable[[Any], str] = str) -> str:
    """``value`` written by ``fmt`` if ``check`` accepts it, else
    "(unreadable: ...)" naming ``field`` and what it should have been."""
    test, expected = _CHECKS[check]
    if test(value):
        try:
            return fmt(value)
        except (ValueError, OverflowError):  # a number too large to write as asked
            return f"(unreadable: field {field} of metadata.json is out of range)"
    return _bad(field, value, expected)


def _settings(settings: dict) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in settings.items())


def _per_digit(values: list) -> str:
    return " ".join(f"{i}:{v:.3f}" for i, v in enumerate(values))


def _figures(figures: dict, indent: str = "    ") -> list[str]:
    """The lines of an evaluation's figures (``record["evaluation"]``)."""
    lines = []
    floor = figures.get("real_floor")
    floor = floor if isinstance(floor, dict) else {}
    for key, label, fmt in _FIGURES:
        if figures.get(key) is not None:
            extra = ""
            if floor.get(key) is not None:
                extra = f" (real-data floor {_show(floor[key], f'evaluation.real_floor.{key}', 'number', fmt.format)})"
            lines.append(f"{indent}{label}: {_show(figures[key], f'evaluation.{key}', 'number', fmt.format)}{extra}")
    for key, label in (("class_share", "class shares"), ("accuracy_per_class", "recognised, per digit")):
        if figures.get(key):
            lines.append(f"{indent}{label}: {_show(figures[key], f'evaluation.{key}', 'numbers', _per_digit)}")
    return lines


def _data_lines(data: dict) -> list[str]:
    """The "data:" line of a training record: the data's name, digits, size
    and (shortened) SHA-256 of the digits."""
    if data.get("source") is None:
        return []
    parts = []
    if data.get("train_images") is not None:
        labels = ", with labels" if data.get("labels") is True else ""
        parts.append(
            _show(data["train_images"], "data.train_images", "count", lambda n: f"{n:,} training digits{labels}")
        )
    if data.get("bytes") is not None:
        parts.append(_show(data["bytes"], "data.bytes", "count", lambda n: f"{n:,} bytes"))
    if data.get("sha256") is not None:
        parts.append(_show(data["sha256"], "data.sha256", "sha256", lambda h: f"sha256 {h[:16].lower()}..."))
    lines = [f"  data: {_show(data['source'], 'data.source', 'text')}" + (f" ({'; '.join(parts)})" if parts else "")]
    if data.get("description") is not None:
        lines.append(f"    ({_show(data['description'], 'data.description', 'text')})")
    return lines


def _training_lines(record: dict) -> list[str]:
    """The "training:" part of `model_info`, from a file's training record."""
    lines = ["training:"]
    for key in ("draws", "weights"):
        if record.get(key) is not None:
            lines.append(f"  {key}: {_show(record[key], key, 'text')}")
    if record.get("preset") is not None:
        changes = record.get("preset_changes")
        changed = f", changed: {_show(changes, 'preset_changes', 'settings', _settings)}" if changes else ""
        lines.append(f"  preset: {_show(record['preset'], 'preset', 'text')}{changed}")
    if record.get("preset_settings") is not None:
        lines.append(f"  settings: {_show(record['preset_settings'], 'preset_settings', 'settings', _settings)}")
    for key, label, check in (
        ("steps", "steps", "count"),
        ("seed", "seed", "count"),
        ("backend", "trained on backend", "text"),
        ("package_version", "keras-mnist-gan version", "text"),
    ):
        if record.get(key) is not None:
            lines.append(f"  {label}: {_show(record[key], key, check, '{:,}'.format if check == 'count' else str)}")
    data = record.get("data")
    if isinstance(data, dict):
        lines += _data_lines(data)
    elif data is not None:
        lines.append(f"  data: {_show(data, 'data', 'text')}")
    if record.get("wall_s") is not None:
        wall = _show(record["wall_s"], "wall_s", "number", lambda s: f"{s:,.0f} s ({s / 60:.1f} min)")
        lines.append(f"  wall time: {wall}")
    for key, form in (("wall_note", "    ({})"), ("command", "  command: {}"), ("command_note", "    ({})")):
        if record.get(key) is not None:
            lines.append(form.format(_show(record[key], key, "text")))
    if record.get("resaved") is not None:
        lines.append(f"  re-saved: {_show(record['resaved'], 'resaved', 'text')}")
    if record.get("tuning") is not None:
        lines.append(f"  best tuning trial: {_show(record['tuning'], 'tuning', 'settings', _settings)}")
    quality = record.get("quality_at_end")
    if isinstance(quality, dict):
        figures = [
            f"{label} {_show(quality[k], f'quality_at_end.{k}', 'number', fmt.format)}"
            for k, label, fmt in _QUALITY
            if k in quality
        ]
        where = [
            f"{name}{_show(quality[k], f'quality_at_end.{k}', 'count', '{:,}'.format)}"
            for k, name in (("n", "n="), ("step", "step "))
            if quality.get(k) is not None
        ]
        where_text = f" ({', '.join(where)})" if where else ""
        lines.append(f"  quality at the end of training{where_text}: " + ", ".join(figures))
    elif quality is not None:
        lines.append(f"  quality at the end of training: {_bad('quality_at_end', quality, 'an object')}")
    return lines


def _evaluation_lines(evaluation: object) -> list[str]:
    """The "evaluation:" part of `model_info`, from ``record["evaluation"]``."""
    if not isinstance(evaluation, dict):
        return [f"evaluation: {_bad('evaluation', evaluation, 'an object')}"]
    n = evaluation.get("n")
    against = _show(evaluation.get("data", "the test digits"), "evaluation.data", "text")
    lines = ["evaluation" + (f" ({n:,} digits against {against})" if _is_count(n) else "") + ":"]
    if evaluation.get("command") is not None:
        lines.append(f"  command: {_show(evaluation['command'], 'evaluation.command', 'text')}")
    return lines + _figures(evaluation, indent="  ")


def model_info(path: str | os.PathLike) -> str:
    """The text ``keras-mnist-gan info`` prints for ``path``: one line a
    field, control characters escaped (`_one_line`), a field of the wrong
    type shown as unreadable. Raises `ModelFileError` for a missing, damaged
    or non-model file, or one whose metadata.json cannot be parsed."""
    try:
        metadata = read_metadata(path)  # says what is wrong with a file that is no model, before Keras reads it
    except RecursionError:  # json.loads on arrays or objects nested thousands deep
        raise ModelFileError(
            _one_line(f"{path}: its metadata.json is unreadable (nested too deeply to parse).")
        ) from None
    model = _load(path, "model")
    lines = [str(path)] + ["  " + line for line in _describe(model)]
    if metadata.get("keras_version") is not None or metadata.get("date_saved") is not None:
        saved = _show(metadata.get("date_saved", "?"), "date_saved", "text")
        lines.append(f"  saved: {saved} by Keras {_show(metadata.get('keras_version', '?'), 'keras_version', 'text')}")
    record = metadata.get(METADATA_KEY)
    if record is None:
        lines.append(
            "training: not recorded in this file (generator files record it; a checkpoint's run has it in "
            "config.json beside it; older generator files did not record it)"
        )
    elif not isinstance(record, dict):
        lines.append(f"training: {_bad(METADATA_KEY, record, 'an object')}")
    else:
        lines += _training_lines(record)
        if record.get("evaluation") is not None:
            lines += _evaluation_lines(record["evaluation"])
    return "\n".join(_one_line(line) for line in lines)


__all__ = ["ModelFileError", "command_without_paths", "model_info"]

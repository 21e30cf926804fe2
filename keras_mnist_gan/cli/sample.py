"""keras-mnist-gan sample: its options, the classes asked for, and the grids, walks and arrays it writes."""

from __future__ import annotations

import argparse
from typing import NamedTuple

from .arguments import MAX_SAMPLE_DIGITS, _digit_count, _seed
from .paths import _check_output_file


# `sample --interpolate --out *.gif` keeps every frame (48) of a grid of all
# n digits in memory at 3x scale, so it allows fewer.
MAX_GIF_DIGITS = 400
# `sample --interpolate`: walks of this many digits, one a row, by default.
INTERPOLATE_DIGITS, INTERPOLATE_COLS = 80, 10


class _Classes(list):
    """`_digit_classes`'s answer: the classes as read before the model is
    known (numbers, and names as text), with the text it was read from and
    its parts (`_Part`), which `_resolve_classes` reads."""

    text = ""
    parts: list = []


class _Part(NamedTuple):
    """One comma-separated part of ``--digit``: its text, the class numbers it
    can mean (None: not a number), and the class name it can mean (None: a
    ``number:`` part)."""

    text: str
    numbers: list[int] | None
    name: str | None


NAME, NUMBER = "name:", "number:"


def _numbers(text: str, whole: str) -> list[int] | None:
    """``3`` or ``0-9`` as class numbers; None if it is neither."""
    from ..mnist_data import MAX_CLASSES

    first, dash, last = text.partition("-")
    try:
        low, high = int(first), int(last if dash else first)
    except ValueError:
        return None
    if not text.replace("-", "", 1).isdigit():  # " 3", "+3", "3_0": names, not numbers
        return None
    if not 0 <= low <= high < MAX_CLASSES:
        raise argparse.ArgumentTypeError(
            f"classes go from 0 to {MAX_CLASSES - 1} and a range from low to high, got {whole!r} "
            f"(a class of that name: --digit {NAME}{text})"
        )
    return list(range(low, high + 1))


def _digit_classes(text: str) -> list[int | str]:
    """``3``, ``0-9``, ``1,7``, ``0-4,7`` or class names (``cat``,
    ``cat,dog``): the classes, in the order given. ``number:3`` and
    ``number:0-9`` are class numbers only, ``name:01`` a class name only
    (``name:`` before the whole text: a name with commas in it). Numbers are
    checked against the model's classes, and names looked up, once it is
    loaded (`_resolve_classes`)."""
    digits = _Classes()
    digits.text, digits.parts = text, []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise argparse.ArgumentTypeError(
                f"expected a digit (3), a range (0-9), a list (1,7) or a class name, got {text!r}"
            )
        if part.startswith(NUMBER):
            numbers = _numbers(part[len(NUMBER) :], text)
            if numbers is None:
                raise argparse.ArgumentTypeError(f"{NUMBER} takes a class number (3) or a range (0-9), got {text!r}")
            digits.parts.append(_Part(part, numbers, None))
        elif part.startswith(NAME):
            digits.parts.append(_Part(part, None, part[len(NAME) :]))
        else:
            digits.parts.append(_Part(part, _numbers(part, text), part))
        numbers, name = digits.parts[-1][1:]
        digits.extend(numbers if numbers is not None else [name])
    return digits


def _resolve_classes(digits: list[int | str], classes: int, names: list[str] | None, text: str, model: str):
    """`_digit_classes`'s numbers and names as class numbers of a generator
    of ``classes`` classes named ``names`` (None: known by number only).

    Every class can be asked for by its name; text that means one class by
    name and other classes by number (folders ``01/`` and ``1/``: ``01`` is
    a name, and class number 1) is refused, saying how to ask for each."""
    text = getattr(digits, "text", "") or text or ",".join(map(str, digits))
    parts = getattr(digits, "parts", None) or _digit_classes(text).parts
    whole = text[len(NAME) :] if text.startswith(NAME) else None
    if names and whole is not None and whole in names:  # name:a,b with a class "a,b"
        return [names.index(whole)]
    out, ambiguous = None, None
    try:
        out = [c for part in parts for c in _resolve_part(part, classes, names, text, model)]
    except _Ambiguous as e:
        ambiguous = e
    except ValueError:
        if names and "," in text and text in names:  # a name with commas in it, and no list
            return [names.index(text)]
        raise
    if names and "," in text and text in names:
        as_list = ",".join(f"{NUMBER}{c}" for c in out) if out else f"{NAME}a,{NUMBER}1 (one prefix a part)"
        raise _Ambiguous(
            f"--digit {text}: both the class named {text!r} and a list of classes; "
            f"ask for the class with --digit {NAME}{text}, for a list with --digit {as_list}."
        )
    if ambiguous:
        raise ambiguous
    return out


class _Ambiguous(ValueError):
    """``--digit`` text that means one class by name and others by number."""


def _resolve_part(part: _Part, classes: int, names: list[str] | None, text: str, model: str) -> list[int]:
    """One part's class numbers: what it means as numbers (if they are the
    model's) or as a name, refused if it means both and they differ."""
    numbers = part.numbers if part.numbers is not None and part.numbers[-1] < classes else None
    named = _named(part.name, names, exact=part.numbers is not None) if part.name is not None else None
    if numbers is not None and named is not None and numbers != [named]:
        number = str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"
        meant = f"class number {number} (named {names[numbers[0]]!r})" if len(numbers) == 1 else f"classes {number}"
        raise _Ambiguous(
            f"--digit {text}: {part.text!r} is both the class named {names[named]!r} (class number {named}) and "
            f"{meant}; ask for the name with {NAME}{part.text}, for the number with {NUMBER}{number}."
        )
    if named is not None:
        return [named]
    if numbers is not None:
        return numbers
    if part.numbers is not None:
        raise ValueError(f"--digit {text}: {model} draws classes from 0 to {classes - 1}; got {part.numbers[-1]}.")
    if names:
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        raise ValueError(
            f"--digit {text}: {part.name!r} is not a class of {model} ({shown}; or their numbers 0 to {classes - 1})."
        )
    raise ValueError(
        f"--digit {text}: {part.name!r} is not a class number, and {model} has no class names (a run on a folder "
        "of class subfolders keeps them in its config.json); give a digit (3), a range (0-9) or a list (1,7)."
    )


def _named(name: str, names: list[str] | None, exact: bool) -> int | None:
    """The class called ``name`` (or, unless ``exact``, the one class called
    so in another case); None if none is."""
    names = names or []
    matches = [i for i, n in enumerate(names) if n == name] or (
        [] if exact else [i for i, n in enumerate(names) if n.casefold() == name.casefold()]
    )
    return matches[0] if len(matches) == 1 else None


def _add_sample_parser(sub) -> None:
    from ..presets import GRID_DIGITS

    s = sub.add_parser("sample", help="draw digits from a saved generator or GAN")
    s.add_argument(
        "--model", help="a generator.keras or gan.keras file (default: the shipped saved_models/generator.keras)"
    )
    s.add_argument(
        "-n",
        type=_digit_count,
        help=f"how many digits, at most {MAX_SAMPLE_DIGITS} (default {GRID_DIGITS}; with --interpolate "
        f"{INTERPOLATE_DIGITS} = {INTERPOLATE_DIGITS // INTERPOLATE_COLS} walks of {INTERPOLATE_COLS})",
    )
    s.add_argument(
        "--out",
        default="digits.png",
        help="grid to write, in the format its extension names: .png, .jpg, .gif, .bmp, .tif, .webp "
        "(default digits.png)",
    )
    s.add_argument("--npy", help="also save the digits as a float32 .npy array (n, 28, 28, 1)")
    s.add_argument("--seed", type=_seed, help="noise seed, for repeatable digits")
    s.add_argument("--cols", type=_digit_count, help="grid columns (default: square; with --interpolate 10)")
    s.add_argument(
        "--digit",
        type=_digit_classes,
        help="conditional models: draw this digit (3) or class name (cat), or one row per class of a range "
        "or list (0-9, 1,7, cat,dog); default: each digit's class at random. A model trained on class folders "
        f"knows its classes by name and number (in the folders' sorted order); text that is a name and also "
        f"other classes' numbers (folders 01/ and 1/: 01) is refused: write {NAME}01 for the class named 01, "
        f"{NUMBER}1 or {NUMBER}0-9 for numbers; {NAME} before the whole text takes it as one name, commas and all",
    )
    s.add_argument(
        "--interpolate",
        action="store_true",
        help="walk between random points of the noise space: each grid row is one walk; "
        "with --out *.gif an animation of n digits morphing through 4 points",
    )


def _sample(args) -> None:
    from ..sampling import generate

    animate, n, cols = _sample_layout(args)
    generator, classes, digits = _sample_model(args)
    if digits is not None and len(digits) != len(args.digit):  # name:a,b: one class, not two
        text = getattr(args.digit, "text", "")
        args.digit = _Classes(digits)
        args.digit.text = text
        animate, n, cols = _sample_layout(args)
    if args.interpolate:
        _sample_walks(args, generator, classes, digits, animate, n, cols)
        return
    labels = None
    if digits is not None and len(digits) > 1:
        labels = _digit_labels(digits, n, cols)
    elif digits is not None:
        labels = digits[0]
    out = generate(generator, n, seed=args.seed, labels=labels)
    written = _write_samples(out, args, cols)
    _summary(f"wrote {n} digits to " + ", ".join(written), written)


def _sample_layout(args) -> tuple[bool, int, int | None]:
    """Whether `sample` writes an animation, and how many digits in how many
    columns; everything about the output is checked before the model loads."""
    from ..images import check_grid_size, image_format
    from ..presets import GRID_COLS_PER_DIGIT, GRID_DIGITS

    image_format(args.out)
    animate = args.interpolate and args.out.lower().endswith(".gif")
    if animate and (args.n or 0) > MAX_GIF_DIGITS:
        raise ValueError(
            f"-n: an interpolation GIF holds at most {MAX_GIF_DIGITS} digits "
            f"(every frame holds them all); got {args.n}."
        )
    if args.npy and not args.npy.lower().endswith(".npy"):
        raise ValueError(f"--npy {args.npy}: the file name must end in .npy.")
    if args.npy and animate:
        raise ValueError(
            "--npy: an interpolation GIF's digits are its frames; write a grid (--out *.png) to save them as .npy."
        )
    digits = args.digit
    if animate:
        n, cols = args.n or 16, None
    elif args.interpolate:
        n, cols = args.n or INTERPOLATE_DIGITS, args.cols or INTERPOLATE_COLS
    elif digits is not None and len(digits) > 1:  # one row per digit asked for
        cols = args.cols or GRID_COLS_PER_DIGIT
        n = args.n or cols * len(digits)
        if n > MAX_SAMPLE_DIGITS:
            raise ValueError(
                f"--digit {getattr(digits, 'text', '') or len(digits)}: one row of {cols} digits (--cols) for each "
                f"of its {len(digits):,} classes is {n:,} digits; sample draws at most {MAX_SAMPLE_DIGITS:,}: "
                "give fewer --cols or classes, or -n."
            )
    else:
        n, cols = args.n or GRID_DIGITS, args.cols
    check_grid_size(args.out, n, cols, scale=3 if animate else 2)
    for target in filter(None, (args.out, args.npy)):
        _check_output_file(target, "--npy" if target is args.npy else "--out")
    return animate, n, cols


def _sample_model(args):
    """The generator `sample` draws from, its classes and the classes asked
    for (``--digit``, as class indices)."""
    from ..evaluation import shipped_model
    from ..models import num_classes_of
    from ..saving import load_generator

    model = args.model or shipped_model("generator.keras")
    generator = load_generator(model)
    classes = num_classes_of(generator)
    digits = args.digit
    if digits is not None and classes is None:
        raise ValueError(
            f"--digit: {args.model or 'the shipped generator'} is unconditional (it draws digits of no "
            "particular class); use a conditional one (what train makes by default, or the shipped "
            "saved_models/generator.keras)."
        )
    if digits is not None:
        from ..rundir import run_class_names

        text = getattr(digits, "text", ",".join(map(str, digits)))
        where = args.model or "the shipped generator"
        digits = _resolve_classes(digits, classes, run_class_names(model, classes), text, where)
    return generator, classes, digits


def _sample_walks(args, generator, classes, digits, animate: bool, n: int, cols: int | None) -> None:
    """`sample --interpolate`: walks between random points of the noise space."""
    from ..models import noise_dim_of
    from ..sampling import generator_inputs
    from ..visuals import interpolation_gif, interpolation_noise

    if animate:
        labels = None if digits is None else _digit_labels(digits, n, 1)
        interpolation_gif(generator, args.out, n=n, seed=args.seed, labels=labels)
        _summary(f"wrote {args.out}: {n} digits walking through 4 random noise points", [args.out])
        return
    noise = interpolation_noise(noise_dim_of(generator), rows=-(-n // cols), steps=cols, seed=args.seed)[:n]
    labels = None if classes is None else _digit_labels(digits or list(range(classes)), len(noise), cols)
    out = generator.predict(generator_inputs(generator, noise, labels), verbose=0)
    written = _write_samples(out, args, cols)
    _summary(f"wrote {args.out}: {-(-len(out) // cols)} walks of {cols} steps between random noise points", written)


def _digit_labels(digits: list[int], n: int, cols: int):
    """The digits asked for, one row of ``cols`` each in turn."""
    import numpy as np

    from ..sampling import balanced_labels

    return np.asarray(digits, np.int32)[balanced_labels(n, len(digits), per=cols)]


def _write_samples(digits, args, cols) -> list[str]:
    import numpy as np

    from ..images import save_grid
    from ..outputs import write_atomic

    save_grid(digits, args.out, ncols=cols)
    written = [args.out]
    if args.npy:
        write_atomic(args.npy, lambda f: np.save(f, digits))
        written.append(args.npy)
    return written


def _summary(line: str, written: list[str]) -> None:
    """`sample`'s last line, on standard output; when that cannot be written
    (a full disk, a closed pipe), one line saying so and that the files were."""
    import os
    import sys

    try:
        print(line, flush=True)
    except OSError as e:
        try:  # what stays buffered would fail again as Python exits, and make its status 120
            if sys.stdout is sys.__stdout__:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        why = os.strerror(e.errno) if e.errno else str(e)
        raise OSError(
            f"wrote {' and '.join(written)}, but could not write the summary line to standard output ({why})."
        ) from None

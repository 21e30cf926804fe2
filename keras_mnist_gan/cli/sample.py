"""keras-mnist-gan sample: its options, the classes asked for, and the grids, walks and arrays it writes."""

from __future__ import annotations

import argparse

from .arguments import MAX_SAMPLE_DIGITS, _digit_count, _seed
from .paths import _check_output_file


# `sample --interpolate --out *.gif` keeps every frame (48) of a grid of all
# n digits in memory at 3x scale, so it allows fewer.
MAX_GIF_DIGITS = 400
# `sample --interpolate`: walks of this many digits, one a row, by default.
INTERPOLATE_DIGITS, INTERPOLATE_COLS = 80, 10


class _Classes(list):
    """`_digit_classes`'s answer, which remembers the text it was read from."""

    text = ""


def _digit_classes(text: str) -> list[int | str]:
    """``3``, ``0-9``, ``1,7``, ``0-4,7`` or class names (``cat``,
    ``cat,dog``): the classes, in the order given. Numbers are checked
    against the model's classes, and names looked up, once it is loaded
    (`_resolve_classes`)."""
    from ..mnist_data import MAX_CLASSES

    digits = _Classes()
    digits.text = text
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            if not part.strip():
                raise argparse.ArgumentTypeError(
                    f"expected a digit (3), a range (0-9), a list (1,7) or a class name, got {text!r}"
                ) from None
            digits.append(part.strip())  # a class name ("t-shirt" too)
            continue
        if not 0 <= low <= high < MAX_CLASSES:
            raise argparse.ArgumentTypeError(
                f"classes go from 0 to {MAX_CLASSES - 1} and a range from low to high, got {text!r}"
            )
        digits.extend(range(low, high + 1))
    return digits


def _resolve_classes(digits: list[int | str], classes: int, names: list[str] | None, text: str, model: str):
    """`_digit_classes`'s numbers and names as class numbers of a generator
    of ``classes`` classes named ``names`` (None: known by number only). A
    number that is a class's name (class folders 0/ to 25/, sorted 0, 1,
    10, ...) means that class."""
    out = []
    for d in digits:
        if isinstance(d, int) and names and str(d) in names:
            out.append(names.index(str(d)))
            continue
        if isinstance(d, int):
            if d >= classes:
                raise ValueError(f"--digit {text}: {model} draws classes from 0 to {classes - 1}; got {d}.")
            out.append(d)
            continue
        matches = [i for i, name in enumerate(names or []) if name == d] or [
            i for i, name in enumerate(names or []) if name.casefold() == d.casefold()
        ]
        if len(matches) == 1:
            out.append(matches[0])
        elif names:
            shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
            raise ValueError(
                f"--digit {text}: {d!r} is not a class of {model} ({shown}; or their numbers 0 to {classes - 1})."
            )
        else:
            raise ValueError(
                f"--digit {text}: {d!r} is not a class number, and {model} has no class names (a run on a folder "
                "of class subfolders keeps them in its config.json); give a digit (3), a range (0-9) or a list (1,7)."
            )
    return out


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
        "or list (0-9, 1,7, cat,dog); default: each digit's class at random",
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
    print(f"wrote {n} digits to " + ", ".join(written))


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
        print(f"wrote {args.out}: {n} digits walking through 4 random noise points")
        return
    noise = interpolation_noise(noise_dim_of(generator), rows=-(-n // cols), steps=cols, seed=args.seed)[:n]
    labels = None if classes is None else _digit_labels(digits or list(range(classes)), len(noise), cols)
    out = generator.predict(generator_inputs(generator, noise, labels), verbose=0)
    _write_samples(out, args, cols)
    print(f"wrote {args.out}: {-(-len(out) // cols)} walks of {cols} steps between random noise points")


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

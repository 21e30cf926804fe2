"""``keras-mnist-gan``: train a GAN, sample digits from a saved one.

Bad input of any kind ends with one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from .noise import MAX_SEED

# The most digits one `sample` or `evaluate` may ask for: 100,000 are 300 MB
# as float32 and a grid 19,000 pixels square; ten million would take 8 GB
# and more before anything was said.
MAX_SAMPLE_DIGITS = 100_000
# `sample --interpolate --out *.gif` keeps every frame (48) of a grid of all
# n digits in memory at 3x scale, so it allows fewer.
MAX_GIF_DIGITS = 400
# `sample --interpolate`: walks of this many digits, one a row, by default.
INTERPOLATE_DIGITS, INTERPOLATE_COLS = 80, 10


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _digit_count(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_SAMPLE_DIGITS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SAMPLE_DIGITS}, got {value}")
    return value


class _Classes(list):
    """`_digit_classes`'s answer, which remembers the text it was read from."""

    text = ""


def _digit_classes(text: str) -> list[int | str]:
    """``3``, ``0-9``, ``1,7``, ``0-4,7`` or class names (``cat``,
    ``cat,dog``): the classes, in the order given. Numbers are checked
    against the model's classes, and names looked up, once it is loaded
    (`_resolve_classes`)."""
    from .mnist_data import MAX_CLASSES

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


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _quality_digits(text: str) -> int:
    from .presets import MIN_FID_DIGITS

    value = _nonnegative_int(text)
    if 0 < value < MIN_FID_DIGITS:
        raise argparse.ArgumentTypeError(
            f"a Fréchet distance needs at least {MIN_FID_DIGITS} digits (0: off), got {value}"
        )
    return value


def _fid_digits(text: str) -> int:
    from .presets import MIN_FID_DIGITS

    value = _digit_count(text)
    if value < MIN_FID_DIGITS:
        raise argparse.ArgumentTypeError(f"a Fréchet distance needs at least {MIN_FID_DIGITS} digits, got {value}")
    return value


def _batch_size(text: str) -> int:
    from .presets import MAX_BATCH_SIZE

    value = _positive_int(text)
    if value > MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_BATCH_SIZE} (a step holds about 2 MB per digit), got {value}"
        )
    return value


def _seed(text: str) -> int:
    value = _nonnegative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEED} (a 32-bit seed), got {value}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _writable_dir(path: str) -> None:
    """Fail early, before minutes of training, if results cannot be written."""
    probe_dir = path
    while probe_dir and not os.path.exists(probe_dir):
        probe_dir = os.path.dirname(probe_dir)
    probe_dir = probe_dir or "."
    if not os.path.isdir(probe_dir):
        raise OSError(f"{path}: {probe_dir} exists and is not a directory.")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise OSError(f"{path}: cannot write into {os.path.abspath(probe_dir)} (permission denied).")


def _check_input(path: str | None, flag: str) -> None:
    """A symbolic-link loop or a dangling link reads as "no such file" to the
    loaders: say what it is."""
    import errno

    if not path:
        return
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP or os.path.islink(path):
            from .saving import missing_path_error

            raise ValueError(f"{flag} {missing_path_error(path)}") from None


def _check_output_file(path: str, flag: str) -> None:
    """Before any work: a file output's folder must exist (it is not
    created), and no folder or device may stand where the file goes."""
    from .outputs import OutputError, check_file_target

    try:
        check_file_target(path)
    except OutputError as e:
        raise ValueError(f"{flag} {e}") from None
    _writable_dir(os.path.dirname(path) or ".")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-mnist-gan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines and other libraries' warnings"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN on MNIST and save it")
    _add_run_arguments(t)
    _add_recipe_arguments(t)
    _add_run_options(t)
    _add_sample_parser(sub)
    _add_evaluate_parser(sub)
    _add_tune_parser(sub)
    _add_other_parsers(sub)
    return parser


def _add_run_arguments(t: argparse.ArgumentParser) -> None:
    """train: the data, the folder and the run's length."""
    from .presets import DEFAULT_PRESET, DEFAULT_RUN_DIR, DEFAULT_STEPS, DEFAULT_STEPS_PER_EPOCH, PRESETS

    t.add_argument(
        "--data",
        help="mnist.npz, a directory of IDX files, or a folder of images with one subfolder per class "
        "(see docs/data.md; default: $KERAS_MNIST_GAN_DATA, the Keras cache, a download, else the shipped subset)",
    )
    t.add_argument(
        "--out",
        default=DEFAULT_RUN_DIR,
        help="directory for the model files, grids and history (default: %(default)s)",
    )
    t.add_argument(
        "--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET, help="training settings (default: %(default)s)"
    )
    length = t.add_mutually_exclusive_group()
    length.add_argument(
        "--steps",
        type=_positive_int,
        help=f"training steps in all, warm-up included (default {DEFAULT_STEPS}, whatever the data)",
    )
    length.add_argument("--epochs", type=_positive_int, help="instead of --steps: passes over the training digits")
    t.add_argument(
        "--minutes",
        type=_positive_float,
        help="stop cleanly after this much wall time (files saved); the same command continues the run",
    )
    t.add_argument(
        "--steps-per-epoch",
        type=_positive_int,
        help=f"steps between progress lines, digit grids and quality figures (default {DEFAULT_STEPS_PER_EPOCH})",
    )


def _add_recipe_arguments(t: argparse.ArgumentParser) -> None:
    """train: changes to the preset's settings."""
    t.add_argument("--batch-size", type=_batch_size)
    t.add_argument("--lr-d", type=_learning_rate, help="discriminator learning rate")
    t.add_argument("--lr-g", type=_learning_rate, help="generator learning rate")
    t.add_argument("--beta-1", type=_learning_rate, help="Adam beta_1 of all optimizers")
    t.add_argument("--label-smoothing", type=float, help="one-sided: D's target for real digits is 1 - this")
    t.add_argument(
        "--d-optimizers",
        type=int,
        choices=[1, 2],
        help="2: one D optimizer on real and one on fake digits (the original); 1: one on their sum",
    )
    t.add_argument("--r1-gamma", type=_nonnegative_float, help="R1 gradient penalty weight on real digits (0: off)")
    t.add_argument(
        "--r1-interval",
        type=_positive_int,
        help="take the R1 penalty every this many steps, weighted as many times (lazy regularisation)",
    )
    t.add_argument(
        "--ema-decay",
        type=_learning_rate,
        help="sample from an exponential moving average of G's weights with this decay (e.g. 0.999)",
    )
    t.add_argument(
        "--mode-seeking",
        type=_nonnegative_float,
        help="weight of the mode-seeking term in G's loss: two noises, same digit, different drawings (0: off)",
    )
    t.add_argument(
        "--minibatch-std",
        type=_nonnegative_int,
        help="group size of D's minibatch standard deviation, which lets D see alike digits (0: off)",
    )
    t.add_argument("--warmup-steps", type=_nonnegative_int, help="discriminator-only steps at the start")
    t.add_argument("--noise-dim", type=_positive_int)


def _add_run_options(t: argparse.ArgumentParser) -> None:
    """train: the kind of GAN, the seed, the figures, checkpoints and resuming."""
    from .presets import DEFAULT_CHECKPOINT_EVERY, DEFAULT_QUALITY_EVERY, DEFAULT_QUALITY_N, DEFAULT_SEED

    kind = t.add_mutually_exclusive_group()
    kind.add_argument(
        "--conditional",
        action="store_true",
        help="require a class-conditional GAN (the default where the data has labels): "
        "digits on request (sample --digit D)",
    )
    kind.add_argument(
        "--unconditional",
        action="store_true",
        help="train the unconditional GAN: noise in, a digit of no class asked for out",
    )
    t.add_argument(
        "--seed", type=_seed, default=DEFAULT_SEED, help="seeds weights, data order and noise (default %(default)s)"
    )
    t.add_argument(
        "--quality-n",
        type=_quality_digits,
        default=DEFAULT_QUALITY_N,
        help="digits for val_fid/val_score/val_class_entropy (0: off; default %(default)s)",
    )
    t.add_argument(
        "--quality-every",
        type=_nonnegative_int,
        default=DEFAULT_QUALITY_EVERY,
        help="steps between the quality figures during the run (default %(default)s: only at the end)",
    )
    t.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=DEFAULT_CHECKPOINT_EVERY,
        help="steps between checkpoints of the whole GAN in OUT/gan.keras (default %(default)s)",
    )
    again = t.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in --out (an error if there is none)")
    again.add_argument(
        "--restart",
        action="store_true",
        help="delete the run in --out and start over (default: resume it if its settings match)",
    )
    t.add_argument("--no-health", action="store_true", help="do not watch for a winning D or a collapsing G")
    t.add_argument("--stop-on-failure", action="store_true", help="end the run when the health monitor warns")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_sample_parser(sub) -> None:
    from .presets import GRID_DIGITS

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


def _add_evaluate_parser(sub) -> None:
    from .presets import DEFAULT_EVALUATE_N, DEFAULT_SEED

    e = sub.add_parser("evaluate", help="measure a generator's digits against real test digits")
    e.add_argument("--model", required=True, help="a generator.keras or gan.keras file")
    e.add_argument(
        "-n",
        type=_fid_digits,
        default=DEFAULT_EVALUATE_N,
        help="digits to generate and compare, at most the test digits (default %(default)s)",
    )
    e.add_argument("--data", help="MNIST for the real test digits and the floor (default: the usual search)")
    e.add_argument("--evaluator", help="classifier .keras (default: saved_models/evaluator.keras)")
    e.add_argument("--seed", type=_seed, default=DEFAULT_SEED)
    e.add_argument("--no-memorisation", action="store_true", help="skip the nearest-training-digit check (slow)")
    e.add_argument("--json", help="also write the figures to this JSON file")


def _add_tune_parser(sub) -> None:
    from .presets import (
        DEFAULT_PRESET,
        DEFAULT_PROJECT_NAME,
        DEFAULT_SEED,
        DEFAULT_TUNER,
        DEFAULT_TUNING_DIR,
        PRESETS,
        TUNER_NAMES,
    )

    seed = PRESETS["seed"]
    u = sub.add_parser("tune", help="search the learning rates with keras-tuner, judged by val_fid")
    u.add_argument("--data", help="MNIST (default: the usual search)")
    u.add_argument("--tuner", choices=TUNER_NAMES, default=DEFAULT_TUNER, help="(default %(default)s)")
    u.add_argument("--directory", default=DEFAULT_TUNING_DIR, help="where searches live (default %(default)s)")
    u.add_argument(
        "--project-name", default=DEFAULT_PROJECT_NAME, help="this search's folder in --directory (default %(default)s)"
    )
    u.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help="settings other than the learning rates (default: %(default)s)",
    )
    _add_search_space_arguments(u)
    _add_trial_budget_arguments(u)
    u.add_argument(
        "--conditional",
        action="store_true",
        help="require a class-conditional GAN (the default preset's, where the data has labels)",
    )
    u.add_argument(
        "--reference",
        action="store_true",
        help=f"also train the original's lr_D {seed.lr_d:g} / lr_G {seed.lr_g:g} at the same budget, for comparison",
    )
    u.add_argument("--seed", type=_seed, default=DEFAULT_SEED)
    u.add_argument("--overwrite", action="store_true", help="discard a search already in the project folder")


def _add_trial_budget_arguments(u: argparse.ArgumentParser) -> None:
    """How much training and judging each of tune's trials gets."""
    from .presets import DEFAULT_HYPERBAND_EPOCHS, DEFAULT_MAX_TRIALS, DEFAULT_QUALITY_N, DEFAULT_STEPS_PER_TRIAL

    u.add_argument(
        "--max-trials",
        type=_positive_int,
        default=DEFAULT_MAX_TRIALS,
        help="trials in all (default %(default)s; not for hyperband)",
    )
    u.add_argument(
        "--steps-per-trial",
        type=_positive_int,
        default=DEFAULT_STEPS_PER_TRIAL,
        help="training steps per trial, warm-up included (default %(default)s)",
    )
    u.add_argument(
        "--quality-n",
        type=_fid_digits,
        default=DEFAULT_QUALITY_N,
        help="digits per trial for val_fid (default %(default)s)",
    )
    u.add_argument(
        "--hyperband-epochs",
        type=_positive_int,
        default=DEFAULT_HYPERBAND_EPOCHS,
        help="hyperband: a trial's budget in rounds (default %(default)s)",
    )


def _add_search_space_arguments(u: argparse.ArgumentParser) -> None:
    from .presets import BETA_1_CHOICES, LR_D_RANGE, LR_RATIO_RANGE

    u.add_argument("--lr-d-range", type=_learning_rate, nargs=2, metavar=("MIN", "MAX"), default=LR_D_RANGE)
    u.add_argument(
        "--ratio-range",
        type=_positive_float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=LR_RATIO_RANGE,
        help="lr_G / lr_D range (default %(default)s)",
    )
    u.add_argument("--warmup-steps", type=_nonnegative_int, help="discriminator-only steps at the start of each trial")
    u.add_argument(
        "--tune-beta-1",
        action="store_true",
        help="also choose Adam's beta_1 from " + " and ".join(map(str, BETA_1_CHOICES)),
    )


def _add_other_parsers(sub) -> None:
    from .presets import DEFAULT_EVALUATOR_EPOCHS, DEFAULT_SEED

    x = sub.add_parser("export", help="write a generator as ONNX, a TensorFlow SavedModel or a LiteRT file")
    x.add_argument("--model", help="a generator.keras or gan.keras file (default: the shipped generator)")
    x.add_argument("--out", required=True, help="the file (.onnx, .tflite) or SavedModel folder to write")
    x.add_argument(
        "--format", help="onnx, tf_saved_model or litert (default: from --out: .onnx, .tflite, else a SavedModel)"
    )

    w = sub.add_parser("web", help="write a static web page that draws digits in the browser")
    w.add_argument("--model", help="a generator.keras or gan.keras file (default: the shipped generator)")
    w.add_argument("--out", default="site", help="the site's folder: new, empty or an earlier site (default site)")

    i = sub.add_parser("info", help="print what a .keras file holds and the training and figures it records")
    i.add_argument("model_file", metavar="MODEL", help="a generator.keras, gan.keras or shipped model file")

    v = sub.add_parser("train-evaluator", help="train the MNIST classifier that evaluate uses")
    v.add_argument("--data", help="MNIST with labels (default: the usual search)")
    v.add_argument("--out", default="saved_models/evaluator.keras")
    v.add_argument("--epochs", type=_positive_int, default=DEFAULT_EVALUATOR_EPOCHS)
    v.add_argument("--seed", type=_seed, default=DEFAULT_SEED)


def _evaluate(args) -> None:
    import json

    from .data import load_mnist

    from .evaluation import Evaluator, quality, real_floor
    from .outputs import write_atomic
    from .presets import MIN_FID_DIGITS
    from .sampling import generate
    from .saving import load_generator

    if args.json:
        _check_output_file(args.json, "--json")
    generator = load_generator(args.model)
    evaluator = Evaluator.load(args.evaluator)
    data = load_mnist(args.data)
    for note in data.notes:  # a folder of images: what was resized, skipped, held back
        print(note)
    n = min(args.n, len(data.x_test))
    if n < MIN_FID_DIGITS:
        raise ValueError(
            f"{data.source} holds {len(data.x_test)} test digits; a Fréchet distance needs at least {MIN_FID_DIGITS}."
        )
    mem = not args.no_memorisation
    # A conditional generator draws each digit's class at random, as it
    # samples by default: figures comparable with an unconditional one's,
    # and its accuracy on the classes drawn.
    digits, labels = generate(generator, n, seed=args.seed, return_labels=True)
    ours = quality(evaluator, digits, data.x_test[:n], data.x_train if mem else None, memorisation=mem, labels=labels)
    floor = real_floor(evaluator, data.x_train, data.x_test, n, seed=args.seed, memorisation=mem)
    rows = [
        ("FID (lower is better)", "fid", "{:.3f}"),
        ("MNIST score (max 10)", "mnist_score", "{:.3f}"),
        ("within-class diversity (real digits 1)", "within_class_diversity", "{:.3f}"),
        ("class entropy, bits (max 3.32)", "class_entropy_bits", "{:.3f}"),
        ("rarest class share", "rarest_class_share", "{:.4f}"),
        ("mean confidence", "mean_confidence", "{:.4f}"),
        ("memorised share", "memorised_share", "{:.4f}"),
    ]
    print(f"{n} generated digits from {args.model} vs {n} real test digits ({data.source})")
    print("| figure | generator | real-data floor |\n| --- | --- | --- |")
    for label, key, fmt in rows:
        if key in ours:
            print(f"| {label} | {fmt.format(ours[key])} | {fmt.format(floor[key])} |")
    print("class shares: " + " ".join(f"{i}:{s:.3f}" for i, s in enumerate(ours["class_share"])))
    print(
        "within-class diversity per class (real digits 1): "
        + " ".join(f"{i}:{s:.2f}" for i, s in enumerate(ours["within_class_diversity_per_class"]))
    )
    if labels is not None:
        print(
            f"recognised as the digit asked for: {ours['accuracy']:.4f} overall; per digit "
            + " ".join(f"{i}:{a:.3f}" for i, a in enumerate(ours["accuracy_per_class"]))
        )
    if args.json:
        figures = {"model": args.model, "n": n, "data": data.source, "generator": ours, "real_floor": floor}
        write_atomic(args.json, lambda f: f.write(json.dumps(figures, indent=2).encode()))


def _train_evaluator(args) -> None:
    from .data import load_mnist
    from .mnist_data import DataError
    from .evaluation import train_evaluator
    from .saving import save_model_atomic

    if not args.out.endswith(".keras"):  # said now, not after the training
        raise ValueError(f"--out {args.out}: a model file's name must end in .keras.")
    from .outputs import OutputError, check_file_target

    try:
        check_file_target(args.out, parent_must_exist=False)
    except OutputError as e:
        raise ValueError(f"--out {e}") from None
    _writable_dir(os.path.dirname(args.out) or ".")
    data = load_mnist(args.data)
    if data.y_train is None or data.y_test is None:
        raise DataError(f"{data.source}: training the evaluator needs labels (y_train, y_test).")
    model, acc = train_evaluator(
        data.x_train, data.y_train, data.x_test, data.y_test, epochs=args.epochs, seed=args.seed
    )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)  # the default saved_models/ in a fresh folder
    save_model_atomic(model, args.out)
    print(f"test accuracy {acc:.4f} on {len(data.x_test)} digits ({data.source}); wrote {args.out}")


class _interrupt_on_signals:
    """SIGINT and SIGTERM both stop any command the way Ctrl-C does: training
    saves a checkpoint on the way out, and every command's temporary files
    are removed by the ``finally`` blocks that made them. (A shell starts
    background jobs with SIGINT ignored, and schedulers and ``timeout`` stop
    jobs with SIGTERM, which would otherwise end the process on the spot.)

    Python runs the handler wherever the main thread is, so its
    KeyboardInterrupt can land where it is lost: in a garbage-collector
    callback or a ``__del__`` (Python prints it and goes on; it is raised
    again here, at the next chance), or in a callback from TensorFlow's C++
    code (it comes out as another error; ``received`` tells that it was a
    stop). ``restore()`` puts the previous handlers back."""

    def __init__(self) -> None:
        import signal
        import threading

        self.received: str | None = None
        self._previous: dict = {}
        self._hook = sys.unraisablehook
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            self._previous = {sig: signal.signal(sig, self._interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
            sys.unraisablehook = self._unraisable

    def _interrupt(self, signum, frame):
        import signal

        self.received = signal.Signals(signum).name
        raise KeyboardInterrupt(self.received)

    def _unraisable(self, unraisable) -> None:
        if self.received and issubclass(unraisable.exc_type, KeyboardInterrupt):
            import _thread
            import signal
            import threading

            # The signal again in a moment, from another thread, so that the
            # handler runs once the main thread is out of this callback.
            again = threading.Timer(0.05, _thread.interrupt_main, (getattr(signal, self.received),))
            again.daemon = True
            again.start()
            return
        self._hook(unraisable)

    def restore(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if self._previous:
            sys.unraisablehook = self._hook


def _train(args) -> None:
    from .presets import MAX_NOISE_DIM, PRESETS
    from .run_config import RunConfig
    from .training import train

    if args.noise_dim is not None and not 4 <= args.noise_dim <= MAX_NOISE_DIM:
        raise ValueError(
            f"--noise-dim must be between 4 (the generator uses noise_dim/4 filters) and {MAX_NOISE_DIM} "
            f"(its first layer has 3136 x noise_dim weights); got {args.noise_dim}."
        )
    if not args.out.strip():
        raise ValueError("--out is empty; give the folder for the run's files (default: run).")
    _writable_dir(args.out)
    preset = PRESETS[args.preset].with_(
        lr_d=args.lr_d,
        lr_g=args.lr_g,
        beta_1=args.beta_1,
        batch_size=args.batch_size,
        warmup_steps=args.warmup_steps,
        noise_dim=args.noise_dim,
        label_smoothing=args.label_smoothing,
        ema_decay=args.ema_decay,
        r1_gamma=args.r1_gamma,
        r1_interval=args.r1_interval,
        mode_seeking=args.mode_seeking,
        minibatch_std=args.minibatch_std,
        two_d_optimizers=None if args.d_optimizers is None else args.d_optimizers == 2,
    )
    if not 0.0 <= preset.label_smoothing < 1.0:
        raise ValueError(f"--label-smoothing must be in [0, 1); got {preset.label_smoothing}.")
    config = RunConfig(
        preset=preset,
        steps=args.steps,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
        quality_n=args.quality_n,
        quality_every=args.quality_every,
        checkpoint_every=args.checkpoint_every,
        minutes=args.minutes,
        health=not args.no_health,
        stop_on_failure=args.stop_on_failure,
        conditional=True if args.conditional else (False if args.unconditional else None),
        verbose=0 if args.quiet else "auto",
    )
    try:
        result = train(
            args.out,
            args.data,
            config,
            resume=True if args.resume else (False if args.restart else None),
            command=shlex.join(["keras-mnist-gan", *getattr(args, "argv", [])]),
        )
    except OSError as e:
        raise _full_disk(e, args.out) from None
    if result.already_done:
        return
    print(
        f"trained {result.steps} steps; wrote "
        + ", ".join(result.files[k] for k in ("gan", "generator", "samples", "curves", "progress", "history"))
    )


def _full_disk(e: OSError, out: str) -> OSError:
    """A full disk in the middle of a run: what was being written, and that
    the last checkpoint is intact (every file is written beside its old
    version and renamed, so a failed write leaves the old one)."""
    import errno

    from .outputs import WriteError, write_error

    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return e
    what = str(e) if isinstance(e, WriteError) else str(write_error(e.filename or out, e))
    checkpoint = os.path.join(out, "gan.keras")
    kept = (
        f"the last checkpoint, {checkpoint}, is intact: free some space and run the same command to resume"
        if os.path.isfile(checkpoint)
        else "no checkpoint had been saved yet"
    )
    return WriteError(f"{what.rstrip('.').removesuffix('; free some space and run again')}; {kept}.", e.errno)


def _export(args) -> None:
    from .evaluation import shipped_model
    from .export import (
        CHECK_BATCH_SIZES,
        TOLERANCE,
        ExportError,
        check_export,
        check_target,
        export_generator,
        format_for,
        require,
    )
    from .saving import load_generator

    fmt = format_for(args.out, args.format)
    require(fmt)
    check_target(args.out, fmt)  # before the model loads: nothing of the user's is replaced
    _writable_dir(os.path.dirname(os.path.abspath(args.out)))
    generator = load_generator(args.model or shipped_model("generator.keras"))
    export_generator(generator, args.out, fmt)
    diff = check_export(generator, args.out, fmt)
    sizes = ", ".join(map(str, CHECK_BATCH_SIZES))
    if diff > TOLERANCE:
        raise ExportError(f"{args.out} differs from the Keras generator by {diff:.1e} (more than {TOLERANCE:g}).")
    print(
        f"wrote {args.out} ({fmt}, {_size(args.out)}): it draws what the Keras generator draws, "
        f"within {diff:.1e}, checked on {sizes} digits"
    )


def _web(args) -> None:
    from .evaluation import shipped_model
    from .export import require
    from .saving import load_generator
    from .webpage import check_site_folder, write_site

    check_site_folder(args.out)
    require("onnx")
    _writable_dir(args.out)  # the nearest folder that exists: '.' itself for --out .
    from .models import num_classes_of
    from .rundir import run_class_names

    model = args.model or shipped_model("generator.keras")
    generator = load_generator(model)
    names = run_class_names(model, num_classes_of(generator))
    files = write_site(generator, args.out, source=os.path.basename(model), class_names=names)
    print(
        f"wrote {args.out}/ ({len(files)} files, {_size(args.out)}). Serve it with\n"
        f"  python -m http.server -d {args.out}\n"
        "and open http://localhost:8000/"
    )


def _info(args) -> None:
    from .modelinfo import model_info

    print(model_info(args.model_file))


def _size(path: str) -> str:
    files = [path] if os.path.isfile(path) else [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    return f"{sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB"


def _tune(args) -> None:
    from .presets import BETA_1_CHOICES, PRESETS
    from .tuning import SearchSpace, run_search

    _writable_dir(args.directory)
    space = SearchSpace(
        lr_d=tuple(args.lr_d_range), ratio=tuple(args.ratio_range), beta_1=BETA_1_CHOICES if args.tune_beta_1 else None
    )
    preset = PRESETS[args.preset].with_(warmup_steps=args.warmup_steps)
    run_search(
        args.directory,
        args.project_name,
        data=args.data,
        tuner=args.tuner,
        max_trials=args.max_trials,
        steps_per_trial=args.steps_per_trial,
        space=space,
        preset=preset,
        quality_n=args.quality_n,
        seed=args.seed,
        overwrite=args.overwrite,
        hyperband_epochs=args.hyperband_epochs,
        reference=(PRESETS["seed"].lr_d, PRESETS["seed"].lr_g) if args.reference else None,
        conditional=True if args.conditional else None,
    )


def _sample(args) -> None:
    from .sampling import generate

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
    from .images import check_grid_size, image_format
    from .presets import GRID_COLS_PER_DIGIT, GRID_DIGITS

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
    from .evaluation import shipped_model
    from .models import num_classes_of
    from .saving import load_generator

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
        from .rundir import run_class_names

        text = getattr(digits, "text", ",".join(map(str, digits)))
        where = args.model or "the shipped generator"
        digits = _resolve_classes(digits, classes, run_class_names(model, classes), text, where)
    return generator, classes, digits


def _sample_walks(args, generator, classes, digits, animate: bool, n: int, cols: int | None) -> None:
    """`sample --interpolate`: walks between random points of the noise space."""
    from .models import noise_dim_of
    from .sampling import generator_inputs
    from .visuals import interpolation_gif, interpolation_noise

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

    from .sampling import balanced_labels

    return np.asarray(digits, np.int32)[balanced_labels(n, len(digits), per=cols)]


def _write_samples(digits, args, cols) -> list[str]:
    import numpy as np

    from .images import save_grid
    from .outputs import write_atomic

    save_grid(digits, args.out, ncols=cols)
    written = [args.out]
    if args.npy:
        write_atomic(args.npy, lambda f: np.save(f, digits))
        written.append(args.npy)
    return written


def main(argv: list[str] | None = None) -> int:
    """The ``keras-mnist-gan`` command; ``argv`` None reads the process's
    arguments (and, unless --verbose, filters TensorFlow's native log lines
    from the process's stderr: see `console`)."""
    from .console import BackendError, check_backend, quiet_native_logs

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # train records its command in generator.keras
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if argv is None:
            quiet_native_logs()
    try:
        check_backend()
    except BackendError as e:
        print(f"keras-mnist-gan {args.command}: error: {e}", file=sys.stderr)
        return 1
    from .mnist_data import DataError
    from .saving import ModelFileError
    from .training import TrainingError

    stop = _interrupt_on_signals()
    try:
        try:
            for flag in ("data", "model", "evaluator"):
                _check_input(getattr(args, flag, None), f"--{flag}")
            {
                "train": _train,
                "sample": _sample,
                "evaluate": _evaluate,
                "train-evaluator": _train_evaluator,
                "tune": _tune,
                "export": _export,
                "web": _web,
                "info": _info,
            }[args.command](args)
        finally:
            stop.restore()  # inside the outer try: a stop that lands here is still a stop
    except BaseException as e:
        if not (isinstance(e, KeyboardInterrupt) or stop.received):
            if isinstance(e, (DataError, ModelFileError, TrainingError, ValueError, OSError)):
                print(f"keras-mnist-gan {args.command}: error: {e}", file=sys.stderr)
                return 1
            raise
        print(f"keras-mnist-gan {args.command}: interrupted", file=sys.stderr)
        if argv is None:
            # The process is ending: objects the interrupt left half-built
            # (TensorFlow's, mid-import) would print "Exception ignored in
            # ... __del__" tracebacks as they are collected.
            sys.unraisablehook = lambda unraisable: None
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

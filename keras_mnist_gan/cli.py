"""``keras-mnist-gan``: train a GAN, sample digits from a saved one.

Bad input of any kind ends with one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
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


def build_parser() -> argparse.ArgumentParser:
    from .presets import DEFAULT_PRESET, PRESETS

    parser = argparse.ArgumentParser(prog="keras-mnist-gan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN on MNIST and save it")
    t.add_argument("--data", help="mnist.npz or a directory of IDX files (default: $KERAS_MNIST_GAN_DATA, "
                                  "the Keras cache, a download, else the shipped subset)")
    t.add_argument("--out", default="run", help="directory for the model files, grids and history (default: run)")
    t.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET, help="training settings (default: %(default)s)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int, help="training steps in all, warm-up included")
    length.add_argument("--epochs", type=_positive_int, help="passes over the training digits (default 1)")
    t.add_argument("--steps-per-epoch", type=_positive_int, help="steps between progress lines and digit grids")
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr-d", type=_learning_rate, help="discriminator learning rate")
    t.add_argument("--lr-g", type=_learning_rate, help="generator learning rate")
    t.add_argument("--beta-1", type=_learning_rate, help="Adam beta_1 of all optimizers")
    t.add_argument("--warmup-steps", type=_nonnegative_int, help="discriminator-only steps at the start")
    t.add_argument("--noise-dim", type=_positive_int)
    t.add_argument("--seed", type=_nonnegative_int, default=0, help="seeds weights, data order and noise (default 0)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="draw digits from a saved generator or GAN")
    s.add_argument("--model", required=True, help="a generator.keras or gan.keras file")
    s.add_argument("-n", type=_positive_int, default=64, help="how many digits (default 64)")
    s.add_argument("--out", default="digits.png", help="PNG grid to write (default digits.png)")
    s.add_argument("--npy", help="also save the digits as a float32 .npy array (n, 28, 28, 1)")
    s.add_argument("--seed", type=_nonnegative_int, help="noise seed, for repeatable digits")
    s.add_argument("--cols", type=_positive_int, help="grid columns (default: square)")
    return parser


def _train(args) -> None:
    from .presets import PRESETS
    from .training import train

    if args.noise_dim is not None and args.noise_dim < 4:
        raise ValueError(f"--noise-dim must be at least 4 (the generator uses noise_dim/4 filters); got {args.noise_dim}.")
    _writable_dir(args.out)
    preset = PRESETS[args.preset].with_(
        lr_d=args.lr_d, lr_g=args.lr_g, beta_1=args.beta_1, batch_size=args.batch_size,
        warmup_steps=args.warmup_steps, noise_dim=args.noise_dim,
    )
    result = train(args.out, data=args.data, preset=preset, steps=args.steps, epochs=args.epochs,
                   steps_per_epoch=args.steps_per_epoch, seed=args.seed, verbose=0 if args.quiet else "auto")
    print(f"trained {result.steps} steps; wrote " + ", ".join(result.files[k] for k in ("gan", "generator", "samples", "history")))


def _sample(args) -> None:
    import numpy as np

    from .gan import generate
    from .images import save_grid
    from .saving import load_generator

    for target in filter(None, (args.out, args.npy)):
        _writable_dir(os.path.dirname(target) or ".")
    generator = load_generator(args.model)
    digits = generate(generator, args.n, seed=args.seed)
    save_grid(digits, args.out, ncols=args.cols)
    written = [args.out]
    if args.npy:
        np.save(args.npy, digits)
        written.append(args.npy)
    print(f"wrote {args.n} digits to " + ", ".join(written))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from .data import DataError
    from .saving import ModelFileError
    from .training import TrainingError

    try:
        {"train": _train, "sample": _sample}[args.command](args)
    except (DataError, ModelFileError, TrainingError, ValueError, OSError) as e:
        print(f"keras-mnist-gan {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"keras-mnist-gan {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

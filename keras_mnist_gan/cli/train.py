"""keras-mnist-gan train: its options and the run it starts."""

from __future__ import annotations

import argparse
import shlex

from .arguments import (
    _batch_size,
    _learning_rate,
    _nonnegative_float,
    _nonnegative_int,
    _positive_float,
    _positive_int,
    _quality_digits,
    _seed,
)
from .paths import _full_disk, _writable_dir


def _add_train_parser(sub) -> None:
    t = sub.add_parser("train", help="train a GAN on MNIST and save it")
    _add_run_arguments(t)
    _add_recipe_arguments(t)
    _add_run_options(t)


def _add_run_arguments(t: argparse.ArgumentParser) -> None:
    """train: the data, the folder and the run's length."""
    from ..presets import DEFAULT_PRESET, DEFAULT_RUN_DIR, DEFAULT_STEPS, DEFAULT_STEPS_PER_EPOCH, PRESETS

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
    from ..presets import DEFAULT_CHECKPOINT_EVERY, DEFAULT_QUALITY_EVERY, DEFAULT_QUALITY_N, DEFAULT_SEED

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


def _train(args) -> None:
    from ..modelinfo import command_without_paths
    from ..presets import MAX_NOISE_DIM, PRESETS
    from ..run_config import RunConfig
    from ..training import train

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
            command=shlex.join(["keras-mnist-gan", *command_without_paths(getattr(args, "argv", []))]),
        )
    except OSError as e:
        raise _full_disk(e, args.out) from None
    if result.already_done:
        return
    print(
        f"trained {result.steps} steps; wrote "
        + ", ".join(result.files[k] for k in ("gan", "generator", "samples", "curves", "progress", "history"))
    )

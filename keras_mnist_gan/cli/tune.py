"""keras-mnist-gan tune: its options and the search it runs."""

from __future__ import annotations

import argparse

from .arguments import _fid_digits, _learning_rate, _nonnegative_int, _positive_float, _positive_int, _seed
from .paths import _writable_dir


def _add_tune_parser(sub) -> None:
    from ..presets import (
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
    from ..presets import DEFAULT_HYPERBAND_EPOCHS, DEFAULT_MAX_TRIALS, DEFAULT_QUALITY_N, DEFAULT_STEPS_PER_TRIAL

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
    from ..presets import BETA_1_CHOICES, LR_D_RANGE, LR_RATIO_RANGE

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


def _tune(args) -> None:
    from ..presets import BETA_1_CHOICES, PRESETS
    from ..tuning import SearchSpace, run_search

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

"""The argparse types of the commands' options: each reads one value and says in one line what is wrong with it."""

from __future__ import annotations

import argparse

from ..noise import MAX_SEED


# The most digits one `sample` or `evaluate` may ask for: 100,000 are 300 MB
# as float32 and a grid 19,000 pixels square; ten million would take 8 GB
# and more before anything was said.
MAX_SAMPLE_DIGITS = 100_000


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


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _quality_digits(text: str) -> int:
    from ..presets import MIN_FID_DIGITS

    value = _nonnegative_int(text)
    if 0 < value < MIN_FID_DIGITS:
        raise argparse.ArgumentTypeError(
            f"a Fréchet distance needs at least {MIN_FID_DIGITS} digits (0: off), got {value}"
        )
    return value


def _fid_digits(text: str) -> int:
    from ..presets import MIN_FID_DIGITS

    value = _digit_count(text)
    if value < MIN_FID_DIGITS:
        raise argparse.ArgumentTypeError(f"a Fréchet distance needs at least {MIN_FID_DIGITS} digits, got {value}")
    return value


def _batch_size(text: str) -> int:
    from ..presets import MAX_BATCH_SIZE

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

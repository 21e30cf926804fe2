"""`RunConfig`: everything that defines a training run but its data and folder.

The CLI builds one from its arguments, `training.train` takes one (or the
same fields as keyword arguments), and each tuning trial builds its own
from the search's. Every default is read from `presets`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from .presets import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_PRESET,
    DEFAULT_QUALITY_EVERY,
    DEFAULT_QUALITY_N,
    DEFAULT_SEED,
    DEFAULT_STEPS,
    DEFAULT_STEPS_PER_EPOCH,
    MAX_BATCH_SIZE,
    MIN_FID_DIGITS,
    PRESETS,
    Preset,
)


@dataclass(frozen=True)
class RunConfig:
    """Args:
    preset: the training settings (a `Preset` or a name in `PRESETS`).
    steps: training steps in all, the discriminator's warm-up included
        (default `DEFAULT_STEPS`, whatever the size of the data); or
    epochs: passes over the training digits instead.
    steps_per_epoch: steps between history rows and digit grids (a Keras
        epoch; default `DEFAULT_STEPS_PER_EPOCH`, at most ``steps``).
    seed: seeds the weights, the data order and the noise.
    quality_n: digits behind each quality figure (0: none).
    quality_every: steps between quality figures during the run (0: only
        at its end).
    checkpoint_every: steps between checkpoints of the whole GAN.
    minutes: stop cleanly after this much wall time (None: no limit).
    health: watch for a winning D or a collapsing G (`GameHealth`), and
    stop_on_failure: end the run when it warns.
    conditional: True requires a class-conditional GAN, False the
        unconditional one; None follows the preset (and the data's labels).
    verbose: progress lines ("auto": a bar on a terminal; 0: none).
    """

    preset: Preset | str = DEFAULT_PRESET
    steps: int | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    seed: int = DEFAULT_SEED
    quality_n: int = DEFAULT_QUALITY_N
    quality_every: int = DEFAULT_QUALITY_EVERY
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    minutes: float | None = None
    health: bool = True
    stop_on_failure: bool = False
    conditional: bool | None = None
    verbose: int | str = "auto"

    def __post_init__(self):
        if isinstance(self.preset, str):
            if self.preset not in PRESETS:
                raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(sorted(PRESETS))}.")
            object.__setattr__(self, "preset", PRESETS[self.preset])
        if self.steps is not None and self.epochs is not None:
            raise ValueError("give steps or epochs, not both.")
        for name in ("steps", "epochs", "steps_per_epoch", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ValueError(f"{name} must be positive; got {value}.")
        if not 1 <= self.preset.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"the batch size must be from 1 to {MAX_BATCH_SIZE}; got {self.preset.batch_size}.")
        if 0 < self.quality_n < MIN_FID_DIGITS or self.quality_n < 0:
            raise ValueError(
                f"quality_n must be 0 (off) or at least {MIN_FID_DIGITS} (a Fréchet distance needs that "
                f"many digits); got {self.quality_n}."
            )
        if self.quality_every < 0:
            raise ValueError(f"quality_every must be 0 or more; got {self.quality_every}.")
        if self.minutes is not None and not 0 < self.minutes < math.inf:
            raise ValueError(f"minutes must be a positive number; got {self.minutes}.")

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def total_steps(self, train_images: int) -> int:
        """The run's length in steps, for ``train_images`` training digits."""
        batches_per_pass = train_images // self.preset.batch_size
        if batches_per_pass < 1:
            raise ValueError(
                f"the dataset holds {train_images} images, fewer than one batch of {self.preset.batch_size}."
            )
        if self.steps is not None:
            return int(self.steps)
        return int(self.epochs) * batches_per_pass if self.epochs else DEFAULT_STEPS

    def epoch_steps(self, steps: int) -> int:
        return int(self.steps_per_epoch or min(DEFAULT_STEPS_PER_EPOCH, steps))

    def as_dict(self) -> dict:
        return asdict(self)

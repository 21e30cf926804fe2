"""A search's trial: the hyperparameters it varies (`SearchSpace`), the GAN it trains and judges (`GANHyperModel`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import keras_tuner as kt

from .fitting import fit_steps
from .mnist_data import MnistData
from .presets import DEFAULT_STEPS_PER_TRIAL, LR_D_RANGE, LR_RATIO_RANGE, MIN_FID_DIGITS
from .run_config import RunConfig
from .training import run_callbacks


class SearchError(ValueError):
    """A search cannot start: bad ranges, budgets or directory."""


@dataclass(frozen=True)
class SearchSpace:
    """The hyperparameters a search varies, each on a log scale.

    ``ratio`` is lr_G / lr_D. ``beta_1``: Adam's beta_1 choices for all
    optimizers, or None to keep the preset's.
    """

    lr_d: tuple[float, float] = LR_D_RANGE
    ratio: tuple[float, float] = LR_RATIO_RANGE
    beta_1: tuple[float, ...] | None = None

    def __post_init__(self):
        lo, hi = self.lr_d
        if not 0.0 < lo < hi < 1.0:
            raise SearchError(
                f"the lr_D range must satisfy 0 < min < max < 1; got {lo:g} .. {hi:g} (empty or inverted)."
            )
        lo, hi = self.ratio
        if not 0.0 < lo < hi:
            raise SearchError(
                f"the lr_G/lr_D ratio range must satisfy 0 < min < max; got {lo:g} .. {hi:g} (empty or inverted)."
            )
        if self.beta_1 is not None and (not self.beta_1 or not all(0.0 <= b < 1.0 for b in self.beta_1)):
            raise SearchError(f"beta_1 choices must be in [0, 1); got {self.beta_1}.")

    def declare(self, hp: kt.HyperParameters) -> dict:
        """Declare the hyperparameters on ``hp``; return this trial's values."""
        values = {
            "lr_d": hp.Float("lr_d", *self.lr_d, sampling="log"),
            "ratio": hp.Float("ratio", *self.ratio, sampling="log"),
        }
        if self.beta_1 is not None:
            values["beta_1"] = hp.Choice("beta_1", list(self.beta_1))
        return values


class GANHyperModel(kt.HyperModel):
    """One trial: a GAN trained as ``config`` says (its preset's learning
    rates the trial's), then judged by its digits.

    ``config.steps`` is the trial's budget, the discriminator's warm-up
    included; with Hyperband one of its "epochs" is
    ``config.steps_per_epoch`` steps. ``fit`` returns ``val_fid`` (the
    objective), ``val_score``, ``val_class_entropy``, ``val_rarest_class``
    and ``seconds``.
    """

    def __init__(
        self,
        space: SearchSpace = SearchSpace(),
        config: RunConfig | None = None,
        evaluator=None,
        name: str = "mnist_gan",
        num_classes: int | None = None,
    ):
        """``num_classes``: a conditional preset's classes (None: MNIST's 10)."""
        super().__init__(name=name, tunable=True)
        self.num_classes = num_classes
        self.space = space
        config = config or RunConfig(steps=DEFAULT_STEPS_PER_TRIAL)
        # A trial has no folder and no health monitor; its figure is its end.
        steps = config.steps or DEFAULT_STEPS_PER_TRIAL
        self.config = config.with_(
            steps=steps,
            steps_per_epoch=config.steps_per_epoch or steps,
            health=False,
            verbose=0,
            quality_every=0,
            minutes=None,
        )
        if self.config.quality_n < MIN_FID_DIGITS:
            raise SearchError(
                f"quality_n must be at least {MIN_FID_DIGITS} digits (a Fréchet distance needs a "
                f"covariance of full rank); got {self.config.quality_n}."
            )
        self._evaluator = evaluator

    @property
    def steps(self) -> int:
        return int(self.config.steps)

    @property
    def evaluator(self):
        if self._evaluator is None:
            from .evaluation import Evaluator

            self._evaluator = Evaluator.load()
        return self._evaluator

    def trial_config(self, hp: kt.HyperParameters) -> RunConfig:
        v = self.space.declare(hp)
        preset = self.config.preset.with_(lr_d=v["lr_d"], lr_g=v["lr_d"] * v["ratio"], beta_1=v.get("beta_1"))
        return self.config.with_(preset=preset)

    def build(self, hp: kt.HyperParameters):
        from .fitting import build_gan

        # Every trial starts from the same weights and noise, so trials
        # differ by their hyperparameters alone.
        keras.utils.set_random_seed(self.config.seed)
        return build_gan(self.trial_config(hp).preset, seed=self.config.seed, num_classes=self.num_classes)

    def fit(self, hp, model, data: MnistData, callbacks=None, epochs: int | None = None, labels=None, **kwargs) -> dict:
        config = self.trial_config(hp)
        steps_per_epoch = config.epoch_steps(self.steps)
        epochs = int(epochs or math.ceil(self.steps / steps_per_epoch))
        total = min(self.steps, epochs * steps_per_epoch)
        cb = run_callbacks(config, total, data, evaluator=self.evaluator)
        start = time.perf_counter()
        fit_steps(model, config, data.x_train, labels, total, steps_per_epoch, cb.all + list(callbacks or []))
        if cb.nonfinite.message:
            raise kt.errors.FailedTrialError(cb.nonfinite.message)
        return {**cb.quality.last, "seconds": time.perf_counter() - start}

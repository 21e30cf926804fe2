"""Which parts of the game each step plays, as data (StyleGAN2's phases).

- `Phases`: what one step does: D always takes its step; G too, or not yet
  (D's warm-up); R1 joins D's loss, or not (lazy regularisation).
- `Schedule`: which step plays which phases, and how fast the weight
  average of G warms up. Saved with the GAN (its compile config); the
  step counter and G's first step are variables of the GAN, saved with its
  weights, so a resumed run carries on the same schedule. The warm-up
  callback (`DiscriminatorWarmup`) only sets G's first step.
- `PhasedTraining`: the `keras.Model` side: one compiled step per phase
  set, picked by a Python clock at each call, so a phase change never
  retraces.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
from keras import ops


class Phases(NamedTuple):
    train_generator: bool = True
    regularize: bool = False


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class Schedule:
    """Args:
    r1_interval: the R1 penalty (when the GAN has one) is taken every
        ``r1_interval`` steps, weighted by ``r1_interval``: the same pull on
        D's slopes on average at a fraction of the cost (StyleGAN2).
    ema_ramp: the weight average of G uses decay ``min(decay, (1 + n) /
        (ema_ramp + n))`` after n generator steps: early on a plain average
        would be dominated by the random initial weights (as
        `tf.train.ExponentialMovingAverage`'s ``num_updates``).
    """

    def __init__(self, r1_interval: int = 1, ema_ramp: float = 10.0):
        if int(r1_interval) != r1_interval or int(r1_interval) < 1:
            raise ValueError(f"r1_interval must be a whole number >= 1; got {r1_interval}.")
        if not float(ema_ramp) >= 1.0:
            raise ValueError(f"ema_ramp must be at least 1; got {ema_ramp}.")
        self.r1_interval = int(r1_interval)
        self.ema_ramp = float(ema_ramp)

    def phases_at(self, step: int, generator_start: int, r1: bool) -> Phases:
        """What step ``step`` plays: G trains from ``generator_start`` on;
        with ``r1``, every ``r1_interval``-th step regularises D."""
        return Phases(train_generator=step >= generator_start, regularize=r1 and step % self.r1_interval == 0)

    def possible_phases(self, r1: bool) -> list[Phases]:
        return [Phases(g, r) for g in (False, True) for r in ((False, True) if r1 else (False,))]

    def ema_decay(self, decay: float, generator_steps):
        n = ops.cast(ops.maximum(generator_steps, 0), "float32")
        return ops.minimum(decay, (1.0 + n) / (self.ema_ramp + n))

    def get_config(self) -> dict:
        return {"r1_interval": self.r1_interval, "ema_ramp": self.ema_ramp}

    @classmethod
    def from_config(cls, config: dict) -> "Schedule":
        return cls(**config)

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and self.get_config() == other.get_config()

    def __repr__(self) -> str:
        return f"Schedule(r1_interval={self.r1_interval}, ema_ramp={self.ema_ramp:g})"


class _ReadClock(keras.callbacks.Callback):
    """Reads the step counter and G's first step into the dispatch at train
    begin: a callback, because on JAX the variables can be read only there
    during `fit` (its trainer holds their values outside them)."""

    def on_train_begin(self, logs=None):
        model = self.model
        dispatch = model.train_function
        dispatch.clock.update(step=int(model.step.numpy()), generator_start=int(model.generator_start.numpy()))
        # Every phase's function made now, while the variables hold their
        # values (JAX's, under a distribution, reads their shardings); each
        # is traced at its first call only.
        for phases in model.possible_phases():
            if phases not in dispatch.compiled:
                dispatch.compiled[phases] = model._compile_step(phases)
        model.train_function = dispatch


class PhasedTraining:
    """Mixed into a `keras.Model` with ``step`` and ``generator_start``
    variables, a ``schedule`` and a ``train_step`` that reads
    ``self._phases``: Keras's compiled step, once per `Phases`."""

    _phases = Phases()

    def phases_at(self, step: int, generator_start: int) -> Phases:
        return self.schedule.phases_at(step, generator_start, r1=self.r1_gamma > 0)

    def possible_phases(self) -> list[Phases]:
        return self.schedule.possible_phases(r1=self.r1_gamma > 0)

    def make_train_function(self, force=False):
        """Each call runs the compiled function its phases call for: a phase
        change picks another and never retraces (R1 every 16 steps would
        otherwise trace every 16 steps). The clock is read once per `fit`
        (`_ReadClock`), then counts in Python: nothing per step on any
        backend."""
        if self.train_function is not None and not force:
            return self.train_function
        compiled, clock = {}, {}

        def train_function(*args):
            phases = self.phases_at(clock["step"], clock["generator_start"])
            if phases not in compiled:
                compiled[phases] = self._compile_step(phases)
                self.train_function = train_function
            clock["step"] += self.steps_per_execution
            self._phases = phases  # PyTorch's trainer looks `train_step` up at each call
            return compiled[phases](*args)

        train_function.clock, train_function.compiled = clock, compiled
        self.train_function = train_function
        return train_function

    def _compile_step(self, phases: Phases):
        """Keras's compiled step for ``phases``: ``train_step`` becomes a
        function of its own per phase set, so a JAX or TensorFlow compile
        cache keyed by the function never hands one phase's program to
        another."""
        step = type(self).train_step

        def train_step(*args):
            self._phases = phases
            return step(self, *args)

        self.train_step = train_step
        try:
            super().make_train_function(force=True)
        finally:
            del self.train_step
        return self.train_function

    def fit(self, *args, **kwargs):
        # Last, so that it reads what the other callbacks (the warm-up) set
        # at train begin.
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _ReadClock()]
        return super().fit(*args, **kwargs)

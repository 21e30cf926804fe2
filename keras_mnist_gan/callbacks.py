"""Callbacks that shape and watch a GAN's `fit`.

Those that steer it (the warm-up, when it stops, checkpoints, BatchNorm
statistics) are here; the progress bar is in `progress`, the quality
figures, history.csv and digit grids in `records`, all importable from here.
"""

from __future__ import annotations

import math
import time

import keras

from .presets import DEFAULT_CHECKPOINT_EVERY, SEED_RECIPE
from .progress import StepProgress
from .records import HistoryCSV, QualityMetrics, SampleGrid
from .sampling import CALIBRATION_DIGITS

__all__ = [
    "CalibrateBatchNorm",
    "Checkpoint",
    "ContinueEpoch",
    "DiscriminatorWarmup",
    "HistoryCSV",
    "QualityMetrics",
    "SampleGrid",
    "StepProgress",
    "StopAfterMinutes",
    "StopAtStep",
    "StopOnNonFinite",
]


class DiscriminatorWarmup(keras.callbacks.Callback):
    """Train the discriminator alone for the first ``steps`` batches of `fit`.

    The original design pre-trained D for 300 steps so that the generator's
    first gradients come from a discriminator that already tells digits from
    noise. This callback only sets where that ends: the GAN's
    ``generator_start`` variable (saved with the model, so a resumed run
    knows), which the GAN's step reads (`GAN.phases_at`, `schedule.Schedule`).
    """

    def __init__(self, steps: int = SEED_RECIPE.warmup_steps):
        super().__init__()
        if int(steps) < 0:
            raise ValueError(f"warm-up steps must be >= 0; got {steps}.")
        self.steps = int(steps)

    def on_train_begin(self, logs=None):
        step = int(self.model.step.numpy())
        if self.steps > 0:
            self.model.generator_start.assign(step + self.steps)
        else:
            # No warm-up: G trains from now on, and an earlier start (which
            # the weight average's ramp counts from) is kept.
            self.model.generator_start.assign(min(int(self.model.generator_start.numpy()), step))


class StopAtStep(keras.callbacks.Callback):
    """End `fit` once the GAN has done ``total_steps`` training steps."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = int(total_steps)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.step.numpy()) >= self.total_steps:
            self.model.stop_training = True


class StopAfterMinutes(keras.callbacks.Callback):
    """End `fit` once ``minutes`` of wall time have passed since it began.

    ``self.stopped_at`` is the step it stopped at (None if the budget was
    not used up). The checkpoint saved at train end lets the same command
    continue the run later.
    """

    def __init__(self, minutes: float, started: float | None = None):
        super().__init__()
        if not float(minutes) > 0:
            raise ValueError(f"the time budget must be positive; got {minutes} minutes.")
        self.seconds = 60.0 * float(minutes)
        self.stopped_at: int | None = None
        self._start = started  # a time.monotonic() reading; default: the first train begin

    def on_train_begin(self, logs=None):
        if self._start is None:
            self._start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self._start >= self.seconds:
            self.stopped_at = int(self.model.step.numpy())
            self.model.stop_training = True


class ContinueEpoch(keras.callbacks.Callback):
    """After a resume in the middle of an epoch, put back the metric totals
    the checkpoint saved, so the epoch's history row averages all its steps,
    not only those after the resume. (`fit` resets the metrics just before
    ``on_epoch_begin``.)"""

    def __init__(self):
        super().__init__()
        self._done = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._done:
            self._done = True
            self.model.restore_metric_states()


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first NaN or infinite loss, and say which and when.

    Keras's TerminateOnNaN watches only ``loss``, which a GAN does not log.
    After a stop, ``self.message`` explains it (the CLI prints it and keeps
    the last good files).
    """

    def __init__(self):
        super().__init__()
        self.message = None

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if "loss" in name and not math.isfinite(float(value)):
                self.message = (
                    f"{name} became {float(value)} at step {int(self.model.step.numpy())}; "
                    "training stopped (try lower learning rates)."
                )
                self.model.stop_training = True
                return


class Checkpoint(keras.callbacks.Callback):
    """Save the whole GAN (weights, optimizers, step counter, noise state)
    every ``every_steps`` steps and when training ends, through a temporary
    file and a rename: a kill at any moment leaves the previous good file.

    Nothing is saved once a loss has turned NaN or infinite, so the last
    checkpoint is always one of a healthy game. ``self.saved_step`` is the
    step of the latest checkpoint.
    """

    def __init__(self, path: str, every_steps: int = DEFAULT_CHECKPOINT_EVERY):
        super().__init__()
        if int(every_steps) < 1:
            raise ValueError(f"checkpoint interval must be at least 1 step; got {every_steps}.")
        self.path = path
        self.every_steps = int(every_steps)
        self.saved_step: int | None = None
        self._healthy = True

    def save(self):
        from .saving import save_model_atomic

        if self.model is None:  # fit never ran: nothing new to save
            return
        step = int(self.model.step.numpy())
        if self._healthy and step != self.saved_step:
            save_model_atomic(self.model, self.path)
            self.saved_step = step

    def on_train_batch_end(self, batch, logs=None):
        if any("loss" in k and not math.isfinite(float(v)) for k, v in (logs or {}).items()):
            self._healthy = False
        elif int(self.model.step.numpy()) % self.every_steps == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()


class CalibrateBatchNorm(keras.callbacks.Callback):
    """Recompute the generator's BatchNorm statistics at each epoch end and
    at the end of training, so that inference-mode samples (grids, saved
    models, `GAN.generate`) show what the generator really draws."""

    def __init__(self, n: int = CALIBRATION_DIGITS):
        super().__init__()
        self.n = n

    def on_epoch_end(self, epoch, logs=None):
        self.model.calibrate_batchnorm(self.n)

    def on_train_end(self, logs=None):
        self.model.calibrate_batchnorm(self.n)

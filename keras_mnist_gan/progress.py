"""The progress bar of a run, counted in its own steps: one plain line an epoch off a terminal."""

from __future__ import annotations

import math
import time

import keras
import numpy as np


class StepProgress(keras.callbacks.Callback):
    """A progress bar per epoch, counted in the run's own steps.

    Keras's bar counts the batches of this `fit` call, so a resumed run
    would start its epoch at 0; this one continues where the run stopped
    ("steps 2,001-3,000 of 10,000", at 936/1000) and prints the epoch's
    quality figures when the epoch ends.

    Off a terminal (``train > log.txt``, a scheduler's log) one plain line
    at the end of each epoch replaces the bar: Keras's bar redraws itself
    with ANSI escapes and carriage returns whenever Python runs on POSIX,
    terminal or not, which a file keeps as one endless line of every step.
    ``live`` overrides the choice (default: whether stdout is a terminal).
    """

    def __init__(self, total_steps: int, steps_per_epoch: int, print_fn=print, live: bool | None = None):
        super().__init__()
        self.total_steps = int(total_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        self.print_fn = print_fn
        self.live = _stdout_is_a_terminal() if live is None else bool(live)
        self._bar = None
        self._first = 0
        self._started = 0.0

    def _position(self) -> int:
        return int(self.model.step.numpy()) - self._first

    def _header(self) -> str:
        last = min(self._first + self.steps_per_epoch, self.total_steps)
        epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        return (
            f"Epoch {self._first // self.steps_per_epoch + 1}/{epochs}: "
            f"steps {self._first + 1:,}-{last:,} of {self.total_steps:,}"
        )

    def on_epoch_begin(self, epoch, logs=None):
        step = int(self.model.step.numpy())
        self._first = step - step % self.steps_per_epoch
        self._started = time.monotonic()
        self.print_fn(self._header())
        self._bar = None
        self._target = min(self._first + self.steps_per_epoch, self.total_steps) - self._first

    def on_train_batch_end(self, batch, logs=None):
        if not self.live:
            return
        logs = logs or {}
        if self._bar is None:
            # The GAN's logs are running means already: show them as they are.
            self._bar = keras.utils.Progbar(self._target, stateful_metrics=list(logs))
        self._bar.update(self._position(), values=list(logs.items()))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        quality = [f"{k} {float(v):.4g}" for k, v in sorted(logs.items()) if k.startswith("val_")]
        if self.live:
            if quality:
                self.print_fn("  " + ", ".join(quality))
            return
        # The bar's last state as one plain line: where the epoch ended, its figures and its time.
        figures = [f"{k} {float(v):.4g}" for k, v in logs.items() if not k.startswith("val_") and np.ndim(v) == 0]
        seconds = time.monotonic() - self._started
        self.print_fn(
            f"  step {int(self.model.step.numpy()):,}: " + ", ".join(figures + quality + [f"{seconds:.1f} s"])
        )


def _stdout_is_a_terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False

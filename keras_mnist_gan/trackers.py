"""The figures a GAN's `fit` logs each step: D's and G's losses, D's
accuracy on real and fake digits, and the R1 penalty when there is one."""

from __future__ import annotations

import keras
from keras import ops


class GameTrackers:
    """Mixed into `GAN`: its Keras metrics, made at compile, updated by the
    step from what the losses report."""

    def _make_trackers(self, r1: bool):
        self.d_loss_real_tracker = keras.metrics.Mean(name="d_loss_real")
        self.d_loss_fake_tracker = keras.metrics.Mean(name="d_loss_fake")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.BinaryAccuracy(name="d_acc_real", threshold=0.0)
        self.d_acc_fake_tracker = keras.metrics.BinaryAccuracy(name="d_acc_fake", threshold=0.0)
        self.d_r1_tracker = keras.metrics.Mean(name="d_r1") if r1 else None

    @property
    def metrics(self):
        # Listed here so Keras resets them at the start of each epoch.
        names = ("d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake", "d_r1")
        return [t for t in (getattr(self, f"{name}_tracker", None) for name in names) if t is not None]

    def _track(self, d_logs, g_loss):
        self.d_loss_real_tracker.update_state(d_logs["real_loss"])
        self.d_loss_fake_tracker.update_state(d_logs["fake_loss"])
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_real_tracker.update_state(ops.ones_like(d_logs["real_logits"]), d_logs["real_logits"])
        self.d_acc_fake_tracker.update_state(ops.zeros_like(d_logs["fake_logits"]), d_logs["fake_logits"])
        if "r1" in d_logs:
            self.d_r1_tracker.update_state(d_logs["r1"])
        return {m.name: m.result() for m in self.metrics}

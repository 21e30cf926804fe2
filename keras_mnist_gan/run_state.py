"""What Keras does not save with a model, and a resumed run needs."""

from __future__ import annotations

import numpy as np
from keras import ops

_METRIC_PREFIX = "metric_state:"
_SEED_STATE = "seed_generator_state"


class RunState:
    """Mixed into a `keras.Model` with a ``seed_generator``: its state and the
    metrics' totals are saved with the weights, so a resumed run draws the
    noise it would have drawn had it never stopped, and the epoch it was
    stopped in reports averages over all its steps."""

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[_SEED_STATE] = self.seed_generator.state.numpy()
        for metric in self.metrics:
            store[_METRIC_PREFIX + metric.name] = np.array([v.numpy() for v in metric.variables], "float64")

    def load_own_variables(self, store):
        keys = list(store.keys())
        state = store[_SEED_STATE] if _SEED_STATE in keys else None
        self.saved_metric_states = {
            k[len(_METRIC_PREFIX) :]: np.asarray(store[k]) for k in keys if k.startswith(_METRIC_PREFIX)
        }
        super().load_own_variables({k: store[k] for k in keys if k != _SEED_STATE and not k.startswith(_METRIC_PREFIX)})
        if state is not None:
            self.seed_generator.state.assign(np.asarray(state))

    def restore_metric_states(self) -> bool:
        """Put back the metric totals saved with the checkpoint (`fit` resets
        metrics at each epoch start, so call this after that: see
        `ContinueEpoch`). Returns whether there were any to restore."""
        saved = getattr(self, "saved_metric_states", None) or {}
        for metric in self.metrics:
            if metric.name in saved and len(saved[metric.name]) == len(metric.variables):
                for var, value in zip(metric.variables, saved[metric.name]):
                    var.assign(ops.cast(value, var.dtype))
        self.saved_metric_states = {}
        return bool(saved)

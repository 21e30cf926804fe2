"""An exponential moving average of a network's weights (sampling from it
smooths the step-to-step wobble of the adversarial game)."""

from __future__ import annotations

import keras


def make_average(model: keras.Model) -> keras.Model:
    """A copy of ``model`` holding its current weights, to be averaged into."""
    average = keras.models.clone_model(model)
    average.set_weights(model.get_weights())
    return average


def update_average(average: keras.Model, model: keras.Model, decay) -> None:
    """``average <- decay * average + (1 - decay) * model``, trainable weights
    only (BatchNorm's statistics are calibrated for sampling instead)."""
    for avg, var in zip(average.trainable_variables, model.trainable_variables):
        avg.assign(avg * decay + keras.ops.cast(var, avg.dtype) * (1.0 - decay))

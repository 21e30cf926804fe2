"""Gradients on TensorFlow: a `tf.GradientTape` around the loss."""

from __future__ import annotations

import tensorflow as tf


def train_step(model, step, data):
    return step(data)


def value_and_grad(loss_fn, variables):
    with tf.GradientTape() as tape:
        loss, aux = loss_fn()
        # Under tf.distribute the replicas' gradients are summed: each
        # differentiates its share of the global mean.
        share = loss / tf.distribute.get_strategy().num_replicas_in_sync
    return (loss, aux), tape.gradient(share, variables)


def input_gradient(fn, x):
    # Recorded by the enclosing tape too, which can then differentiate it.
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        out = fn(x)
        total = tf.reduce_sum(out)
    return out, tape.gradient(total, x)


def apply_gradients(optimizer, gradients, variables):
    optimizer.apply_gradients(zip(gradients, variables))


def attach_optimizers(model, optimizers):
    pass

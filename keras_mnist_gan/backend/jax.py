"""Gradients on JAX: pure functions of the variables' values.

Keras's JAX trainer jit-compiles ``train_step(state, data)``, passing every
variable's value in ``state`` and taking the new values back. Here the
ordinary, stateful step runs inside a `keras.StatelessScope` that maps each
variable to its value in ``state`` and records each assignment, so the step
is written once for all backends. ``value_and_grad`` differentiates with
`jax.value_and_grad` through a nested scope in which the differentiated
variables take the traced values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from keras import StatelessScope

# The scope of the train_step running now, passed down to value_and_grad
# (Keras's public API has no getter for the current scope).
_step_scopes: list[StatelessScope] = []


def _state_groups(model):
    # The trainer's order: trainable, non-trainable, optimizer, metrics.
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def train_step(model, step, state, data):
    groups = _state_groups(model)
    mapping = [(v, x) for variables, values in zip(groups, state) for v, x in zip(variables, values)]
    with StatelessScope(state_mapping=mapping) as scope:
        _step_scopes.append(scope)
        try:
            logs = step(data)
        finally:
            _step_scopes.pop()
    return logs, tuple([scope.get_current_value(v) for v in variables] for variables in groups)


def value_and_grad(loss_fn, variables):
    outer = _step_scopes[-1]
    ids = {id(v) for v in variables}

    def pure(values):
        inner = StatelessScope()
        inner.state_mapping = {**outer.state_mapping, **{id(v): x for v, x in zip(variables, values)}}
        with inner:
            loss, aux = loss_fn()
        # Other assignments (BatchNorm statistics, noise state) leave as
        # outputs: values traced here must not escape any other way.
        changed = {k: x for k, x in inner.state_mapping.items() if k not in ids and x is not outer.state_mapping.get(k)}
        return loss, (aux, changed)

    values = [outer.get_current_value(v) for v in variables]
    (loss, (aux, changed)), grads = jax.value_and_grad(pure, has_aux=True)(values)
    outer.state_mapping.update(changed)
    return (loss, aux), grads


def input_gradient(fn, x):
    def total(x):
        out = fn(x)
        return jnp.sum(out), out

    (_, out), slopes = jax.value_and_grad(total, has_aux=True)(x)
    return out, slopes


def apply_gradients(optimizer, gradients, variables):
    optimizer.apply_gradients(zip(gradients, variables))


class _Optimizers:
    """What Keras's JAX trainer needs of ``model.optimizer``: the variables
    it carries from step to step, here those of all the GAN's optimizers."""

    built = True

    def __init__(self, optimizers):
        self.optimizers = [o for o in optimizers if o is not None]

    @property
    def variables(self):
        return [v for o in self.optimizers for v in o.variables]


def attach_optimizers(model, optimizers):
    model.optimizer = _Optimizers(optimizers)

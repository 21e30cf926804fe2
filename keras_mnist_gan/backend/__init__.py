"""The few lines of the training step that differ per Keras backend.

Keras 3 runs the same model on TensorFlow, JAX and PyTorch, but each takes
gradients its own way (a tape, a function transform, ``backward``). As in
Keras's own ``keras/src/backend/{tensorflow,jax,torch}/trainer.py``, those
lines live side by side here, one module per backend, each exposing:

- ``train_step(model, step, *args)``: how Keras's trainer calls
  ``Model.train_step`` (JAX passes the model's state in and wants it back).
- ``value_and_grad(loss_fn, variables)``: ``loss_fn()`` returns
  ``(loss, aux)``; gives ``(loss, aux), gradients``.
- ``input_gradient(fn, x)``: ``fn(x)`` and the gradient of its sum with
  respect to ``x``, itself differentiable (the R1 penalty).
- ``apply_gradients(optimizer, gradients, variables)``.
- ``attach_optimizers(model, optimizers)``: lets the trainer carry the
  GAN's several optimizers.

Everything else (losses, the order of the updates, metrics) is written once
with ``keras.ops`` in `losses` and `gan`.
"""

from __future__ import annotations

import importlib

import keras


def current():
    """The module for the backend Keras runs on."""
    return importlib.import_module(f"{__name__}.{keras.backend.backend()}")

"""The few lines of the training step that differ per Keras backend.

Keras 3 runs the same model on TensorFlow, JAX and PyTorch, but each takes
gradients its own way (a tape, a function transform, ``backward``). As in
Keras's own per-backend trainers (one ``trainer.py`` per backend), those
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
with ``keras.ops`` in `losses` and `gan`. The module is chosen here, once,
for the backend Keras runs on: ``from .backend import step_backend``.
"""

from __future__ import annotations

import keras

TRAINING_BACKENDS = ("tensorflow", "jax", "torch")

if keras.backend.backend() == "tensorflow":
    from . import tensorflow as step_backend
elif keras.backend.backend() == "jax":
    from . import jax as step_backend
elif keras.backend.backend() == "torch":
    from . import torch as step_backend
else:  # numpy, openvino: Keras can run a model there, not train one
    step_backend = None


def require_training_backend() -> None:
    """A one-line error where Keras's backend cannot train (no gradients)."""
    if step_backend is None:
        raise ValueError(
            f"training needs the TensorFlow, JAX or PyTorch backend; this is "
            f"{keras.backend.backend()} (KERAS_BACKEND), which can sample from a saved generator "
            "but not train one."
        )

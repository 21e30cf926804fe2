"""Gradients on PyTorch: `torch.autograd.grad` on the loss."""

from __future__ import annotations

import torch

from keras import tree


def train_step(model, step, data):
    return step(data)


def value_and_grad(loss_fn, variables):
    loss, aux = loss_fn()
    grads = torch.autograd.grad(loss, [v.value for v in variables])
    return (loss.detach(), tree.map_structure(torch.Tensor.detach, aux)), list(grads)


def input_gradient(fn, x):
    x = x.detach().requires_grad_(True)
    out = fn(x)
    (slopes,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # differentiable
    return out, slopes


def apply_gradients(optimizer, gradients, variables):
    # In-place updates of leaf tensors that require grad are refused otherwise.
    with torch.no_grad():
        optimizer.apply(gradients, variables)


def attach_optimizers(model, optimizers):
    pass

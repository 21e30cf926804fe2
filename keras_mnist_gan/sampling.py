"""Drawing digits from a trained generator: its inputs, its BatchNorm
statistics, and `generate`.

A conditional generator takes ``[noise, labels]``. Unless told which digits
to draw, it draws each digit's class at random, uniformly, from the same
seeded stream as the noise (`noise.draw_inputs`): sampled that way it is an
unconditional digit generator, and the same seed gives the same digits
everywhere (every backend, the web page). Layouts that want every class in
turn (grids with one row per digit, BatchNorm calibration) ask for
`balanced_labels`.
"""

from __future__ import annotations

import keras
import numpy as np

from .models import noise_dim_of, num_classes_of
from .noise import draw_inputs, noise_stream

# Digits behind `calibrate_batchnorm`'s statistics: 512 digits are 400,000
# pixels per channel at 28x28, plenty; a bigger batch only costs memory.
CALIBRATION_DIGITS = 512
# Digits per `predict` call when sampling (any size gives the same digits).
SAMPLING_BATCH = 500


def balanced_labels(n: int, num_classes: int, per: int = 1) -> np.ndarray:
    """Every class in turn: ``per`` digits of class 0, then ``per`` of
    class 1, ... and round again (``per`` = the columns of a grid with one
    row per digit)."""
    return (np.arange(int(n)) // int(per) % int(num_classes)).astype("int32")


def check_labels(labels, n: int, num_classes: int | None) -> np.ndarray | None:
    """``labels`` (one int for every digit, or one per digit) as ``n`` int32
    labels for a generator of ``num_classes`` classes; refuses labels for an
    unconditional one."""
    if num_classes is None:
        if labels is not None:
            raise ValueError(
                "this generator is unconditional: it draws digits of no particular class, so it takes no labels."
            )
        return None
    labels = np.broadcast_to(np.asarray(labels), (int(n),))
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be whole numbers from 0 to {num_classes - 1}.")
    return labels.astype("int32")


def generator_inputs(generator: keras.Model, noise: np.ndarray, labels=None):
    """What ``generator`` takes for ``noise``: the noise itself, or
    ``[noise, labels]`` for a conditional generator (``labels`` one int for
    every digit or one per digit; required)."""
    classes = num_classes_of(generator)
    if classes is not None and labels is None:
        raise ValueError("a conditional generator needs labels: the digit to draw, one for all or one per digit.")
    labels = check_labels(labels, len(noise), classes)
    return noise if labels is None else [noise, labels]


def _layers_within(model: keras.Model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers_within(layer)


def calibrate_batchnorm(generator: keras.Model, n: int = CALIBRATION_DIGITS, seed: int = 0) -> None:
    """Replace every BatchNorm layer's moving mean and variance by the exact
    statistics of ``n`` generated digits (every class in turn) under the
    current weights.

    The moving averages lag behind a generator that changes every step (and
    start at mean 0, variance 1): sampled in inference mode early in a run
    they shrink the signal at each BatchNorm until every digit is the same
    grey square. One training-mode pass over a large batch, with momentum 0,
    writes the population statistics instead ("precise BatchNorm"); after
    it, inference mode draws what training mode draws, digit by digit.
    """
    bns = [layer for layer in _layers_within(generator) if isinstance(layer, keras.layers.BatchNormalization)]
    noise = np.random.default_rng(seed).standard_normal((int(n), noise_dim_of(generator))).astype("float32")
    classes = num_classes_of(generator)
    labels = None if classes is None else balanced_labels(n, classes)
    momenta = [bn.momentum for bn in bns]
    try:
        for bn in bns:
            bn.momentum = 0.0
        generator(generator_inputs(generator, noise, labels), training=True)
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m


def generate(
    generator: keras.Model,
    n: int,
    seed: int | None = None,
    batch_size: int = SAMPLING_BATCH,
    chunk: int = 10_000,
    labels=None,
    return_labels: bool = False,
):
    """Draw ``n`` digits from ``generator`` (inference mode), float32 (n, 28, 28, 1) in [0, 1].

    ``labels`` (conditional generators): the digit to draw, one int for all
    or one per digit; by default each digit's class is drawn at random from
    the seed's stream. The noise is the same either way, so ``labels=7``
    draws the sevens of the digits ``labels=None`` draws. With
    ``return_labels``, returns ``(digits, labels)`` (labels None for an
    unconditional generator).

    Works through ``chunk`` digits at a time (rounded to whole batches) into
    one preallocated array, so memory holds the result once rather than the
    noise, the predicted batches and their concatenation all at the same time.
    Successive draws continue the same stream (`keras_mnist_gan.noise`, which
    the web page reproduces): the first k of n digits are the k digits.
    """
    n, batch_size = int(n), int(batch_size)
    if n < 1:
        raise ValueError(f"n must be a positive number of digits; got {n}.")
    classes = num_classes_of(generator)
    asked = None if labels is None else check_labels(labels, n, classes)
    if classes is None:
        check_labels(labels, n, classes)  # refuses labels
    stream = noise_stream(seed)
    step = batch_size * max(1, int(chunk) // batch_size)
    out = None
    drawn = None if classes is None else np.empty(n, np.int32)
    for start in range(0, n, step):
        noise, random_labels = draw_inputs(stream, min(step, n - start), noise_dim_of(generator), classes)
        part_labels = random_labels if asked is None else asked[start : start + len(noise)]
        if drawn is not None:
            drawn[start : start + len(noise)] = part_labels
        part = generator.predict(generator_inputs(generator, noise, part_labels), batch_size=batch_size, verbose=0)
        if out is None:
            out = np.empty((n, *part.shape[1:]), np.float32)
        out[start : start + len(part)] = part
    return (out, drawn) if return_labels else out


class Sampling:
    """Mixed into `GAN`: drawing digits from the trained generator (its
    weight average, if kept)."""

    @property
    def sampler(self) -> keras.Model:
        """The network that draws digits: the weight average if kept, else G."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(
        self,
        n: int,
        seed: int | None = None,
        batch_size: int = SAMPLING_BATCH,
        labels=None,
        return_labels: bool = False,
    ):
        """``n`` digits (float32, (n, 28, 28, 1), in [0, 1]) from `sampler` in
        inference mode: the same seed gives the same digits whatever
        ``batch_size``. ``labels``: the digits to draw (conditional models;
        default each at random). See `sampling.generate`."""
        return generate(self.sampler, n, seed=seed, batch_size=batch_size, labels=labels, return_labels=return_labels)

    def calibrate_batchnorm(self, n: int = CALIBRATION_DIGITS, seed: int = 0) -> None:
        """Set G's (and its average's) BatchNorm moving statistics to those of
        ``n`` fresh digits (`sampling.calibrate_batchnorm`)."""
        calibrate_batchnorm(self.generator, n=n, seed=seed)
        if self.ema_generator is not None:
            calibrate_batchnorm(self.ema_generator, n=n, seed=seed)

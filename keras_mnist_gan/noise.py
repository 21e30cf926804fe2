"""The noise behind `generate`, and so behind ``sample --seed`` and the web page.

A seed names NumPy's legacy ``RandomState`` stream (MT19937, polar
Box-Muller normals). NEP 19 freezes that stream: a seed gives the same
numbers in every NumPy version. That matters here because a second
implementation has to match it number for number: the web page's
``web/noise.js`` draws the same noise in the browser, so a seed typed on the
page gives the digits ``keras-mnist-gan sample --seed`` gives. (A
``numpy.random.Generator`` stream may change between NumPy versions, and its
ziggurat tables make a port large.) The other noise in the package (training,
grids during training, interpolation) uses ``numpy.random.default_rng``.
"""

from __future__ import annotations

import numpy as np

MAX_SEED = 2**32 - 1  # MT19937 takes a 32-bit seed


def noise_stream(seed: int | None) -> np.random.RandomState:
    """The random stream for ``seed`` (fresh entropy when None)."""
    if seed is not None and not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}; got {seed}.")
    return np.random.RandomState(seed)


def draw_noise(stream: np.random.RandomState, n: int, noise_dim: int) -> np.ndarray:
    """The next ``n`` noise vectors of ``stream``, float32 (n, noise_dim).

    Drawn row by row in float64 and rounded to float32, as noise.js does;
    successive calls continue the stream, so two draws of n equal one of 2n.
    """
    return stream.standard_normal((int(n), int(noise_dim))).astype("float32")


def draw_inputs(
    stream: np.random.RandomState, n: int, noise_dim: int, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The next ``n`` generator inputs of ``stream``: noise (n, noise_dim)
    float32 and, for a conditional generator of ``num_classes`` classes,
    int32 labels drawn uniformly at random (else None).

    Digit by digit: its noise, then its class from the next double
    (``floor(u * num_classes)``), as noise.js does. So the first k of n
    digits are the k digits, and a class asked for instead (``--digit``)
    changes the class, never the noise.
    """
    if num_classes is None:
        return draw_noise(stream, n, noise_dim), None
    noise = np.empty((int(n), int(noise_dim)), np.float32)
    labels = np.empty(int(n), np.int32)
    for i in range(int(n)):
        noise[i] = stream.standard_normal(int(noise_dim))
        labels[i] = int(stream.random_sample() * num_classes)
    return noise, labels

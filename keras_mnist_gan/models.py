"""The discriminator and generator of the original design, as `keras.Sequential`.

Shapes, in order (batch dimension left out):

Discriminator: (28,28,1) -> Conv 5x5/32 -> (28,28,32) -> AvgPool -> (14,14,32)
-> Conv 5x5/64 -> (14,14,64) -> AvgPool -> (7,7,64) -> Flatten (3136)
-> Dense 1024 ReLU -> Dense 1 (a logit).

Generator: noise (noise_dim,) -> Dense 3136 -> (56,56,1) -> BN, ReLU
-> Conv 3x3/2 (noise_dim/2 filters) -> (28,28,nd/2) -> BN, ReLU -> resize (56,56)
-> Conv 3x3/2 (noise_dim/4) -> (28,28,nd/4) -> BN, ReLU -> resize (56,56)
-> Conv 1x1/2 (1) -> (28,28,1) -> sigmoid.
"""

from __future__ import annotations

import keras
from keras import layers

from .layers import BicubicResize, StridedPointwiseConv2D

IMAGE_SHAPE = (28, 28, 1)

# The original initialised every weight from a truncated normal with a small
# stddev and every bias at zero; Keras's defaults (Glorot) train differently.
_SEED_STDDEV = 0.01


def _init(seed_init: bool, seed: int | None):
    if seed_init:
        return keras.initializers.TruncatedNormal(stddev=_SEED_STDDEV, seed=seed)
    return keras.initializers.GlorotUniform(seed=seed)


def _seeds(seed: int | None, n: int) -> list[int | None]:
    # Distinct seeds per layer: the same seed in every layer would give
    # layers of equal shape identical weights.
    return [None if seed is None else seed + i for i in range(n)]


def build_discriminator(seed_init: bool = True, seed: int | None = None) -> keras.Sequential:
    """The 28x28x1 -> logit discriminator of the original design."""
    s = _seeds(seed, 4)
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(32, 5, padding="same", activation="relu",
                          kernel_initializer=_init(seed_init, s[0]), name="d_conv1"),
            layers.AveragePooling2D(2, name="d_pool1"),
            layers.Conv2D(64, 5, padding="same", activation="relu",
                          kernel_initializer=_init(seed_init, s[1]), name="d_conv2"),
            layers.AveragePooling2D(2, name="d_pool2"),
            layers.Flatten(name="d_flatten"),
            layers.Dense(1024, activation="relu",
                         kernel_initializer=_init(seed_init, s[2]), name="d_dense1"),
            layers.Dense(1, kernel_initializer=_init(seed_init, s[3]), name="d_logit"),
        ],
        name="discriminator",
    )


def _upsample(interpolation: str, name: str) -> layers.Layer:
    if interpolation == "bicubic":
        # Numerically Keras's bicubic Resizing, but compilable and faster.
        return BicubicResize(56, 56, name=name)
    return layers.Resizing(56, 56, interpolation=interpolation, name=name)


def build_generator(
    noise_dim: int = 100,
    interpolation: str = "bicubic",
    seed_init: bool = True,
    seed: int | None = None,
) -> keras.Sequential:
    """The noise -> 28x28x1 generator of the original design; pixels in [0, 1].

    ``interpolation`` picks the upsampling between the strided convolutions;
    "bicubic" (the original) uses `BicubicResize`, anything else Keras's
    `Resizing` layer with that interpolation.
    """
    from .presets import MAX_NOISE_DIM

    if not 4 <= int(noise_dim) <= MAX_NOISE_DIM:
        raise ValueError(f"noise_dim must be between 4 (the convolutions use noise_dim/4 filters) and {MAX_NOISE_DIM}; "
                         f"got {noise_dim}.")
    noise_dim = int(noise_dim)
    s = _seeds(seed, 4)
    return keras.Sequential(
        [
            keras.Input((noise_dim,)),
            layers.Dense(56 * 56, kernel_initializer=_init(seed_init, s[0]), name="g_dense"),
            layers.Reshape((56, 56, 1), name="g_reshape"),
            layers.BatchNormalization(epsilon=1e-5, name="g_bn1"),
            layers.ReLU(name="g_relu1"),
            layers.Conv2D(noise_dim // 2, 3, strides=2, padding="same",
                          kernel_initializer=_init(seed_init, s[1]), name="g_conv1"),
            layers.BatchNormalization(epsilon=1e-5, name="g_bn2"),
            layers.ReLU(name="g_relu2"),
            _upsample(interpolation, "g_resize1"),
            layers.Conv2D(noise_dim // 4, 3, strides=2, padding="same",
                          kernel_initializer=_init(seed_init, s[2]), name="g_conv2"),
            layers.BatchNormalization(epsilon=1e-5, name="g_bn3"),
            layers.ReLU(name="g_relu3"),
            _upsample(interpolation, "g_resize2"),
            StridedPointwiseConv2D(1, 1, strides=2, padding="same", activation="sigmoid",
                                   kernel_initializer=_init(seed_init, s[3]), name="g_pixels"),
        ],
        name="generator",
    )

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

from .layers import BicubicResize, MinibatchStddev, StridedPointwiseConv2D
from .presets import SEED_RECIPE

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


# The conditional models' label codes: a 16-d embedding joined to the
# noise (G), and a projection on D's 1024 features.
LABEL_EMBEDDING_DIM = 16


def build_discriminator(
    seed_init: bool = True, seed: int | None = None, num_classes: int | None = None, minibatch_std: int = 0
) -> keras.Model:
    """The 28x28x1 -> logit discriminator of the original design.

    With ``num_classes`` it also takes each digit's label (int) and becomes a
    projection discriminator (Miyato and Koyama 2018): the logit plus the
    inner product of a learned label embedding with D's 1024 features. It
    adds one embedding to the original layers and asks "is this a real
    digit of this class?" directly, without changing the image path.

    ``minibatch_std`` (a group size; 0: none) adds `MinibatchStddev` after
    the second pooling: one more 7x7 feature map that tells D how varied
    each group of that many digits is, the standard counter to a generator
    that draws every digit of a class alike.
    """
    s = _seeds(seed, 5)
    trunk = [
        layers.Conv2D(
            32, 5, padding="same", activation="relu", kernel_initializer=_init(seed_init, s[0]), name="d_conv1"
        ),
        layers.AveragePooling2D(2, name="d_pool1"),
        layers.Conv2D(
            64, 5, padding="same", activation="relu", kernel_initializer=_init(seed_init, s[1]), name="d_conv2"
        ),
        layers.AveragePooling2D(2, name="d_pool2"),
        *([MinibatchStddev(minibatch_std, name="d_minibatch_std")] if minibatch_std else []),
        layers.Flatten(name="d_flatten"),
        layers.Dense(1024, activation="relu", kernel_initializer=_init(seed_init, s[2]), name="d_dense1"),
    ]
    logit = layers.Dense(1, kernel_initializer=_init(seed_init, s[3]), name="d_logit")
    if not num_classes:
        return keras.Sequential([keras.Input(IMAGE_SHAPE), *trunk, logit], name="discriminator")
    _check_classes(num_classes)
    features = keras.Sequential([keras.Input(IMAGE_SHAPE), *trunk], name="d_features")
    image = keras.Input(IMAGE_SHAPE, name="image")
    label = keras.Input((), dtype="int32", name="label")
    h = features(image)
    code = layers.Embedding(
        int(num_classes), 1024, embeddings_initializer=_init(seed_init, s[4]), name="d_label_embedding"
    )(label)
    projection = layers.Dot(axes=1, name="d_projection")([code, h])
    return keras.Model(
        [image, label], layers.Add(name="d_logit_of_class")([logit(h), projection]), name="conditional_discriminator"
    )


def _check_classes(num_classes) -> None:
    if not 2 <= int(num_classes) <= 1000:
        raise ValueError(f"num_classes must be between 2 and 1000; got {num_classes}.")


def _upsample(interpolation: str, name: str) -> layers.Layer:
    if interpolation == "bicubic":
        # Numerically Keras's bicubic Resizing, but compilable and faster.
        return BicubicResize(56, 56, name=name)
    return layers.Resizing(56, 56, interpolation=interpolation, name=name)


def _generator_layers(noise_dim: int, interpolation: str, seed_init: bool, s: list) -> list:
    """The original generator's layers, noise (and label code) -> 28x28x1."""
    return [
        layers.Dense(56 * 56, kernel_initializer=_init(seed_init, s[0]), name="g_dense"),
        layers.Reshape((56, 56, 1), name="g_reshape"),
        layers.BatchNormalization(epsilon=1e-5, name="g_bn1"),
        layers.ReLU(name="g_relu1"),
        layers.Conv2D(
            noise_dim // 2, 3, strides=2, padding="same", kernel_initializer=_init(seed_init, s[1]), name="g_conv1"
        ),
        layers.BatchNormalization(epsilon=1e-5, name="g_bn2"),
        layers.ReLU(name="g_relu2"),
        _upsample(interpolation, "g_resize1"),
        layers.Conv2D(
            noise_dim // 4, 3, strides=2, padding="same", kernel_initializer=_init(seed_init, s[2]), name="g_conv2"
        ),
        layers.BatchNormalization(epsilon=1e-5, name="g_bn3"),
        layers.ReLU(name="g_relu3"),
        _upsample(interpolation, "g_resize2"),
        StridedPointwiseConv2D(
            1,
            1,
            strides=2,
            padding="same",
            activation="sigmoid",
            kernel_initializer=_init(seed_init, s[3]),
            name="g_pixels",
        ),
    ]


def build_generator(
    noise_dim: int = SEED_RECIPE.noise_dim,
    interpolation: str = "bicubic",
    seed_init: bool = True,
    seed: int | None = None,
    num_classes: int | None = None,
) -> keras.Model:
    """The noise -> 28x28x1 generator of the original design; pixels in [0, 1].

    ``interpolation`` picks the upsampling between the strided convolutions;
    "bicubic" (the original) uses `BicubicResize`, anything else Keras's
    `Resizing` layer with that interpolation. With ``num_classes`` it takes
    ``[noise, label]``: a 16-d embedding of the label is joined to the noise
    before the first Dense layer (the rest is the original, unchanged).
    """
    from .presets import MAX_NOISE_DIM

    if not 4 <= int(noise_dim) <= MAX_NOISE_DIM:
        raise ValueError(
            f"noise_dim must be between 4 (the convolutions use noise_dim/4 filters) and {MAX_NOISE_DIM}; "
            f"got {noise_dim}."
        )
    noise_dim = int(noise_dim)
    s = _seeds(seed, 5)
    code_dim = LABEL_EMBEDDING_DIM if num_classes else 0
    body = keras.Sequential(
        [keras.Input((noise_dim + code_dim,)), *_generator_layers(noise_dim, interpolation, seed_init, s)],
        name="generator" if not num_classes else "g_body",
    )
    if not num_classes:
        return body
    _check_classes(num_classes)
    noise = keras.Input((noise_dim,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    code = layers.Embedding(
        int(num_classes), code_dim, embeddings_initializer=_init(seed_init, s[4]), name="g_label_embedding"
    )(label)
    joined = layers.Concatenate(name="g_noise_and_label")([noise, code])
    return keras.Model([noise, label], body(joined), name="conditional_generator")


def num_classes_of(model: keras.Model) -> int | None:
    """The number of classes a conditional generator or discriminator takes
    labels of; None for the unconditional ones."""
    for layer in model.layers:
        if isinstance(layer, layers.Embedding):
            return int(layer.input_dim)
    return None


def noise_dim_of(generator: keras.Model) -> int:
    """The length of the noise vector ``generator`` takes."""
    return int(generator.inputs[0].shape[-1])


def check_pair(discriminator: keras.Model, generator: keras.Model) -> int | None:
    """The pair's number of classes (None: unconditional); raises if D and G
    do not fit together. Conditional models take labels: both or neither."""
    classes = num_classes_of(generator)
    if classes != num_classes_of(discriminator):
        raise ValueError(
            f"The generator takes labels of {classes} classes but the discriminator of "
            f"{num_classes_of(discriminator)}: both must be conditional on the same classes, or neither."
        )
    image_shape = tuple(discriminator.inputs[0].shape[1:])
    if tuple(generator.output_shape[1:]) != image_shape:
        raise ValueError(
            f"The generator makes images of shape {generator.output_shape[1:]} but the "
            f"discriminator expects {image_shape}."
        )
    return classes


# --- the sampling copy: built-in layers only --------------------------------
#
# The training graph uses two layers of this package (layers.py) for speed
# and to dodge a oneDNN crash in a gradient; neither matters for sampling.
# The generator files written for sampling hold the same model in Keras's
# own layers, so `keras.saving.load_model` reads them without this package.
#
# `BicubicResize` becomes the same two matrix products, as `Dense` layers
# (fixed, non-trainable kernels: the resize matrices) between `Permute`s.
# Not `keras.layers.Resizing(interpolation="bicubic")`: on TensorFlow and
# JAX it computes what BicubicResize computes (within 1e-6), but PyTorch's
# bicubic kernel is another one (Keys' a = -0.75 rather than -0.5, and edge
# pixels repeated rather than dropped taps renormalised), which would change
# the digits a file draws with the backend that loads it (docs/model.md).
# `StridedPointwiseConv2D` becomes the plain `Conv2D` it equals.

_RESIZE_CLASS = "BicubicResize"
_STRIDED_CLASS = "StridedPointwiseConv2D"


def _is_ours(config, class_name: str) -> bool:
    return (
        isinstance(config, dict)
        and config.get("class_name") == class_name
        and str(config.get("registered_name") or "").startswith("keras_mnist_gan>")
    )


def _matrix_resize(name: str, height: int, width: int, dtype=None) -> keras.Sequential:
    """(b, h, w, c) -> (b, height, width, c) as ``A_h @ x @ A_w.T`` with
    built-in layers: each Dense mixes the last axis with a resize matrix."""
    fixed = dict(use_bias=False, trainable=False, dtype=dtype)
    return keras.Sequential(
        [
            layers.Permute((2, 3, 1), name=f"{name}_to_wch", dtype=dtype),
            layers.Dense(height, name=f"{name}_rows", **fixed),
            layers.Permute((3, 2, 1), name=f"{name}_to_hcw", dtype=dtype),
            layers.Dense(width, name=f"{name}_cols", **fixed),
            layers.Permute((1, 3, 2), name=f"{name}_to_hwc", dtype=dtype),
        ],
        name=name,
    )


def _builtin_config(config):
    """``config`` (a serialized model) with this package's layers replaced
    by built-in ones."""
    if isinstance(config, list):
        return [_builtin_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    if _is_ours(config, _RESIZE_CLASS):
        c = config["config"]
        new = keras.saving.serialize_keras_object(
            _matrix_resize(c["name"], int(c["height"]), int(c["width"]), dtype=c.get("dtype"))
        )
    elif _is_ours(config, _STRIDED_CLASS):
        new = keras.saving.serialize_keras_object(layers.Conv2D.from_config(config["config"]))
    else:
        return {k: _builtin_config(v) for k, v in config.items()}
    if "build_config" in config:
        new["build_config"] = config["build_config"]
    return new


def _copy_weights(source: keras.Layer, target: keras.Layer) -> None:
    if isinstance(source, BicubicResize):
        target.get_layer(f"{source.name}_rows").kernel.assign(source._a_h.T)
        target.get_layer(f"{source.name}_cols").kernel.assign(source._a_w.T)
        return
    if isinstance(source, keras.Model):
        if [layer.name for layer in source.layers] != [layer.name for layer in target.layers]:
            raise ValueError(f"{source.name}: the rebuilt model's layers differ from the original's.")
        for a, b in zip(source.layers, target.layers):
            _copy_weights(a, b)
        return
    target.set_weights(source.get_weights())


def portable_generator(generator: keras.Model) -> keras.Model:
    """The same generator (weights, BatchNorm statistics, input names and
    shapes) made of Keras's built-in layers only: its ``.keras`` file loads
    with `keras.saving.load_model` where this package is not installed, on
    every backend, and draws the same digits (within 1e-5). The training
    graph keeps the fast layers; this is the copy written for sampling."""
    config = keras.saving.serialize_keras_object(generator)
    portable = keras.saving.deserialize_keras_object(_builtin_config(config))
    _copy_weights(generator, portable)
    return portable

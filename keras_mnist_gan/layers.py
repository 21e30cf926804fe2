"""A bicubic resize that computes exactly what Keras's own does, but fast.

`keras.layers.Resizing(interpolation="bicubic")` calls the backend's image
resize kernel. On TensorFlow's CPU build that kernel and its gradient cost
about half of every generator step, and XLA has no CPU kernel for it, so a
step that contains it cannot be compiled. Resizing is linear and separable:
``out = A_h @ x @ A_w.T`` per image and channel, with fixed matrices. We build
those matrices once, with the kernel and edge handling of TensorFlow's
resize, and apply them as two matrix products.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel, the one TensorFlow's bicubic uses."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The (size_out, size_in) matrix of a 1-D bicubic resize (no antialias).

    Row i holds the weights output pixel i takes from each input pixel. This
    follows TensorFlow's ``ResizeBicubic`` with half-pixel centres (what
    ``tf.image.resize`` and Keras's `Resizing` run): four taps of Keys' cubic
    kernel around the sample position, the fractional offset rounded to
    1/1024 (TensorFlow reads the kernel from a 1024-entry table), taps
    outside the image dropped and the rest renormalised to sum to 1. The
    tests check the whole layer against Keras's to 1e-5. Plain numpy, so it
    can be built anywhere, even while a graph is being traced.
    """
    table = 1024
    pos = (np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5
    base = np.floor(pos).astype(int)
    frac = np.round((pos - base) * table) / table
    m = np.zeros((size_out, size_in), np.float64)
    for tap, dist in ((-1, 1 + frac), (0, frac), (1, 1 - frac), (2, 2 - frac)):
        idx = base + tap
        inside = (idx >= 0) & (idx < size_in)
        m[np.arange(size_out)[inside], idx[inside]] += _keys_cubic(dist[inside])
    return (m / m.sum(axis=1, keepdims=True)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class BicubicResize(keras.layers.Layer):
    """Resize channels-last images to (height, width) as two matrix products.

    Same outputs and gradients as ``keras.layers.Resizing(height, width,
    interpolation="bicubic")`` (tested to 1e-5), but XLA-compilable and
    several times faster on CPU at MNIST sizes. Holds no weights: the
    matrices are rebuilt from the input shape when the layer is built.
    """

    def __init__(self, height: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.height = int(height)
        self.width = int(width)

    def build(self, input_shape):
        _, in_h, in_w, _ = input_shape
        if in_h is None or in_w is None:
            raise ValueError(f"BicubicResize needs a known input height and width; got input shape {input_shape}.")
        # Kept as numpy and made tensors inside call(): traced, they become
        # constants of the graph. Tensors made here would be captured
        # inputs, which an exported ONNX graph then asks its caller for.
        self._a_h = resize_matrix(in_h, self.height)
        self._a_w = resize_matrix(in_w, self.width)

    def call(self, x):
        # Two broadcast matmuls on reshaped views, no transposes: rows mix
        # as (b, h, w*c), then columns as (b*H, w, c). (An einsum here
        # crashed TensorFlow 2.21's CPU kernel when the batch size was
        # unknown at trace time.)
        shape = ops.shape(x)
        b, h, w, c = shape[0], shape[1], shape[2], shape[3]
        a_h = ops.convert_to_tensor(self._a_h, dtype=x.dtype)
        a_w = ops.convert_to_tensor(self._a_w, dtype=x.dtype)
        x = ops.matmul(a_h, ops.reshape(x, (b, h, w * c)))
        x = ops.matmul(a_w, ops.reshape(x, (b * self.height, w, c)))
        return ops.reshape(x, (b, self.height, self.width, c))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width)
        return config


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class StridedPointwiseConv2D(keras.layers.Conv2D):
    """`Conv2D` with a 1x1 kernel and strides, computed as "keep every
    stride-th pixel, then a 1x1 convolution": the same weights, config and
    result (a 1x1 kernel never overlaps the padding, so output pixel (i, j)
    is input pixel (s*i, s*j) times the kernel).

    Why: the oneDNN CPU kernels of TensorFlow 2.21 and PyTorch 2.13 corrupt
    memory in the weight gradient of a strided 1x1 convolution over
    channels-last inputs, which ends the process (SIGSEGV, "free(): invalid
    size"). The generator's last layer is one; its unstrided form is not
    affected.
    """

    def __init__(self, filters, kernel_size=1, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        if self.kernel_size != (1, 1) or self.data_format != "channels_last" or self.dilation_rate != (1, 1):
            raise ValueError("StridedPointwiseConv2D takes a 1x1 kernel, channels_last data and no dilation.")

    def convolution_op(self, inputs, kernel):
        sh, sw = self.strides
        return ops.conv(inputs[:, ::sh, ::sw, :], kernel, strides=1, padding="valid", data_format="channels_last")


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class MinibatchStddev(keras.layers.Layer):
    """ProGAN's minibatch standard deviation (Karras et al. 2018): one more
    feature map holding how much the images of each group of
    ``group_size`` consecutive images differ, so the discriminator can see
    a batch of near-identical generated digits for what it is.

    Groups are consecutive images, so a batch of real digits followed by
    generated ones (the discriminator's stacked call) never mixes the two
    in a group. A batch whose size ``group_size`` does not divide is taken
    in groups of the largest divisor below it.
    """

    def __init__(self, group_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if int(group_size) < 2:
            raise ValueError(f"MinibatchStddev needs groups of at least 2 images; got {group_size}.")
        self.group_size = int(group_size)

    def _group(self, batch) -> int:
        if not isinstance(batch, int):  # unknown while the model is built symbolically
            return self.group_size
        return max(g for g in range(1, min(self.group_size, batch) + 1) if batch % g == 0)

    def call(self, x):
        shape = ops.shape(x)
        g = self._group(shape[0])
        groups = ops.reshape(x, (-1, g, *shape[1:]))
        spread = ops.mean(ops.sqrt(ops.var(groups, axis=1) + 1e-8), axis=(1, 2, 3), keepdims=True)
        spread = ops.repeat(spread, g, axis=0)  # (batch, 1, 1, 1): each image its group's figure
        return ops.concatenate([x, ops.broadcast_to(spread, (shape[0], shape[1], shape[2], 1))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        config = super().get_config()
        config.update(group_size=self.group_size)
        return config

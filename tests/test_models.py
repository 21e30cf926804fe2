import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mnist_gan.layers import BicubicResize, resize_matrix
from keras_mnist_gan.models import build_discriminator, build_generator


def shapes_and_params(model):
    return [(layer.name, tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]


def test_discriminator_layers():
    assert shapes_and_params(build_discriminator()) == [
        ("d_conv1", (28, 28, 32), 5 * 5 * 1 * 32 + 32),
        ("d_pool1", (14, 14, 32), 0),
        ("d_conv2", (14, 14, 64), 5 * 5 * 32 * 64 + 64),
        ("d_pool2", (7, 7, 64), 0),
        ("d_flatten", (3136,), 0),
        ("d_dense1", (1024,), 3136 * 1024 + 1024),
        ("d_logit", (1,), 1024 + 1),
    ]


def test_generator_layers():
    assert shapes_and_params(build_generator(100)) == [
        ("g_dense", (3136,), 100 * 3136 + 3136),
        ("g_reshape", (56, 56, 1), 0),
        ("g_bn1", (56, 56, 1), 4),  # gamma, beta, moving mean, moving variance
        ("g_relu1", (56, 56, 1), 0),
        ("g_conv1", (28, 28, 50), 3 * 3 * 1 * 50 + 50),
        ("g_bn2", (28, 28, 50), 4 * 50),
        ("g_relu2", (28, 28, 50), 0),
        ("g_resize1", (56, 56, 50), 0),
        ("g_conv2", (28, 28, 25), 3 * 3 * 50 * 25 + 25),
        ("g_bn3", (28, 28, 25), 4 * 25),
        ("g_relu3", (28, 28, 25), 0),
        ("g_resize2", (56, 56, 25), 0),
        ("g_pixels", (28, 28, 1), 25 + 1),
    ]
    bn = build_generator().get_layer("g_bn1")
    assert bn.epsilon == 1e-5


def test_seed_initialisation():
    d = build_discriminator(seed=1)
    w = d.get_layer("d_dense1").kernel.numpy()
    assert abs(w.std() - 0.0088) < 0.001  # truncated normal, stddev 0.01 before truncation
    assert np.abs(w).max() <= 0.02 + 1e-6
    assert not d.get_layer("d_dense1").bias.numpy().any()


def test_generator_pixels_in_unit_range():
    g = build_generator(noise_dim=16)
    out = g(np.random.default_rng(0).standard_normal((5, 16)).astype("float32") * 50).numpy()
    assert out.shape == (5, 28, 28, 1) and out.min() >= 0.0 and out.max() <= 1.0


def test_noise_dim_too_small():
    with pytest.raises(ValueError, match="noise_dim"):
        build_generator(noise_dim=2)


@pytest.mark.parametrize("shape", [(3, 28, 28, 50), (2, 28, 28, 1), (2, 20, 13, 4)])
def test_bicubic_resize_equals_keras_resizing(shape):
    x = tf.constant(np.random.default_rng(0).standard_normal(shape).astype("float32"))
    ref = keras.layers.Resizing(56, 56, interpolation="bicubic")
    ours = BicubicResize(56, 56)
    w = tf.constant(np.random.default_rng(1).standard_normal((shape[0], 56, 56, shape[3])).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y_ref, y_ours = ref(x), ours(x)
        loss_ref, loss_ours = tf.reduce_sum(y_ref * w), tf.reduce_sum(y_ours * w)
    np.testing.assert_allclose(y_ours.numpy(), y_ref.numpy(), atol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss_ours, x).numpy(), tape.gradient(loss_ref, x).numpy(), atol=1e-5)


def test_resize_matrix_rows_sum_to_one():
    a = resize_matrix(28, 56)
    assert a.shape == (56, 28)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-6)
    assert (np.abs(a) > 1e-7).sum(axis=1).max() <= 4  # cubic: four taps per output


def test_bicubic_resize_serialises(tmp_path):
    g = build_generator()
    path = tmp_path / "g.keras"
    g.save(path)
    back = keras.models.load_model(path)
    assert isinstance(back.get_layer("g_resize1"), BicubicResize)
    z = np.random.default_rng(0).standard_normal((4, 100)).astype("float32")
    np.testing.assert_allclose(back.predict(z, verbose=0), g.predict(z, verbose=0), atol=1e-6)

"""The health monitor fires on a winning D and a collapsed G, and stays
quiet on a healthy game."""

import keras
import numpy as np
import pytest

from keras_mnist_gan import GAN, DiscriminatorWarmup, build_discriminator, build_generator, make_dataset
from keras_mnist_gan.health import GameHealth, diversity


def gan_with(lr_d, lr_g, seed=0):
    gan = GAN(build_discriminator(seed=seed), build_generator(seed=seed + 100), seed=seed)
    gan.compile(keras.optimizers.Adam(lr_d, beta_1=0.5), keras.optimizers.Adam(lr_g, beta_1=0.5), label_smoothing=0.1)
    return gan


def play(gan, images, steps, **health_kw):
    messages = []
    monitor = GameHealth(images, log=messages.append, **health_kw)
    gan.fit(
        make_dataset(images, 32, seed=0),
        steps_per_epoch=steps,
        epochs=1,
        verbose=0,
        callbacks=[DiscriminatorWarmup(2), monitor],
    )
    return monitor, messages


def test_diversity_measures_spread():
    rng = np.random.default_rng(0)
    same = np.repeat(rng.random((1, 28, 28, 1), dtype=np.float32), 8, axis=0)
    assert diversity(same) == pytest.approx(0.0, abs=1e-3)
    assert diversity(rng.random((8, 28, 28, 1), dtype=np.float32)) > 5.0


def test_warns_when_the_discriminator_wins(tiny_images):
    # G barely learns while a fast D learns to reject its digits outright.
    gan = gan_with(lr_d=1e-3, lr_g=1e-9)
    monitor, messages = play(gan, tiny_images, 120, window=10, grace_steps=0, diversity_threshold=0.0)
    kinds = [kind for _, kind, _ in monitor.events]
    assert kinds == ["d_wins"], messages
    step, _, text = monitor.events[0]
    assert step % 10 == 0 and "discriminator is winning" in text and "g_loss rose" in text
    assert messages[0].startswith("keras-mnist-gan health: step")


def test_warns_when_the_generator_ignores_its_noise(tiny_images):
    gan = gan_with(lr_d=1e-4, lr_g=1e-9)
    dense = gan.generator.get_layer("g_dense")
    dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))  # every noise vector -> the same digit
    monitor, _ = play(gan, tiny_images, 30, window=10, grace_steps=0, g_loss_threshold=1e9)
    assert "collapse" in [kind for _, kind, _ in monitor.events]
    assert "only 0% as diverse" in [t for _, k, t in monitor.events if k == "collapse"][0]


def conditional_gan(seed=0):
    gan = GAN(build_discriminator(seed=seed, num_classes=10), build_generator(seed=seed + 100, num_classes=10))
    gan.compile(keras.optimizers.Adam(1e-4, beta_1=0.5), keras.optimizers.Adam(1e-9, beta_1=0.5))
    return gan


def test_warns_naming_the_classes_a_conditional_generator_draws_in_one_style(subset):
    images, labels = subset.x_train[:300], subset.y_train[:300]
    gan = conditional_gan()
    monitor = GameHealth(images, real_labels=labels, window=10, grace_steps=0, g_loss_threshold=1e9)
    monitor.set_model(gan)
    shares = monitor.class_diversity_shares()
    assert sorted(shares) == list(range(10)) and min(shares.values()) > 0.0
    # The noise's rows of G's first layer zeroed: each class is drawn from
    # its label alone, one digit per class, while the classes still differ.
    dense = gan.generator.get_layer("g_body").get_layer("g_dense")
    kernel = dense.kernel.numpy()
    kernel[: gan.noise_dim] = 0.0
    dense.kernel.assign(kernel)
    assert max(monitor.class_diversity_shares().values()) < 0.01
    messages = []
    monitor = GameHealth(
        images, real_labels=labels, window=10, grace_steps=0, g_loss_threshold=1e9, log=messages.append
    )
    gan.fit(
        make_dataset(images, 30, labels=labels, seed=0),
        steps_per_epoch=20,
        epochs=1,
        verbose=0,
        callbacks=[DiscriminatorWarmup(2), monitor],
    )
    texts = [t for _, kind, t in monitor.events if kind == "class_collapse"]
    assert len(texts) == 1 and "draws some classes in one style" in texts[0]
    assert all(f"{c} 0%" in texts[0] for c in range(10)), texts[0]
    # Without the real digits' labels there is nothing to compare a class with.
    quiet = GameHealth(images, window=10, grace_steps=0, g_loss_threshold=1e9, log=messages.append)
    quiet.set_model(gan)
    assert quiet.class_diversity == {}


def test_stop_on_failure_ends_the_run(tiny_images):
    gan = gan_with(lr_d=1e-3, lr_g=1e-9)
    monitor, _ = play(gan, tiny_images, 200, window=10, grace_steps=0, diversity_threshold=0.0, stop_on_failure=True)
    assert monitor.message and int(gan.step.numpy()) < 200


def test_healthy_game_stays_quiet(tiny_images):
    # On 300 digits a balanced game needs a slow D: its accuracy stays short
    # of certainty and the generator keeps a gradient.
    gan = gan_with(lr_d=2e-5, lr_g=2e-4)
    monitor, messages = play(gan, tiny_images, 80, window=10, grace_steps=20, diversity_threshold=0.05)
    assert monitor.events == [], messages

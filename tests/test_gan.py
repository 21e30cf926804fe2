import keras
import numpy as np
import pytest

from keras_mnist_gan import DiscriminatorWarmup, GAN, Schedule, build_discriminator, build_generator, make_dataset
from keras_mnist_gan.noise import draw_noise, noise_stream
from keras_mnist_gan.saving import ModelFileError, load_gan, load_generator, save_model_atomic

pytestmark = pytest.mark.core  # runs on every backend in CI

METRICS = {"d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake"}


def make_gan(noise_dim=100, two_d=False, seed=0):
    gan = GAN(build_discriminator(seed=seed), build_generator(noise_dim, seed=seed + 100), seed=seed)
    gan.compile(
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_fake_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5) if two_d else None,
    )
    return gan


def weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


@pytest.mark.parametrize("two_d", [False, True])
def test_warmup_trains_d_alone_then_both(tiny_images, two_d):
    gan = make_gan(two_d=two_d)
    ds = make_dataset(tiny_images, batch_size=16, seed=0)
    d0, g0 = weights(gan.discriminator), weights(gan.generator)
    history = gan.fit(ds, steps_per_epoch=4, epochs=1, callbacks=[DiscriminatorWarmup(4)], verbose=0)
    assert METRICS <= set(history.history)
    d1, g1 = weights(gan.discriminator), weights(gan.generator)
    assert all(changed(d0, d1)), "every D variable moves during warm-up"
    assert not any(changed(g0, g1)), "no G variable moves during warm-up"
    assert int(gan.g_optimizer.iterations.numpy()) == 0
    assert int(gan.step.numpy()) == 4
    gan.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # no warm-up callback: G trains
    assert all(changed(g1, weights(gan.generator)))
    assert int(gan.g_optimizer.iterations.numpy()) == 3
    d_iters = int(gan.d_optimizer.iterations.numpy())
    assert d_iters == 7
    if two_d:
        assert int(gan.d_fake_optimizer.iterations.numpy()) == 7


def test_warmup_counts_from_the_start_of_each_fit(tiny_images):
    gan = make_gan()
    ds = make_dataset(tiny_images, batch_size=16, seed=0)
    gan.fit(ds, steps_per_epoch=2, epochs=1, callbacks=[DiscriminatorWarmup(0)], verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    gan.fit(ds, steps_per_epoch=3, epochs=1, callbacks=[DiscriminatorWarmup(2)], verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 3  # 2 + the 1 step after this warm-up


def test_losses_are_the_textbook_ones(tiny_images):
    gan = make_gan()
    real = tiny_images[:8].astype("float32") / 255.0
    history = gan.fit(real, batch_size=8, epochs=1, verbose=0, shuffle=False)
    # At initialisation D's logits are ~0, so every cross-entropy is ~log 2.
    for name in ("d_loss_real", "d_loss_fake", "g_loss"):
        assert abs(history.history[name][0] - np.log(2)) < 0.05


def test_train_step_is_seeded(tiny_images):
    def run():
        keras.utils.set_random_seed(1)
        gan = make_gan(seed=1)
        gan.fit(make_dataset(tiny_images, 16, seed=1), steps_per_epoch=3, epochs=1, verbose=0)
        return weights(gan.generator)

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_generate_shape_range_and_seed(tiny_images):
    gan = make_gan()
    gan.fit(make_dataset(tiny_images, 16, seed=0), steps_per_epoch=20, epochs=1, verbose=0)
    stale = gan.generate(64, seed=5)
    # Early in a run the moving statistics lag: every digit is the same grey.
    assert stale.std(axis=0).mean() < 1e-3
    gan.calibrate_batchnorm()
    x = gan.generate(64, seed=5)
    # Calibrated, inference mode draws what training mode draws.
    noise = draw_noise(noise_stream(5), 64, 100)  # what generate(seed=5) feeds G
    np.testing.assert_allclose(x, keras.ops.convert_to_numpy(gan.generator(noise, training=True)), atol=0.02)
    assert x.shape == (64, 28, 28, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(gan.generate(64, seed=5, batch_size=7), x, atol=1e-4)
    assert not np.allclose(gan.generate(64, seed=6), x)
    # Not degenerate: the digits differ from one another and use a range of values.
    assert x.std(axis=0).mean() > 1e-3
    assert x.max() - x.min() > 0.1
    with pytest.raises(ValueError, match="positive"):
        gan.generate(0)


def test_mismatched_models():
    with pytest.raises(ValueError, match="discriminator expects"):
        GAN(
            keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]), build_generator()
        )


def test_save_load_round_trip_and_resume(tmp_path, tiny_images):
    gan = make_gan(two_d=True)
    ds = make_dataset(tiny_images, 16, seed=0)
    gan.fit(ds, steps_per_epoch=5, epochs=1, callbacks=[DiscriminatorWarmup(2)], verbose=0)
    path = save_model_atomic(gan, tmp_path / "gan.keras")
    back = load_gan(path)
    assert isinstance(back, GAN) and back.noise_dim == 100
    np.testing.assert_allclose(back.generate(16, seed=3), gan.generate(16, seed=3), atol=1e-6)
    for name in ("d_optimizer", "g_optimizer", "d_fake_optimizer"):
        a, b = getattr(gan, name), getattr(back, name)
        assert int(a.iterations.numpy()) == int(b.iterations.numpy()) > 0
        assert len(a.variables) == len(b.variables)
        for va, vb in zip(a.variables, b.variables):
            np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert int(back.step.numpy()) == 5
    np.testing.assert_array_equal(back.seed_generator.state.numpy(), gan.seed_generator.state.numpy())
    # Both continue identically: same weights, optimizer state, noise and data.
    gan.fit(make_dataset(tiny_images, 16, seed=9), steps_per_epoch=2, epochs=1, verbose=0)
    back.fit(make_dataset(tiny_images, 16, seed=9), steps_per_epoch=2, epochs=1, verbose=0)
    assert int(back.g_optimizer.iterations.numpy()) == int(gan.g_optimizer.iterations.numpy()) == 5
    for a, b in zip(weights(gan.generator), weights(back.generator)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_generator_file_for_sampling(tmp_path, tiny_images):
    gan = make_gan()
    path = save_model_atomic(gan.generator, tmp_path / "generator.keras")
    g = load_generator(path)
    z = np.random.default_rng(0).standard_normal((4, 100)).astype("float32")
    np.testing.assert_allclose(g.predict(z, verbose=0), gan.generator.predict(z, verbose=0), atol=1e-6)
    assert isinstance(load_generator(save_model_atomic(gan, tmp_path / "gan.keras")), keras.Model)


def test_load_errors(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_gan(tmp_path / "missing.keras")
    text = tmp_path / "text.keras"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a .keras file"):
        load_generator(text)
    classifier = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    foreign = save_model_atomic(classifier, tmp_path / "classifier.keras")
    with pytest.raises(ModelFileError, match="not a keras_mnist_gan GAN"):
        load_gan(foreign)
    with pytest.raises(ModelFileError, match="not a digit generator"):
        load_generator(foreign)
    good = save_model_atomic(build_generator(), tmp_path / "g.keras")
    raw = open(good, "rb").read()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="cut.keras"):
        load_generator(cut)


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    g = build_generator()
    path = save_model_atomic(g, tmp_path / "g.keras")
    before = open(path, "rb").read()

    class Broken(keras.Model):
        def save(self, *a, **k):
            open(a[0], "wb").write(b"partial")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(Broken(), path)
    assert open(path, "rb").read() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.keras"]


def test_ema_generator_averages_g_and_is_what_samples(tmp_path, tiny_images):
    gan = GAN(build_discriminator(seed=0), build_generator(seed=100), seed=0, ema_decay=0.9)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    ds = make_dataset(tiny_images, 16, seed=0)
    e0 = weights(gan.ema_generator)
    np.testing.assert_array_equal(e0[0], weights(gan.generator)[0])  # starts as a copy of G
    gan.fit(ds, steps_per_epoch=2, epochs=1, callbacks=[DiscriminatorWarmup(2)], verbose=0)
    assert not any(changed(e0, weights(gan.ema_generator))), "no average moves while G is frozen"
    g_path = [weights(gan.generator)]
    for _ in range(3):
        gan.fit(ds, steps_per_epoch=1, epochs=1, verbose=0)
        g_path.append(weights(gan.generator))
    # The decay ramps up as (1 + n) / (10 + n) below ema_decay: after G steps
    # n = 0, 1, 2 it is 0.1, 2/11, 3/12.
    expected = [w.copy() for w in e0]
    for n, g in enumerate(g_path[1:]):
        d = min(0.9, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, g)]
    for a, b in zip(weights(gan.ema_generator), expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert gan.sampler is gan.ema_generator
    gan.calibrate_batchnorm()
    z = draw_noise(noise_stream(1), 8, 100)  # what generate(seed=1) feeds G
    np.testing.assert_allclose(gan.generate(8, seed=1), gan.ema_generator.predict(z, verbose=0), atol=1e-6)
    back = load_gan(save_model_atomic(gan, tmp_path / "gan.keras"))
    assert back.ema_decay == 0.9
    for a, b in zip(weights(back.ema_generator), weights(gan.ema_generator)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        load_generator(tmp_path / "gan.keras").predict(z, verbose=0), gan.ema_generator.predict(z, verbose=0), atol=1e-6
    )


def test_ema_decay_must_be_a_fraction():
    with pytest.raises(ValueError, match="ema_decay"):
        GAN(build_discriminator(), build_generator(), ema_decay=1.0)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the reference gradient is TensorFlow's; test_backends checks the other backends against it",
)
def test_r1_penalty_is_half_gamma_times_squared_input_gradient(tiny_images):
    import tensorflow as tf

    batch = tiny_images[:16].astype("float32") / 255.0
    gan = GAN(build_discriminator(seed=0), build_generator(seed=100), seed=0)
    gan.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4), r1_gamma=3.0)
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(gan.discriminator(x, training=True))
    slopes = tape.gradient(total, x).numpy()
    expected = 0.5 * 3.0 * np.mean(np.sum(slopes**2, axis=(1, 2, 3)))
    d0 = weights(gan.discriminator)
    h = gan.fit(batch, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert h.history["d_r1"][0] == pytest.approx(expected, rel=1e-4)
    assert expected > 0
    # The penalty is part of D's gradient: D moves differently without it.
    plain = GAN(build_discriminator(seed=0), build_generator(seed=100), seed=0)
    plain.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4))
    plain.fit(batch, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert "d_r1" not in plain.get_metrics_result()
    assert any(changed(weights(plain.discriminator), weights(gan.discriminator)))
    assert all(changed(d0, weights(gan.discriminator)))


def test_lazy_r1_runs_on_every_kth_step_and_weighs_k_times(tiny_images):
    """R1 every 4 steps: 2 of 8 steps take the penalty (steps 0 and 4), and
    a regularised step moves D differently from the same step without it."""

    def compiled(interval, gamma=1.0):
        gan = make_gan()
        gan.compile(
            keras.optimizers.Adam(1e-3, beta_1=0.5),
            keras.optimizers.Adam(1e-3, beta_1=0.5),
            r1_gamma=gamma,
            schedule=Schedule(r1_interval=interval),
        )
        return gan

    ds = make_dataset(tiny_images, batch_size=16, seed=0)
    gan = compiled(4)
    assert [gan.phases_at(s, 0).regularize for s in range(6)] == [True, False, False, False, True, False]
    gan.fit(ds, steps_per_epoch=8, epochs=1, verbose=0)
    assert int(gan.d_r1_tracker.count.numpy()) == 2
    assert int(gan.step.numpy()) == 8 and int(gan.g_optimizer.iterations.numpy()) == 8

    # Step 0 is a regularised one: with R1 (weighted 4x) D moves otherwise
    # than without it.
    with_r1, without = compiled(4), compiled(4, gamma=0.0)
    without.set_weights(with_r1.get_weights())
    for gan in (with_r1, without):
        gan.fit(make_dataset(tiny_images, batch_size=16, seed=0), steps_per_epoch=1, epochs=1, verbose=0)
    assert any(changed(weights(with_r1.discriminator), weights(without.discriminator)))
    with pytest.raises(ValueError, match="r1_interval"):
        compiled(0)


def test_steps_under_a_mixed_precision_policy(tiny_images):
    """mixed_bfloat16 layers: the losses are float32, R1 and the EMA work,
    and the weights stay float32 and finite."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gan = GAN(build_discriminator(seed=0), build_generator(100, seed=100), seed=0, ema_decay=0.99)
        gan.compile(
            keras.optimizers.Adam(1e-3, beta_1=0.5),
            keras.optimizers.Adam(1e-3, beta_1=0.5),
            r1_gamma=1.0,
            schedule=Schedule(r1_interval=2),
        )
        before = weights(gan.generator)
        history = gan.fit(make_dataset(tiny_images, batch_size=16, seed=0), steps_per_epoch=4, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert all(changed(before, weights(gan.generator)))
    assert all(v.dtype == "float32" and np.isfinite(v.numpy()).all() for v in gan.trainable_variables)
    digits = gan.generate(8, seed=0)
    assert digits.dtype == np.float32 and digits.shape == (8, 28, 28, 1)


def test_minibatch_stddev_sees_alike_groups_and_never_mixes_groups():
    from keras_mnist_gan.layers import MinibatchStddev

    rng = np.random.default_rng(0)
    varied = rng.random((4, 7, 7, 3)).astype("float32")
    alike = np.repeat(varied[:1], 4, axis=0)
    out = keras.ops.convert_to_numpy(MinibatchStddev(4)(np.concatenate([varied, alike])))
    assert out.shape == (8, 7, 7, 4)
    np.testing.assert_array_equal(out[..., :3], np.concatenate([varied, alike]))
    spread = out[:, 0, 0, 3]
    assert spread[:4].min() > 0.1 and spread[4:].max() < 1e-3  # one figure per group of 4
    # A batch of 6 in groups of at most 4: groups of 3 (the largest divisor).
    assert keras.ops.convert_to_numpy(MinibatchStddev(4)(varied[:3].repeat(2, axis=0))).shape == (6, 7, 7, 4)
    with pytest.raises(ValueError, match="at least 2"):
        MinibatchStddev(1)


def test_mode_seeking_term_grows_as_pairs_look_alike():
    from keras_mnist_gan import losses

    rng = np.random.default_rng(0)
    noise = rng.standard_normal((8, 100)).astype("float32")
    varied = rng.random((8, 28, 28, 1)).astype("float32")
    alike = np.concatenate([varied[:4], varied[:4] + 0.01])
    far, near = (float(losses.mode_seeking_loss(x, noise)) for x in (varied, alike))
    assert 0 < far < near and near > 20 * far
    labels = keras.ops.convert_to_numpy(losses.paired_labels(np.arange(7, dtype="int32")))
    np.testing.assert_array_equal(labels, [0, 1, 2, 0, 1, 2, 6])


def test_mode_seeking_and_minibatch_stddev_train_and_round_trip(tmp_path, tiny_images):
    from keras_mnist_gan.presets import PRESETS
    from keras_mnist_gan.training import build_gan

    labels = np.arange(len(tiny_images)) % 10
    gan = build_gan(PRESETS["quality"].with_(mode_seeking=1.0, minibatch_std=5), seed=0)
    assert gan.discriminator.get_layer("d_features").get_layer("d_minibatch_std").group_size == 5
    before = weights(gan.generator)
    gan.fit(make_dataset(tiny_images, 20, labels=labels, seed=0), steps_per_epoch=4, epochs=1, verbose=0)
    assert all(changed(before, weights(gan.generator)))
    back = load_gan(save_model_atomic(gan, tmp_path / "gan.keras"))
    assert back.mode_seeking == 1.0
    np.testing.assert_allclose(back.generate(8, seed=1), gan.generate(8, seed=1), atol=1e-6)
    with pytest.raises(ValueError, match="mode_seeking"):
        gan.compile(mode_seeking=-1.0)

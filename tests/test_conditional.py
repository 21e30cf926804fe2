"""Class-conditional models: digits on request."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_mnist_gan import GAN, DiscriminatorWarmup, build_discriminator, build_generator, make_dataset
from keras_mnist_gan.cli import main
from keras_mnist_gan.evaluation import EVALUATOR_PATH, Evaluator
from keras_mnist_gan.models import LABEL_EMBEDDING_DIM, num_classes_of
from keras_mnist_gan.presets import PRESETS
from keras_mnist_gan.saving import load_gan, load_generator, save_model_atomic


def conditional_gan(noise_dim=16, ema=None):
    gan = GAN(
        build_discriminator(seed=0, num_classes=10),
        build_generator(noise_dim=noise_dim, seed=1, num_classes=10),
        seed=0,
        ema_decay=ema,
    )
    gan.compile(**PRESETS["quality"].optimizers())
    return gan


def test_conditional_models_shapes_and_the_seed_layers_unchanged():
    G = build_generator(noise_dim=100, num_classes=10)
    D = build_discriminator(num_classes=10)
    assert [tuple(i.shape) for i in G.inputs] == [(None, 100), (None,)] and G.output_shape == (None, 28, 28, 1)
    assert [tuple(i.shape) for i in D.inputs] == [(None, 28, 28, 1), (None,)] and D.output_shape == (None, 1)
    assert num_classes_of(G) == num_classes_of(D) == 10 and num_classes_of(build_generator()) is None
    # Only the label embeddings are new: G's first layer takes noise and code.
    plain_g, plain_d = build_generator(), build_discriminator()
    assert G.count_params() - plain_g.count_params() == 10 * LABEL_EMBEDDING_DIM + LABEL_EMBEDDING_DIM * 56 * 56
    assert D.count_params() - plain_d.count_params() == 10 * 1024
    # The label changes the digit drawn from the same noise.
    z = np.random.default_rng(0).standard_normal((2, 100)).astype("float32")
    a = keras.ops.convert_to_numpy(G([z, np.array([3, 3], "int32")]))
    b = keras.ops.convert_to_numpy(G([z, np.array([3, 8], "int32")]))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[1], b[1])  # (tiny differences: the initial weights are tiny)


def test_mixing_conditional_and_plain_models_is_refused():
    with pytest.raises(ValueError, match="both must be conditional"):
        GAN(build_discriminator(), build_generator(num_classes=10))


@pytest.mark.core
def test_conditional_train_step_generate_and_round_trip(tmp_path, tiny_images, subset):
    gan = conditional_gan(ema=0.99)
    labels = subset.y_train[:300]
    h = gan.fit(
        make_dataset(tiny_images, 20, seed=0, labels=labels),
        steps_per_epoch=4,
        epochs=1,
        verbose=0,
        callbacks=[DiscriminatorWarmup(2)],
    )
    assert int(gan.step.numpy()) == 4 and np.isfinite(h.history["g_loss"][-1])
    gan.calibrate_batchnorm(n=100)
    sevens = gan.generate(12, seed=3, labels=7)
    assert sevens.shape == (12, 28, 28, 1) and 0.0 <= sevens.min() and sevens.max() <= 1.0
    np.testing.assert_array_equal(gan.generate(12, seed=3, labels=7), sevens)
    assert not np.array_equal(gan.generate(12, seed=3, labels=2), sevens)  # (barely: 4 steps in)
    with pytest.raises(ValueError, match="0 to 9"):
        gan.generate(4, labels=10)
    save_model_atomic(gan, tmp_path / "gan.keras")
    save_model_atomic(gan.sampler, tmp_path / "generator.keras")
    back = load_gan(tmp_path / "gan.keras")
    np.testing.assert_allclose(back.generate(12, seed=3, labels=7), sevens, atol=1e-6)
    from keras_mnist_gan.sampling import generate

    np.testing.assert_allclose(
        generate(load_generator(tmp_path / "generator.keras"), 12, seed=3, labels=7), sevens, atol=1e-6
    )
    back.fit(make_dataset(tiny_images, 20, seed=0, labels=labels), steps_per_epoch=2, epochs=1, verbose=0)
    assert int(back.step.numpy()) == 6


def test_a_conditional_gan_refuses_batches_without_labels(tiny_images):
    # A fresh GAN: on JAX, Keras leaves a model whose fit failed in its
    # first step with its variables detached (its trainer's own behaviour).
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        conditional_gan().fit(make_dataset(tiny_images, 20, seed=0), steps_per_epoch=1, epochs=1, verbose=0)


def test_unconditional_generate_refuses_labels(tiny_images):
    gan = GAN(build_discriminator(seed=0), build_generator(noise_dim=16, seed=1), seed=0)
    with pytest.raises(ValueError, match="unconditional"):
        gan.generate(4, labels=3)


def test_cli_errors_for_digit_without_conditioning_and_conditioning_without_labels(tmp_path, subset, capsys):
    from keras_mnist_gan.evaluation import shipped_model

    unconditional = str(shipped_model("unconditional_generator.keras"))
    assert main(["sample", "--model", unconditional, "--digit", "3", "--out", str(tmp_path / "x.png")]) != 0
    assert "unconditional" in capsys.readouterr().err
    # checked against the generator's classes once it is loaded (data may have more than ten)
    assert main(["sample", "--digit", "12", "--out", str(tmp_path / "x.png")]) == 1
    assert "0 to 9" in capsys.readouterr().err
    unlabelled = tmp_path / "nolabels.npz"
    np.savez(unlabelled, x_train=subset.x_train[:100, ..., 0], x_test=subset.x_test[:50, ..., 0])
    assert (
        main(
            [
                "train",
                "--conditional",
                "--data",
                str(unlabelled),
                "--out",
                str(tmp_path / "r"),
                "--steps",
                "8",
                "--warmup-steps",
                "2",
            ]
        )
        != 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no labels (y_train)" in err[0]
    assert not (tmp_path / "r" / "gan.keras").exists()


@pytest.mark.slow
def test_a_short_conditional_run_draws_the_digits_asked_for(tmp_path, subset):
    """A short run on the subset (about a minute here) must already make
    digits the evaluator recognises as the class requested far above
    chance (10%); the CLI's sample --digit, --npy and evaluate read it."""
    if not EVALUATOR_PATH.is_file():
        pytest.skip("the shipped evaluator is missing")
    data = tmp_path / "d.npz"
    np.savez(
        data,
        x_train=subset.x_train[:6000, ..., 0],
        y_train=subset.y_train[:6000],
        x_test=subset.x_test[:1000, ..., 0],
        y_test=subset.y_test[:1000],
    )
    out = tmp_path / "run"
    # Small batches: many generator steps in little time.
    assert (
        main(
            [
                "train",
                "--conditional",
                "--data",
                str(data),
                "--out",
                str(out),
                "--steps",
                "800",
                "--batch-size",
                "16",
                "--warmup-steps",
                "50",
                "--steps-per-epoch",
                "400",
                "--quality-n",
                "500",
                "--no-health",
                "--quiet",
            ]
        )
        == 0
    )
    history = (out / "history.csv").read_text().splitlines()
    assert "val_accuracy" in history[0]
    generator = load_generator(out / "generator.keras")
    from keras_mnist_gan.sampling import generate

    labels = np.repeat(np.arange(10), 50)
    _, probs = Evaluator.load().features_and_probs(generate(generator, len(labels), seed=0, labels=labels))
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    assert accuracy > 0.5, accuracy
    npy = tmp_path / "fives.npy"
    assert (
        main(
            [
                "sample",
                "--model",
                str(out / "generator.keras"),
                "--digit",
                "5",
                "-n",
                "8",
                "--seed",
                "4",
                "--npy",
                str(npy),
                "--out",
                str(tmp_path / "fives.png"),
            ]
        )
        == 0
    )
    fives = np.load(npy)
    np.testing.assert_allclose(fives, generate(generator, 8, seed=4, labels=5), atol=1e-6)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_mnist_gan",
            "evaluate",
            "--model",
            str(out / "generator.keras"),
            "-n",
            "500",
            "--data",
            str(data),
            "--no-memorisation",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and "recognised as the digit asked for" in r.stdout, r.stderr[-1000:]

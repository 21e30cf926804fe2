"""What a run leaves to look at: TensorBoard events, curves, a GIF; and
walks through the noise space."""

import glob

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_mnist_gan.cli import main
from keras_mnist_gan.data import MnistData
from keras_mnist_gan.presets import PRESETS
from keras_mnist_gan.training import train
from keras_mnist_gan.visuals import interpolation_noise, slerp


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, subset):
    data = MnistData(subset.x_train[:320], subset.y_train[:320], subset.x_test[:150], subset.y_test[:150], "tiny")
    out = tmp_path_factory.mktemp("run")
    return train(
        str(out),
        data,
        preset=PRESETS["stable"].with_(batch_size=16, warmup_steps=2),
        steps=12,
        steps_per_epoch=4,
        quality_n=150,
        quality_every=4,
        verbose=0,
        log=lambda *_: None,
    )


def test_tensorboard_events_hold_scalars_and_digit_grids(short_run):
    events = glob.glob(f"{short_run.out_dir}/tensorboard/events.out.tfevents.*")
    assert events
    tags, steps = {}, set()
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
                steps.add(event.step)
    for name in ("g_loss", "d_loss_real", "d_acc_fake", "val_fid", "digits"):
        assert tags.get(name) == [4, 8, 12], (name, tags)


def test_curves_png_and_progress_gif(short_run):
    with Image.open(short_run.files["curves"]) as png:
        assert png.format == "PNG" and png.size[0] > 800
    with Image.open(short_run.files["progress"]) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3  # one grid per epoch


def test_slerp_keeps_the_ends_and_the_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(100), rng.standard_normal(100)
    path = slerp(a, b, np.linspace(0, 1, 7))
    np.testing.assert_allclose(path[0], a, atol=1e-9)
    np.testing.assert_allclose(path[-1], b, atol=1e-9)
    norms = np.linalg.norm(path, axis=1)
    assert norms.min() > 0.9 * min(np.linalg.norm(a), np.linalg.norm(b))
    assert interpolation_noise(100, rows=3, steps=5, seed=1).shape == (15, 100)


def test_sample_interpolate_grid_and_gif(tmp_path, short_run, capsys):
    model = short_run.files["generator"]
    assert main(["sample", "--model", model, "--interpolate", "--out", str(tmp_path / "walk.png"), "--seed", "1"]) == 0
    with Image.open(tmp_path / "walk.png") as png:
        # 8 rows of 10 digits: 28 px + 2 px padding, doubled.
        assert png.size == ((10 * 30 + 2) * 2, (8 * 30 + 2) * 2)
    assert main(["sample", "--model", model, "--interpolate", "-n", "4", "--out", str(tmp_path / "walk.gif")]) == 0
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 4 * 12
    assert "walks of 10 steps" in capsys.readouterr().out

"""The keras-tuner search: tiny budgets, real mechanics."""

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_mnist_gan.data import MnistData
from keras_mnist_gan.presets import PRESETS
from keras_mnist_gan.saving import load_gan, load_generator
from keras_mnist_gan.tuning import SearchError, SearchSpace, run_search

REPO = Path(__file__).resolve().parent.parent

TINY = PRESETS["stable"].with_(batch_size=16, warmup_steps=2)


@pytest.fixture(scope="module")
def tiny_data(subset):
    return MnistData(subset.x_train[:320], subset.y_train[:320], subset.x_test[:200], subset.y_test[:200], "tiny")


def search(directory, data, **kw):
    args = dict(
        project_name="p",
        data=data,
        tuner="random",
        max_trials=2,
        steps_per_trial=6,
        preset=TINY,
        quality_n=150,
        seed=0,
        log=lambda *_: None,
    )
    args.update(kw)
    return run_search(str(directory), **args)


@pytest.mark.slow  # 30 s of real trials: CI runs it with -m slow
def test_two_trial_search_then_rerun_skips_finished_trials(tmp_path, tiny_data):
    first = search(tmp_path, tiny_data)
    assert first.trained_here == 2 and len(first.trials) == 2
    for row in first.trials:
        assert row["status"] == "COMPLETED"
        assert math.isfinite(row["val_fid"]) and row["val_fid"] > 0
        assert 1.0 <= row["val_score"] <= 10.0
        assert 1e-5 <= row["lr_d"] <= 1e-3 and 0.1 <= row["ratio"] <= 10
        assert row["lr_g"] == pytest.approx(row["lr_d"] * row["ratio"])
    assert first.trials[0]["val_fid"] <= first.trials[1]["val_fid"]
    assert first.best == first.trials[0]
    # The best GAN is that trial's: same learning rates, trained 6 steps.
    gan = load_gan(first.files["best_gan"])
    assert int(gan.step.numpy()) == 6
    assert float(gan.d_optimizer.learning_rate.numpy()) == pytest.approx(first.best["lr_d"], rel=1e-5)
    digits = load_generator(first.files["best_generator"]).predict(np.zeros((4, 100), "float32"), verbose=0)
    assert digits.shape == (4, 28, 28, 1) and 0.0 <= digits.min() and digits.max() <= 1.0
    csv_lines = open(first.files["csv"]).read().splitlines()
    assert csv_lines[0].startswith("trial,status,lr_d") and len(csv_lines) == 3
    assert open(first.files["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    again = search(tmp_path, tiny_data)
    assert again.trained_here == 0, "a rerun must not retrain finished trials"
    assert [r["trial"] for r in again.trials] == [r["trial"] for r in first.trials]
    assert [r["val_fid"] for r in again.trials] == [r["val_fid"] for r in first.trials]

    more = search(tmp_path, tiny_data, max_trials=3)  # extends the same search by one trial
    assert more.trained_here == 1 and len(more.trials) == 3

    with pytest.raises(SearchError, match="different search.*steps_per_trial"):
        search(tmp_path, tiny_data, steps_per_trial=7)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(space=None), "lr_D range"),
        (dict(max_trials=0), "max_trials"),
        (dict(steps_per_trial=0), "steps_per_trial"),
        (dict(tuner="grid"), "unknown tuner"),
    ],
)
def test_bad_search_settings(tmp_path, tiny_data, kw, match):
    with pytest.raises(SearchError, match=match):
        if kw.get("space", 1) is None:
            kw = dict(space=SearchSpace(lr_d=(1e-3, 1e-4)))
        search(tmp_path, tiny_data, **kw)


def test_bad_ranges():
    with pytest.raises(SearchError, match="empty or inverted"):
        SearchSpace(lr_d=(1e-4, 1e-4))
    with pytest.raises(SearchError, match="ratio"):
        SearchSpace(ratio=(5.0, 0.5))
    with pytest.raises(SearchError, match="beta_1"):
        SearchSpace(beta_1=(0.5, 1.2))


def test_directory_holding_something_else(tmp_path, tiny_data):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    with pytest.raises(SearchError, match="not a keras-mnist-gan search"):
        search(tmp_path, tiny_data)
    assert (tmp_path / "p" / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
@pytest.mark.slow
def test_gpu_search_script_runs_the_package_under_torch(tmp_path, tiny_npz):
    """tuning/gpu_search.sh, the GPU machine's search, run here on the CPU:
    the package's own tune command on the PyTorch backend."""
    env = dict(
        os.environ,
        KERAS_BACKEND="torch",
        OUT=str(tmp_path / "out"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
    )
    r = subprocess.run(
        [
            "bash",
            str(REPO / "tuning" / "gpu_search.sh"),
            "run",
            "--data",
            str(tiny_npz),
            "--max-trials",
            "1",
            "--steps-per-trial",
            "8",
            "--warmup-steps",
            "2",
            "--quality-n",
            "150",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "on torch" in r.stdout
    project = tmp_path / "out" / "lr_search"
    assert (project / "trials.csv").is_file()
    assert load_generator(project / "best_generator.keras").output_shape[1:] == (28, 28, 1)

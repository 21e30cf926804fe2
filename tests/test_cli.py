import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_mnist_gan.cli import main


TRAIN_ARGS = [
    "--steps",
    "12",
    "--steps-per-epoch",
    "6",
    "--batch-size",
    "20",
    "--warmup-steps",
    "4",
    "--seed",
    "3",
    "--quality-n",
    "150",
    "--quality-every",
    "6",
    "--quiet",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny CLI training run, shared by the tests that read its files."""
    root = tmp_path_factory.mktemp("cli")
    from keras_mnist_gan.data import load_subset

    s = load_subset()
    data = root / "tiny.npz"
    np.savez(data, x_train=s.x_train[:400, ..., 0], x_test=s.x_test[:150, ..., 0])
    out = root / "run"
    code = main(["train", "--data", str(data), "--out", str(out)] + TRAIN_ARGS)
    assert code == 0
    return out


@pytest.mark.core
def test_train_writes_everything(trained_run):
    for name in (
        "gan.keras",
        "generator.keras",
        "history.csv",
        "samples.png",
        "config.json",
        "curves.png",
        "progress.gif",
    ):
        assert (trained_run / name).is_file(), name
    grids = sorted(p.name for p in (trained_run / "samples").iterdir())
    assert grids == ["step_0000006.png", "step_0000012.png"]
    rows = (trained_run / "history.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    # d_r1 is there because the default (quality) preset trains with the R1 penalty.
    assert header == [
        "step",
        "d_acc_fake",
        "d_acc_real",
        "d_loss_fake",
        "d_loss_real",
        "d_r1",
        "g_loss",
        "val_class_entropy",
        "val_diversity",
        "val_fid",
        "val_rarest_class",
        "val_score",
        "val_seconds",
        "wall_s",
    ]
    wall = [float(r.split(",")[-1]) for r in rows[1:]]
    assert 0 < wall[0] < wall[1]
    fid = [float(r.split(",")[header.index("val_fid")]) for r in rows[1:]]
    assert all(f > 0 for f in fid)
    assert [r.split(",")[0] for r in rows[1:]] == ["6", "12"]
    from keras_mnist_gan import load_gan

    gan = load_gan(trained_run / "gan.keras")
    assert int(gan.step.numpy()) == 12
    assert int(gan.g_optimizer.iterations.numpy()) == 8  # 12 steps - 4 warm-up


@pytest.mark.core
def test_sample_png_and_npy(trained_run, tmp_path, capsys):
    png, npy = tmp_path / "d.png", tmp_path / "d.npy"
    assert (
        main(
            [
                "sample",
                "--model",
                str(trained_run / "generator.keras"),
                "-n",
                "10",
                "--out",
                str(png),
                "--npy",
                str(npy),
                "--seed",
                "1",
            ]
        )
        == 0
    )
    x = np.load(npy)
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    img = Image.open(png)
    assert img.mode == "L" and img.size[0] > 4 * 28
    # Same seed, same digits; the GAN file gives the generator's digits.
    npy2 = tmp_path / "e.npy"
    main(
        [
            "sample",
            "--model",
            str(trained_run / "gan.keras"),
            "-n",
            "10",
            "--out",
            str(tmp_path / "e.png"),
            "--npy",
            str(npy2),
            "--seed",
            "1",
        ]
    )
    np.testing.assert_allclose(np.load(npy2), x, atol=1e-5)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--steps", "0"], "must be at least 1"),
        (["train", "--batch-size", "-5"], "must be at least 1"),
        (["train", "--lr-d", "3"], "between 0 and 1"),
        (["train", "--lr-g", "abc"], "expected a number"),
        (["train", "--steps", "5", "--epochs", "1"], "not allowed with"),
        (["sample", "-n", "0", "--model", "x.keras"], "must be at least 1"),
    ],
)
def test_bad_values_exit_nonzero_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_errors_from_files(tmp_path, capsys, tiny_npz):
    assert main(["sample", "--model", str(tmp_path / "none.keras")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "o")]) == 1
    assert "no such file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--data", str(tiny_npz), "--out", str(blocker / "run")]) == 1
    assert "not a directory" in capsys.readouterr().err
    assert main(["train", "--data", str(tiny_npz), "--out", str(tmp_path / "o"), "--batch-size", "500"]) == 1
    assert "fewer than one batch" in capsys.readouterr().err
    assert main(["train", "--data", str(tiny_npz), "--noise-dim", "2"]) == 1
    assert "between 4" in capsys.readouterr().err


def test_console_entry_point_runs(tmp_path):
    """The installed module runs as a program and reports errors in one line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run(
        [sys.executable, "-m", "keras_mnist_gan", "sample", "--model", str(tmp_path / "x.keras")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("keras-mnist-gan sample: error:")
    assert "Traceback" not in r.stderr


def test_the_same_command_on_a_finished_run_says_so_in_one_line(trained_run, capsys):
    before = (trained_run / "gan.keras").stat().st_mtime_ns
    assert main(["train", "--data", str(trained_run.parent / "tiny.npz"), "--out", str(trained_run)] + TRAIN_ARGS) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "run is already at step 12 of 12; raise --steps to train on" and err == ""
    assert (trained_run / "gan.keras").stat().st_mtime_ns == before


def test_a_run_from_the_command_line_prints_only_its_own_lines(tmp_path, tiny_npz):
    """No TensorFlow/absl/CUDA log lines: stderr stays empty, stdout holds
    the progress lines and the summary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "KERAS_MNIST_GAN"))}
    env["HOME"] = str(tmp_path)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_mnist_gan",
            "train",
            "--data",
            str(tiny_npz),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "4",
            "--warmup-steps",
            "2",
            "--batch-size",
            "20",
            "--quality-n",
            "0",
            "--no-health",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines()[0] == "Epoch 1/1: steps 1-4 of 4"
    assert r.stdout.strip().splitlines()[-1].startswith("trained 4 steps; wrote ")


def test_help_works_and_commands_say_so_when_the_backend_is_not_installed(tmp_path):
    import importlib.util

    missing = next((b for b in ("openvino", "jax", "torch") if importlib.util.find_spec(b) is None), None)
    if missing is None:
        pytest.skip("every Keras backend is installed here")
    env = dict(os.environ, KERAS_BACKEND=missing)
    help_ = subprocess.run(
        [sys.executable, "-m", "keras_mnist_gan", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert help_.returncode == 0 and "train" in help_.stdout
    r = subprocess.run(
        [sys.executable, "-m", "keras_mnist_gan", "sample", "--out", str(tmp_path / "d.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"keras-mnist-gan sample: error: KERAS_BACKEND={missing}, but {missing} is not installed: "
        f"`pip install {missing}`, or unset KERAS_BACKEND to use TensorFlow."
    ]


def test_quality_figures_only_at_the_end_by_default(tmp_path, tiny_npz):
    """Without --quality-every the run spends no time judging itself on the
    way: only the last epoch's row has val_fid; the header widens for it."""
    out = tmp_path / "run"
    i = TRAIN_ARGS.index("--quality-every")
    args = TRAIN_ARGS[:i] + TRAIN_ARGS[i + 2 :]
    assert main(["train", "--data", str(tiny_npz), "--out", str(out)] + args) == 0
    rows = [r.split(",") for r in (out / "history.csv").read_text().strip().splitlines()]
    fid = [float(r[rows[0].index("val_fid")]) for r in rows[1:]]
    assert [r[0] for r in rows[1:]] == ["6", "12"]
    assert np.isnan(fid[0]) and fid[1] > 0
    seconds = float(rows[2][rows[0].index("val_seconds")])
    assert 0 < seconds < float(rows[2][rows[0].index("wall_s")])


def test_numpy_backend_trains_nothing_and_keras_json_picks_the_backend(tmp_path, tiny_npz):
    """KERAS_BACKEND=numpy: train says in one line that it cannot train
    there; ~/.keras/keras.json naming a backend that is not installed is
    read (the package no longer forces TensorFlow) and named in one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS_BACKEND", "KERAS_HOME"))}
    train = [
        sys.executable,
        "-m",
        "keras_mnist_gan",
        "train",
        "--data",
        str(tiny_npz),
        "--out",
        str(tmp_path / "r"),
        "--steps",
        "4",
        "--warmup-steps",
        "2",
        "--batch-size",
        "20",
        "--quality-n",
        "0",
    ]
    r = subprocess.run(train, capture_output=True, text=True, env=dict(env, KERAS_BACKEND="numpy"), timeout=300)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "training needs the TensorFlow, JAX or PyTorch backend" in r.stderr
    home = tmp_path / "home"
    (home / ".keras").mkdir(parents=True)
    (home / ".keras" / "keras.json").write_text('{"backend": "no_such_backend"}')
    r = subprocess.run(train, capture_output=True, text=True, env=dict(env, HOME=str(home)), timeout=300)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "keras.json names the backend 'no_such_backend'" in r.stderr

"""Runs survive interruption: checkpoints, resume, kills, NaN losses."""

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from keras import ops

from keras_mnist_gan import GAN
from keras_mnist_gan.data import MnistData
from keras_mnist_gan.presets import PRESETS
from keras_mnist_gan.saving import load_gan, load_generator
from keras_mnist_gan.training import TrainingError, train

TINY = PRESETS["stable"].with_(batch_size=16, warmup_steps=3, ema_decay=0.9)


@pytest.fixture(scope="module")
def tiny(subset):
    return MnistData(subset.x_train[:320], subset.y_train[:320], subset.x_test[:100], subset.y_test[:100], "tiny")


def run(out, data, steps, **kw):
    args = dict(
        preset=TINY,
        steps=steps,
        steps_per_epoch=4,
        quality_n=0,
        verbose=0,
        checkpoint_every=3,
        health=False,
        log=lambda *_: None,
    )
    args.update(kw)
    return train(str(out), data, **args)


@pytest.mark.core
def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny):
    straight = run(tmp_path / "a", tiny, 10)
    run(tmp_path / "b", tiny, 5)
    messages = []
    resumed = run(tmp_path / "b", tiny, 10, log=messages.append)
    assert resumed.resumed_from == 5 and resumed.steps == 10
    assert messages[0].startswith("resuming from step 5")
    # Same weights, weight average, optimizer state: the data order, noise
    # and warm-up all continued where they stopped.
    for a, b in zip(straight.gan.get_weights(), resumed.gan.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.gan.g_optimizer.variables, resumed.gan.g_optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    steps = [int(line.split(",")[0]) for line in open(tmp_path / "b" / "history.csv").read().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 10


def test_run_dir_conflicts_are_errors_and_restart_clears(tmp_path, tiny):
    run(tmp_path / "r", tiny, 4)
    before = open(tmp_path / "r" / "gan.keras", "rb").read()
    with pytest.raises(TrainingError, match="different run.*seed.*--restart"):
        run(tmp_path / "r", tiny, 4, seed=1)
    with pytest.raises(TrainingError, match="different run.*lr_d 0.0001 there, 0.001 now"):
        run(tmp_path / "r", tiny, 4, preset=TINY.with_(lr_d=1e-3))
    assert open(tmp_path / "r" / "gan.keras", "rb").read() == before, "a refused run must not touch the files"
    fresh = run(tmp_path / "r", tiny, 5, seed=1, resume=False)
    assert fresh.resumed_from is None and int(load_gan(tmp_path / "r" / "gan.keras").step.numpy()) == 5
    with pytest.raises(TrainingError, match="no run to resume"):
        run(tmp_path / "empty", tiny, 5, resume=True)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "gan.keras").write_bytes(b"not mine")
    with pytest.raises(TrainingError, match="did not write"):
        run(foreign, tiny, 5)
    assert (foreign / "gan.keras").read_bytes() == b"not mine"


@pytest.mark.slow
def test_a_run_written_before_a_preset_setting_existed_still_resumes(tmp_path, tiny):
    import json

    run(tmp_path / "r", tiny, 4)
    cfg = tmp_path / "r" / "config.json"
    settings = json.loads(cfg.read_text())
    del settings["preset"]["r1_gamma"]  # as written before R1 was added; its default is 0
    cfg.write_text(json.dumps(settings))
    assert run(tmp_path / "r", tiny, 6).resumed_from == 4


@pytest.mark.core
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny, monkeypatch):
    original = GAN.adversarial_step

    def poisoned(self, data):
        logs = original(self, data)
        bad = ops.where(self.step > 7, float("nan"), 0.0)
        return {k: (v + bad if "loss" in k else v) for k, v in logs.items()}

    monkeypatch.setattr(GAN, "adversarial_step", poisoned)
    with pytest.raises(TrainingError, match=r"became nan at step 8.*last good checkpoint \(step 6\)"):
        run(tmp_path / "n", tiny, 20)
    assert int(load_gan(tmp_path / "n" / "gan.keras").step.numpy()) == 6
    assert not (tmp_path / "n" / "generator.keras").exists()


def _cli(out, npz, steps, extra=()):
    return [
        sys.executable,
        "-m",
        "keras_mnist_gan",
        "train",
        "--data",
        str(npz),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--steps-per-epoch",
        "20",
        "--checkpoint-every",
        "10",
        "--batch-size",
        "16",
        "--warmup-steps",
        "5",
        "--quality-n",
        "0",
        "--no-health",
        "--quiet",
        *extra,
    ]


def _wait_for(path, proc, timeout=240):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        time.sleep(0.2)
    raise AssertionError(f"{path} did not appear")


ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.mark.slow  # a killed process and its restart: most of a minute; CI runs -m slow
def test_sigkill_then_same_command_resumes(tmp_path, tiny_npz):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(out, tiny_npz, 200), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    _wait_for(out / "gan.keras", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = int(load_gan(out / "gan.keras").step.numpy())
    assert 10 <= killed_at < 200 and killed_at % 10 == 0
    again = subprocess.run(_cli(out, tiny_npz, 200), capture_output=True, text=True, env=ENV, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming from step {killed_at}" in again.stdout
    gan = load_gan(out / "gan.keras")
    assert int(gan.step.numpy()) == 200
    assert load_generator(out / "generator.keras").output_shape == (None, 28, 28, 1)
    assert not glob.glob(str(out / ".*tmp*"))


SLOW_SAVE = """
import os, sys, time
import keras
marker = sys.argv[1]
original = keras.Model.save
count = [0]
def save(self, path, *a, **k):
    original(self, path, *a, **k)
    if os.path.basename(str(path)).startswith(".gan."):
        count[0] += 1
        if count[0] == 2:  # the second checkpoint: leave it half-written, then hang
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            open(marker, "w").close()
            time.sleep(600)
keras.Model.save = save
from keras_mnist_gan.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path, tiny_npz):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(out, tiny_npz, 100000, ["--checkpoint-every", "1000"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    _wait_for(out / "samples" / "step_0000020.png", proc)  # training is under way; no checkpoint yet
    proc.send_signal(signal.SIGTERM)
    text = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, text[-2000:]
    step = int(load_gan(out / "gan.keras").step.numpy())
    assert step >= 20 and f"checkpoint at step {step}" in text and "run the same command again to resume" in text


@pytest.mark.slow  # a killed process and its restart: most of a minute; CI runs -m slow
def test_kill_in_the_middle_of_a_save_keeps_the_previous_checkpoint(tmp_path, tiny_npz):
    out, marker = tmp_path / "run", tmp_path / "saving"
    argv = _cli(out, tiny_npz, 60)[3:]  # after "-m keras_mnist_gan"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(marker), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert glob.glob(str(out / ".gan.tmp-*.keras")), "the half-written file is where the kill left it"
    assert int(load_gan(out / "gan.keras").step.numpy()) == 10, "gan.keras is still the previous good checkpoint"
    again = subprocess.run(_cli(out, tiny_npz, 60), capture_output=True, text=True, env=ENV, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from step 10" in again.stdout
    assert int(load_gan(out / "gan.keras").step.numpy()) == 60
    assert not glob.glob(str(out / ".*tmp*"))


def test_a_run_cannot_end_inside_the_warmup(tmp_path, tiny):
    with pytest.raises(TrainingError, match="inside the discriminator's warm-up.*after step 3"):
        run(tmp_path / "w", tiny, 3)
    assert not (tmp_path / "w" / "gan.keras").exists()


def test_a_finished_run_says_so_and_writes_nothing(tmp_path, tiny):
    run(tmp_path / "f", tiny, 5)

    def stamps():
        return {p.name: p.stat().st_mtime_ns for p in (tmp_path / "f").iterdir() if p.name != ".lock"}

    before = stamps()
    messages = []
    again = run(tmp_path / "f", tiny, 5, log=messages.append)
    assert again.already_done and again.steps == 5
    assert messages == ["run is already at step 5 of 5; raise --steps to train on"]
    assert stamps() == before


@pytest.mark.core
def test_a_resume_inside_an_epoch_continues_that_epoch(tmp_path, tiny):
    """Stopped at step 6 of an epoch of 4 (steps 5-8), the resumed run's
    row for step 8 averages all of steps 5-8, as the uninterrupted run's
    does, and the next epoch ends at step 12, not 10."""
    straight = run(tmp_path / "a", tiny, 12, checkpoint_every=100)
    run(tmp_path / "b", tiny, 6, checkpoint_every=100)
    run(tmp_path / "b", tiny, 12, checkpoint_every=100)

    def rows(name):
        lines = open(tmp_path / name / "history.csv").read().splitlines()
        cols = lines[0].split(",")
        return [dict(zip(cols, map(float, ln.split(",")))) for ln in lines[1:]]

    a, b = rows("a"), rows("b")
    assert [r["step"] for r in a] == [4, 8, 12]
    assert [r["step"] for r in b] == [4, 6, 8, 12]  # 6: where the first call ended
    for ra, rb in zip(a, [r for r in b if r["step"] != 6]):
        for key in ("d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-5), (ra["step"], key)
    assert straight.steps == 12


def test_a_time_budget_stops_cleanly_and_the_same_call_continues(tmp_path, tiny):
    first = run(tmp_path / "t", tiny, 16, minutes=1e-9, checkpoint_every=100)
    assert first.out_of_time and 1 <= first.steps < 16
    assert int(load_gan(tmp_path / "t" / "gan.keras").step.numpy()) == first.steps
    assert (tmp_path / "t" / "generator.keras").is_file()
    second = run(tmp_path / "t", tiny, 16, minutes=60, checkpoint_every=100)
    assert second.resumed_from == first.steps and second.steps == 16 and not second.out_of_time


def test_a_second_process_on_the_same_folder_is_refused(tmp_path, tiny):
    from keras_mnist_gan.rundir import RunLock

    out = tmp_path / "l"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from keras_mnist_gan.rundir import RunLock\n"
            f"lock = RunLock({str(out)!r}).__enter__()\nprint('locked', flush=True)\n"
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(TrainingError, match=f"another process \\(PID {holder.pid}\\) is training there"):
            run(out, tiny, 5)
        assert not (out / "gan.keras").exists()
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the killed holder's lock: the folder is usable again.
    with RunLock(str(out)):
        pass
    assert run(out, tiny, 5).steps == 5


@pytest.mark.parametrize("name", ["config.json", "history.csv", "samples"])
def test_run_files_that_are_links_are_refused(tmp_path, tiny, name):
    run(tmp_path / "s", tiny, 4)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious"
    target.write_text("keep me")
    link = tmp_path / "s" / name
    if link.is_dir():
        import shutil

        shutil.rmtree(link)
    else:
        link.unlink()
    link.symlink_to(target)
    with pytest.raises(TrainingError, match=f"{name} is a symbolic link"):
        run(tmp_path / "s", tiny, 8)
    with pytest.raises(TrainingError, match="symbolic link"):
        run(tmp_path / "s", tiny, 8, resume=False)  # not even --restart deletes through it
    assert target.read_text() == "keep me"

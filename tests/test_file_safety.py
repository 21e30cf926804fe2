"""Never lose a user's file (keras_mnist_gan/outputs.py): export, web and
sample replace only what they wrote themselves, refuse anything else in one
line, and leave no temporaries behind, even when stopped."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import keras
import pytest

from keras_mnist_gan import cli, outputs

CAN_EXPORT = keras.backend.backend() == "tensorflow" and all(
    importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime")
)
needs_export = pytest.mark.skipif(not CAN_EXPORT, reason="needs TensorFlow and the [export] extra")


def digest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "error:" in err, err
    for word in words:
        assert word in err, err
    return err


def build(files: dict):
    def write(staged: Path) -> None:
        for rel, text in files.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_text(text)

    return write


# --- the rule, once -----------------------------------------------------------


def test_a_folder_of_ours_is_replaced_whole_and_a_foreign_file_refused(tmp_path):
    out = tmp_path / "out"
    outputs.write_folder(out, build({"a.txt": "1", "sub/b.txt": "2"}))
    assert sorted(json.loads((out / outputs.MANIFEST).read_text())["files"]) == ["a.txt", "sub/b.txt"]
    outputs.write_folder(out, build({"a.txt": "3"}))  # a rerun over our own folder
    assert sorted(outputs.entries(out)) == [outputs.MANIFEST, "a.txt"] and (out / "a.txt").read_text() == "3"
    (out / "CNAME").write_text("digits.example.org")
    before = digest(tmp_path)
    with pytest.raises(outputs.OutputError, match=r"holds other files \(.*out/CNAME\); nothing was deleted"):
        outputs.write_folder(out, build({"a.txt": "4"}))
    assert digest(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary left


def test_only_files_still_as_written_are_ours(tmp_path):
    """The manifest records each file's size and SHA-256: a file it lists
    but that changed, and any file of a planted list (names, no hashes, or
    hashes that do not match), is the user's and is never deleted."""
    out = tmp_path / "site"
    outputs.write_folder(out, build({"a.txt": "1", "sub/b.txt": "2"}))
    recorded = json.loads((out / outputs.MANIFEST).read_text())["files"]
    assert recorded["a.txt"] == {"bytes": 1, "sha256": hashlib.sha256(b"1").hexdigest()}
    (out / "a.txt").write_text("my edit")
    before = digest(tmp_path)
    with pytest.raises(outputs.OutputError, match=r"site/a\.txt \(changed since keras-mnist-gan wrote it\)"):
        outputs.write_folder(out, build({"a.txt": "new"}))
    assert digest(tmp_path) == before

    planted = tmp_path / "copied"
    planted.mkdir()
    (planted / "thesis.tex").write_text("mine")
    for files in (["thesis.tex"], {"thesis.tex": {"bytes": 4, "sha256": "0" * 64}}, {"thesis.tex": {}}):
        (planted / outputs.MANIFEST).write_text(json.dumps({"written_by": "keras-mnist-gan", "files": files}))
        with pytest.raises(outputs.OutputError, match=r"copied/thesis\.tex"):
            outputs.write_folder(planted, build({"index.html": "x"}))
        assert (planted / "thesis.tex").read_text() == "mine"
    (out / "empty").mkdir()  # an empty folder of the user's is theirs too
    (out / "a.txt").write_text("1")
    with pytest.raises(outputs.OutputError, match="site/empty/"):
        outputs.write_folder(out, build({"a.txt": "x"}))


def test_the_working_directory_is_filled_file_by_file(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    outputs.write_folder(".", build({"a.txt": "1", "sub/b.txt": "2"}))
    assert sorted(outputs.entries(".")) == [outputs.MANIFEST, "a.txt", "sub/b.txt"]
    outputs.write_folder(".", build({"a.txt": "3", "c.txt": "4"}))  # our old sub/b.txt goes, sub/ with it
    assert sorted(outputs.entries(".")) == [outputs.MANIFEST, "a.txt", "c.txt"]
    assert Path.cwd() == here.resolve()
    (here / "notes.txt").write_text("mine")
    with pytest.raises(outputs.OutputError, match=r"\./notes\.txt"):
        outputs.write_folder(".", build({"a.txt": "5"}))
    assert (here / "notes.txt").read_text() == "mine" and (here / "a.txt").read_text() == "3"


def test_a_file_target_never_replaces_a_folder_or_a_device(tmp_path):
    folder = tmp_path / "g.onnx"
    folder.mkdir()
    (folder / "my_notes.txt").write_text("mine")
    with pytest.raises(outputs.OutputError, match="g.onnx is a folder"):
        outputs.install_file(folder, lambda staged: staged.write_text("model"))
    assert (folder / "my_notes.txt").read_text() == "mine"
    with pytest.raises(outputs.OutputError, match="is a character device"):
        outputs.check_file_target("/dev/null")
    outputs.install_file(tmp_path / "new" / "g.onnx", lambda staged: staged.write_text("model"))
    assert (tmp_path / "new" / "g.onnx").read_text() == "model"
    assert sorted(os.listdir(tmp_path / "new")) == ["g.onnx"]


# --- export and web ----------------------------------------------------------


@needs_export
@pytest.mark.parametrize("name", ["g.onnx", "g.tflite"])
def test_export_refuses_a_folder_of_the_users_where_its_file_goes(name, tmp_path, capsys):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "my_notes.txt").write_text("mine")
    assert cli.main(["export", "--out", str(folder)]) == 1
    one_line_error(capsys, f"{folder} is a folder")
    assert (folder / "my_notes.txt").read_text() == "mine" and os.listdir(tmp_path) == [name]


@needs_export
def test_savedmodel_export_refuses_a_folder_with_other_files(tmp_path, capsys):
    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(b"looks like one")  # by name only: no manifest vouches for it
    (sm / "thesis.tex").write_text("years of work")
    before = digest(tmp_path)
    assert cli.main(["export", "--format", "tf_saved_model", "--out", str(sm)]) == 1
    one_line_error(capsys, f"{sm}/saved_model.pb and 1 more", "not a SavedModel")
    assert digest(tmp_path) == before


@needs_export
def test_web_refuses_another_web_models_folder(tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "model.json").write_text('{"format": "layers-model"}')
    (other / "group1-shard1of1.bin").write_bytes(b"weights")
    (other / "notes.txt").write_text("mine")
    before = digest(tmp_path)
    assert cli.main(["web", "--out", str(other)]) == 1
    one_line_error(capsys, "holds other files", f"{other}/group1-shard1of1.bin", "and 2 more")
    assert digest(tmp_path) == before


@needs_export
def test_web_into_the_working_directory_and_over_its_own_site(tmp_path, monkeypatch, capsys):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli.main(["web", "--out", "."]) == 0, capsys.readouterr().err
    capsys.readouterr()
    site = set(outputs.entries("."))
    assert {"index.html", "model.json", "generator.onnx", "vendor/ort.wasm.min.js", outputs.MANIFEST} <= site
    assert cli.main(["web", "--out", "."]) == 0  # a rerun over our own site
    assert set(outputs.entries(".")) == site and os.listdir(tmp_path) == ["here"]
    (here / "CNAME").write_text("digits.example.org")
    before = digest(here)
    assert cli.main(["web", "--out", "."]) == 1
    one_line_error(capsys, "./CNAME", "nothing was deleted")
    assert digest(here) == before


# --- train's run folder follows the same rule ---------------------------------


def test_restart_refuses_a_run_folder_whose_samples_hold_a_users_file(tmp_path):
    from keras_mnist_gan.rundir import MARK, TrainingError, prepare

    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(MARK))
    (out / "samples" / "step_0000040.png").write_bytes(b"ours by name")
    (out / "samples" / "favourite.png").write_bytes(b"mine")
    with pytest.raises(TrainingError, match=r"samples/favourite.png is not a file of the run.*nothing was deleted"):
        prepare(str(out), {}, resume=False)
    assert (out / "samples" / "favourite.png").exists() and (out / "config.json").exists()
    (out / "samples" / "favourite.png").unlink()
    assert prepare(str(out), {}, resume=False) is False
    assert os.listdir(out) == []


def test_a_resume_removes_our_stale_temporaries_only(tmp_path):
    from keras_mnist_gan.rundir import forget_after

    (tmp_path / "history.csv").write_text("step,g_loss,wall_s\n10,1.0,5.0\n20,1.0,9.0\n")
    stale = tmp_path / ".gan.tmp-999999999.keras"  # no such process: a killed save's
    stale.write_bytes(b"half a model")
    (tmp_path / "notes.tmp-1").write_text("mine")
    assert forget_after(str(tmp_path), 10) == 5.0
    assert sorted(os.listdir(tmp_path)) == ["history.csv", "notes.tmp-1"]


# --- tune's project folder ------------------------------------------------------


@pytest.mark.parametrize("name", ["../victim", "a/b", "..", ".", "", "/tmp/elsewhere"])
def test_tune_project_name_is_a_plain_folder_name(name, tmp_path, tiny_npz, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    os.remove(tiny_npz)  # refused before the data is read
    assert (
        cli.main(
            [
                "tune",
                "--data",
                str(tiny_npz),
                "--directory",
                str(tmp_path / "out"),
                "--project-name",
                name,
                "--overwrite",
                "--max-trials",
                "1",
                "--steps-per-trial",
                "4",
                "--warmup-steps",
                "2",
            ]
        )
        == 1
    )
    one_line_error(capsys, "give a plain folder name")
    assert sorted(os.listdir(tmp_path)) == ["victim"] and (victim / "keep.txt").read_text() == "mine"


def test_tune_overwrite_discards_only_a_search(tmp_path, tiny_npz, capsys):
    project = tmp_path / "out" / "mine"
    project.mkdir(parents=True)
    (project / "keep.txt").write_text("mine")
    argv = [
        "tune",
        "--data",
        str(tiny_npz),
        "--directory",
        str(tmp_path / "out"),
        "--project-name",
        "mine",
        "--overwrite",
        "--max-trials",
        "1",
        "--steps-per-trial",
        "4",
        "--warmup-steps",
        "2",
    ]
    assert cli.main(argv) == 1
    one_line_error(capsys, "not a keras-mnist-gan search", "--overwrite discards only a search")
    assert os.listdir(project) == ["keep.txt"]


# --- stopped writes leave nothing behind -----------------------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_rerun_removes_our_stale_temporaries_and_nothing_else(tmp_path):
    dead = _dead_pid()
    stale_site = tmp_path / f".site.tmp-{dead}-k3j2"
    (stale_site / "new").mkdir(parents=True)
    (stale_site / "new" / "generator.onnx").write_bytes(b"14 MB, once")
    stale_onnx = tmp_path / f".g.onnx.tmp-{dead}-x1"
    stale_onnx.mkdir()
    live = tmp_path / f".site.tmp-{os.getpid()}-busy"  # a writer still running (here: this process)
    live.mkdir()
    users = [tmp_path / ".site.tmp-notes", tmp_path / f".other.tmp-{dead}"]
    for path in users:
        path.write_text("mine")
    outputs.write_folder(tmp_path / "site", build({"index.html": "page"}))
    outputs.install_file(tmp_path / "g.onnx", lambda staged: staged.write_bytes(b"model"))
    assert not stale_site.exists() and not stale_onnx.exists()
    assert live.exists() and all(p.read_text() == "mine" for p in users)


@needs_export
@pytest.mark.parametrize(
    "argv, temporary", [(["web", "--out", "site"], ".site.tmp-*"), (["export", "--out", "g.onnx"], ".g.onnx.tmp-*")]
)
def test_sigterm_stops_web_and_export_cleanly(argv, temporary, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_mnist_gan", *argv],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    end = time.time() + 240
    while not list(tmp_path.glob(temporary)):
        assert proc.poll() is None and time.time() < end, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.05)  # inside the conversion, which takes seconds (on a busy machine, less of them)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [f"keras-mnist-gan {argv[0]}: interrupted"], err
    assert os.listdir(tmp_path) == [], "a stopped write leaves no temporary and no half-written output"


# --- messages about the user's paths, not temporaries ------------------------------


def test_sample_out_that_is_a_folder_is_refused_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "pics.png").mkdir()
    assert cli.main(["sample", "--out", str(tmp_path / "pics.png"), "--model", str(tmp_path / "none.keras")]) == 1
    one_line_error(capsys, "pics.png is a folder; give a file name")
    assert os.listdir(tmp_path) == ["pics.png"]


def test_train_out_empty(capsys):
    assert cli.main(["train", "--out", "", "--steps", "8"]) == 1
    one_line_error(capsys, "--out is empty")


@pytest.mark.parametrize(
    "flag, command",
    [
        ("--data", ["train", "--out", "{tmp}/r"]),
        ("--model", ["sample"]),
        ("--model", ["evaluate"]),
        ("--data", ["evaluate", "--model", "{loop}"]),
    ],
)
def test_a_symbolic_link_loop_is_called_one(flag, command, tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    argv = [a.format(tmp=tmp_path, loop=loop) for a in command] + [flag, str(loop)]
    assert cli.main(argv) == 1
    one_line_error(capsys, f"{flag} {loop}: is a symbolic-link loop")


def test_write_errors_name_the_users_file(tmp_path):
    import errno

    from keras_mnist_gan.images import write_atomic

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"^\S+/d.npy: no space left on the device while writing it") as e:
        write_atomic(tmp_path / "d.npy", full)
    assert e.value.errno == errno.ENOSPC and "tmp" not in str(e.value).replace(str(tmp_path), "")
    with pytest.raises(ValueError, match="its folder .*/nowhere does not exist"):
        write_atomic(tmp_path / "nowhere" / "d.npy", lambda f: f.write(b"x"))
    assert os.listdir(tmp_path) == []


def test_a_full_disk_during_training_says_the_checkpoint_is_intact(tmp_path, tiny_npz, monkeypatch, capsys):
    import errno

    import keras_mnist_gan.training as training

    def full_disk(out_dir, *args, **kwargs):
        os.makedirs(out_dir)
        (Path(out_dir) / "gan.keras").write_bytes(b"the last checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / "history.csv"))

    monkeypatch.setattr(training, "train", full_disk)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(tiny_npz), "--out", str(out)]) == 1
    one_line_error(
        capsys,
        f"{out}/history.csv: no space left on the device while writing it",
        f"the last checkpoint, {out}/gan.keras, is intact",
        "run the same command to resume",
    )


# --- a run folder with junk in it -------------------------------------------------


def test_a_config_whose_preset_is_not_a_mapping_is_one_line(tmp_path, tiny_npz, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"preset": 3, "seed": 0}')
    (out / "gan.keras").write_bytes(b"a checkpoint")
    assert cli.main(["train", "--data", str(tiny_npz), "--out", str(out), "--steps", "8"]) == 1
    one_line_error(capsys, f"{out}/config.json and 1 more: config.json is not a run's settings", "nothing was deleted")


@pytest.mark.parametrize("restart", [False, True])
def test_a_folder_holding_no_run_is_never_touched(tmp_path, tiny_npz, capsys, restart):
    """The user's own config.json and history.csv share a run's file names:
    without the mark train writes into config.json they are not a run's, and
    neither a run nor --restart overwrites or deletes anything there."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"my": "settings"}')
    (out / "history.csv").write_text("step,loss\n1,0.5\n")
    (out / "thesis.tex").write_text("years of work")
    before = digest(tmp_path)
    argv = ["train", "--data", str(tiny_npz), "--out", str(out), "--steps", "8"] + ["--restart"] * restart
    assert cli.main(argv) == 1
    err = one_line_error(capsys, f"{out} holds files keras-mnist-gan did not write ({out}/config.json and 1 more")
    assert "different run" not in err
    assert digest(tmp_path) == before


def _same_run(out: Path) -> dict:
    from dataclasses import asdict

    from keras_mnist_gan.presets import Preset

    from keras_mnist_gan.rundir import MARK

    identity = {"preset": asdict(Preset()), "seed": 0, "data": "tiny", "train_images": 200}
    out.mkdir()
    (out / "config.json").write_text(json.dumps({**MARK, **identity}))
    (out / "gan.keras").write_bytes(b"a checkpoint")
    return identity


def test_a_corrupt_history_is_refused_before_training(tmp_path):
    from keras_mnist_gan.rundir import TrainingError, prepare

    out = tmp_path / "run"
    identity = _same_run(out)
    (out / "history.csv").write_text("step,g_loss,wall_s\n10,1.0,5.0\n20,garbage,9.0\n")
    with pytest.raises(TrainingError, match=r"run/history.csv: line 3 is not a history row \('20,garbage"):
        prepare(str(out), identity, None)
    (out / "history.csv").write_text("step,g_loss,wall_s\n10,1.0,5.0\n20,nan,9.0\n")
    assert prepare(str(out), identity, None) is True


def test_frames_that_are_not_the_runs_are_skipped(tmp_path):
    from keras_mnist_gan.rundir import forget_after
    from keras_mnist_gan.rundir import run_frames

    samples = tmp_path / "samples"
    samples.mkdir()
    for step in (20, 100):
        (samples / f"step_{step:07d}.png").write_bytes(b"a grid")
    (tmp_path / "notes.txt").write_text("not an image")
    (samples / "step_0000040.png").symlink_to(tmp_path / "notes.txt")
    (samples / "step_best.png").write_bytes(b"my favourite")
    assert [Path(p).name for p in run_frames(str(samples))] == ["step_0000020.png", "step_0000100.png"]
    forget_after(str(tmp_path), 60)  # a resume from step 60 drops the run's later grids only
    assert sorted(os.listdir(samples)) == ["step_0000020.png", "step_0000040.png", "step_best.png"]


# --- train > log.txt ----------------------------------------------------------------


class _Steps:
    """Stands in for the GAN: StepProgress reads only its step counter."""

    def __init__(self):
        self.value = 0
        self.step = self

    def numpy(self):
        return self.value


def _two_epochs(progress, model):
    progress.set_model(model)
    for epoch in range(2):
        progress.on_epoch_begin(epoch)
        for _ in range(5):
            model.value += 1
            progress.on_train_batch_end(0, {"d_loss_real": 0.5, "g_loss": 1.25})
        progress.on_epoch_end(epoch, {"d_loss_real": 0.5, "g_loss": 1.25, **({"val_fid": 12.5} if epoch else {})})


def test_progress_off_a_terminal_is_one_plain_line_per_epoch(capsys):
    from keras_mnist_gan.callbacks import StepProgress

    _two_epochs(StepProgress(10, 5), _Steps())  # pytest's captured stdout is not a terminal
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    assert out.splitlines()[0::2] == ["Epoch 1/2: steps 1-5 of 10", "Epoch 2/2: steps 6-10 of 10"]
    ends = out.splitlines()[1::2]  # one plain line where the bar was
    assert len(ends) == 2 and ends[0].startswith("  step 5: d_loss_real 0.5, g_loss 1.25, ")
    assert ends[1].startswith("  step 10: d_loss_real 0.5, g_loss 1.25, val_fid 12.5, ") and ends[1].endswith(" s")


def test_progress_on_a_terminal_keeps_the_live_bar(capsys):
    from keras_mnist_gan.callbacks import StepProgress

    _two_epochs(StepProgress(10, 5, live=True), _Steps())
    out = capsys.readouterr().out
    assert "Epoch 2/2: steps 6-10 of 10" in out and "5/5" in out and "val_fid 12.5" in out


def test_a_stop_swallowed_inside_a_build_still_leaves_nothing(tmp_path):
    """A SIGTERM whose KeyboardInterrupt is caught inside library code (as
    TensorFlow's C++ does when it lands in a callback) still stops the write
    before the output is put in place."""
    import signal

    from keras_mnist_gan.interrupts import _interrupt_on_signals

    def build(staged):
        staged.write_bytes(b"half")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt:
            pass  # swallowed, as a C++ callback would

    stop = _interrupt_on_signals()
    try:
        with pytest.raises(KeyboardInterrupt):
            outputs.install_file(tmp_path / "g.onnx", build)
        with pytest.raises(KeyboardInterrupt):
            outputs.write_folder(tmp_path / "site", lambda staged: (staged.mkdir(), build(staged / "x")))
    finally:
        stop.restore()
    assert os.listdir(tmp_path) == []
    outputs.install_file(tmp_path / "g.onnx", lambda staged: staged.write_bytes(b"ok"))  # no stop pending now
    assert (tmp_path / "g.onnx").read_bytes() == b"ok"

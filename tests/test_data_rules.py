"""--data DIR of images follows one rule for hidden entries, nesting,
symbolic links and unreadable folders (the doc of
`keras_mnist_gan.image_folder`), and `train` refuses, in one line, what
would go wrong later: an --out inside the data folder, one class folder for
a conditional GAN, other digits behind the same path, and a run in epochs
that ends inside the warm-up."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_mnist_gan.cli import main
from keras_mnist_gan.data import DataError, load_path

# A run that trains in a moment: no quality figures, no health monitor.
QUICK = ["--steps", "4", "--batch-size", "8", "--warmup-steps", "2", "--quality-n", "0", "--no-health", "--quiet"]


def digits(folder: Path, n: int, seed: int = 0, name: str = "") -> Path:
    """``n`` 28x28 PNGs of bright bars on a dark ground in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for i in range(n):
        x = (rng.rand(28, 28) * 60).astype(np.uint8)
        x[6:22, 4 + (i % 4) * 5 : 8 + (i % 4) * 5] = 230
        Image.fromarray(x).save(folder / f"{name}{i:03d}.png")
    return folder


def classes(root: Path, per_class: int = 10, names=("one", "zero"), seed: int = 0) -> Path:
    for k, name in enumerate(names):
        digits(root / name, per_class, seed=seed + k)
    return root


def counts(d) -> dict:
    """Images of each class name, training and test images together."""
    labels = np.concatenate([d.y_train, d.y_test])
    return {name: int((labels == i).sum()) for i, name in enumerate(d.class_names)}


def one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "error:" in err, err
    for word in words:
        assert word in err, err
    return err


# --- hidden entries and nesting ----------------------------------------------


def test_hidden_entries_are_skipped_at_every_depth_and_subfolders_count(tmp_path):
    root = classes(tmp_path / "data")
    digits(root / "one" / ".cache", 5)  # hidden folders inside a class folder: not images of it
    digits(root / "one" / ".ipynb_checkpoints", 5)
    digits(root / ".thumbs", 5)  # beside the class folders: no class
    digits(root / "zero", 2, name="._")  # hidden files (macOS's ._x.png): skipped too
    digits(root / "zero" / "more" / "deeper", 3)  # ordinary subfolders: images of the class
    d = load_path(root)
    assert d.class_names == ("one", "zero")
    assert counts(d) == {"one": 10, "zero": 13}
    assert not any("not readable" in n for n in d.notes), d.notes


def test_images_only_in_hidden_folders_leave_an_empty_class(tmp_path):
    root = classes(tmp_path / "data", names=("a", "b"))
    digits(tmp_path / "data" / "c" / ".cache", 4)
    d = load_path(root)
    assert d.class_names == ("a", "b", "c") and counts(d)["c"] == 0
    assert any("class folder(s) c hold no images" in n for n in d.notes), d.notes


# --- symbolic links ------------------------------------------------------------


def test_links_back_into_the_data_folder_are_skipped_with_a_note(tmp_path):
    root = classes(tmp_path / "data")
    (root / "loop").symlink_to(".")  # the data folder itself, beside the classes
    (root / "up").symlink_to("..")  # a folder above it
    (root / "twin").symlink_to("one")  # a class read a second time
    (root / "zero" / "back").symlink_to("..")  # inside a class folder, leading back up
    (root / "zero" / "elsewhere").symlink_to(digits(tmp_path / "outside", 3))
    d = load_path(root)
    assert d.class_names == ("one", "zero")
    assert counts(d) == {"one": 10, "zero": 10}
    notes = "\n".join(d.notes)
    assert f"note: {root}: skipped the symbolic link(s) loop, twin, up: each leads to the data folder" in notes
    assert "did not follow the symbolic link(s) zero/back, zero/elsewhere" in notes


def test_links_to_images_and_class_folders_elsewhere_are_read(tmp_path):
    elsewhere = digits(tmp_path / "elsewhere" / "cats", 6, seed=3)
    root = classes(tmp_path / "data")
    (root / "cats").symlink_to(elsewhere)  # a class folder kept elsewhere: a class
    (root / "one" / "linked.png").symlink_to(elsewhere / "000.png")  # an image file elsewhere: read
    (root / "one" / "dangling.png").symlink_to(tmp_path / "gone.png")  # leads nowhere: skipped, named
    d = load_path(root)
    assert d.class_names == ("cats", "one", "zero")
    assert counts(d) == {"cats": 6, "one": 11, "zero": 10}
    assert any("skipped 1 file(s) that are not readable images: one/dangling.png" in n for n in d.notes)


# --- unreadable folders -----------------------------------------------------------


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads folders whatever their permissions")
def test_an_unreadable_class_folder_is_refused(tmp_path, capsys):
    root = classes(tmp_path / "data", names=("one", "two", "zero"))
    (root / "two").chmod(0o000)
    try:
        with pytest.raises(DataError, match=rf"{root}/two: cannot be listed \(Permission denied\)"):
            load_path(root)
        assert main(["train", "--data", str(root), "--out", str(tmp_path / "run"), *QUICK]) == 1
        one_line_error(capsys, f"{root}/two: cannot be listed (Permission denied)")
    finally:
        (root / "two").chmod(0o755)
    assert not (tmp_path / "run" / "gan.keras").exists()


def test_a_folder_that_cannot_be_listed_is_refused_at_any_depth(tmp_path, monkeypatch):
    # The same refusal as above, where the tests run as root: the listing fails.
    root = classes(tmp_path / "data")
    digits(root / "zero" / "deep", 2)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == root / "zero" / "deep":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DataError, match=rf"{root}/zero/deep: cannot be listed \(Permission denied\)"):
        load_path(root)


# --- what train refuses ----------------------------------------------------------


def test_out_inside_the_data_folder_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classes(tmp_path / "data")
    for out in ("data/run", "data", "data/one/run"):
        assert main(["train", "--out", out, "--data", "data", *QUICK]) == 1
        one_line_error(capsys, f"--out {out} lies inside the data folder data/", "choose an --out outside it")
    # also by another spelling, and where the data comes from the environment variable
    monkeypatch.setenv("KERAS_MNIST_GAN_DATA", str(tmp_path / "data"))
    assert main(["train", "--out", "./data/../data/run", *QUICK]) == 1
    one_line_error(capsys, "lies inside the data folder")
    # and from Python, with the folder already read
    from keras_mnist_gan.training import TrainingError, train

    with pytest.raises(TrainingError, match="lies inside the data folder"):
        train(str(tmp_path / "data" / "run"), load_path(tmp_path / "data"), steps=4)
    assert sorted(os.listdir(tmp_path / "data")) == ["one", "zero"]


def test_one_class_folder_names_it_and_the_way_out(tmp_path, capsys):
    root = tmp_path / "data"
    digits(root / "one", 20)
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "run"), *QUICK]) == 1
    one_line_error(capsys, f"{root} holds one class folder (one)", "--unconditional to learn one alone")
    assert not (tmp_path / "run").exists()
    # tune reads the data the same way, and says the same
    assert main(["tune", "--data", str(root), "--directory", str(tmp_path / "search")]) == 1
    one_line_error(capsys, f"{root} holds one class folder (one)", "--unconditional to learn one alone")
    # --unconditional takes the folder's images without their one label
    from keras_mnist_gan.fitting import conditional_labels
    from keras_mnist_gan.presets import DEFAULT_PRESET, PRESETS

    d = load_path(root)
    preset, labels = conditional_labels(PRESETS[DEFAULT_PRESET], d, len(d.x_train), conditional=False)
    assert not preset.conditional and labels is None and len(d.x_train) + len(d.x_test) == 20


def test_a_run_knows_its_data_by_content_not_by_path(tmp_path, capsys, monkeypatch):
    first, second, run = tmp_path / "first", tmp_path / "second", str(tmp_path / "run")
    classes(first / "digits", per_class=12, seed=0)
    classes(second / "digits", per_class=12, seed=7)  # other images behind the same relative path
    monkeypatch.chdir(first)
    assert main(["train", "--data", "digits", "--out", run, *QUICK]) == 0, capsys.readouterr().err
    capsys.readouterr()
    monkeypatch.chdir(second)
    assert main(["train", "--data", "digits", "--out", run, *QUICK]) == 1
    err = one_line_error(capsys, f"{run} holds a different run (other data (digits with sha256 ", "there,", "now")
    assert "train_images" not in err and "seed" not in err  # only the data differs
    # the same digits by another path, and a copy under another name: the same run
    shutil.copytree(first / "digits", tmp_path / "renamed")
    for data in (str(first / "digits"), "../first/./digits", str(tmp_path / "renamed")):
        assert main(["train", "--data", data, "--out", run, *QUICK]) == 0, capsys.readouterr().err
        assert "already at step 4" in capsys.readouterr().out


def test_epochs_inside_the_warmup_are_counted_in_epochs(tmp_path, capsys, subset):
    npz = tmp_path / "thousand.npz"
    np.savez(
        npz,
        x_train=subset.x_train[:1000, ..., 0],
        y_train=subset.y_train[:1000],
        x_test=subset.x_test[:200, ..., 0],
        y_test=subset.y_test[:200],
    )
    argv = ["train", "--epochs", "1", "--data", str(npz), "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 1
    err = one_line_error(capsys, "1 epoch (a pass over the 1,000 training digits) is 20 steps of 50 digits")
    assert "inside the 300-step warm-up of the discriminator" in err
    assert "give at least 16 epochs (or --steps)" in err
    argv[2] = "3"
    assert main(argv) == 1
    one_line_error(capsys, "3 epochs (passes over the 1,000 training digits) are 60 steps", "at least 16 epochs")
    assert not (tmp_path / "run" / "gan.keras").exists()

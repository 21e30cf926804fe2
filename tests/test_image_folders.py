"""--data DIR of images: one subfolder per class (conditional GAN, class
names kept with the run), or the images directly in DIR (unconditional)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from keras_mnist_gan.cli import main
from keras_mnist_gan.data import DataError, load_path
from keras_mnist_gan.training import conditional_labels
from keras_mnist_gan.presets import DEFAULT_PRESET, PRESETS

CLASSES = ("cat", "dog", "zebra")


def light_on_dark(rng, c: int) -> np.ndarray:
    """A 28x28 picture of class ``c``: a bright bar in a class's place on a dark ground."""
    x = (rng.rand(28, 28) * 60).astype(np.uint8)
    x[6:22, 3 + 8 * (c % 3) : 9 + 8 * (c % 3)] = 230
    return x


def image_folder(root, per_class: int = 24, classes=CLASSES):
    """``root/<class>/*.png``, a few of each class RGB or at other sizes, and
    one file that is not an image at all."""
    rng = np.random.RandomState(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            x = light_on_dark(rng, c)
            if i == 0:  # RGB, 56x56
                Image.fromarray(np.repeat(x, 2, 0).repeat(2, 1)[..., None].repeat(3, -1)).save(root / name / "big.png")
            elif i == 1:  # a JPEG of another shape
                Image.fromarray(x).resize((40, 30)).convert("RGB").save(root / name / "wide.jpg")
            else:
                Image.fromarray(x).save(root / name / f"{i:03d}.png")
    (root / classes[1] / "broken.png").write_bytes(b"this is no PNG")
    (root / classes[1] / "notes.txt").write_text("not an image extension: ignored, as Keras ignores it")
    return root


def test_class_folders_train_a_conditional_gan_sampled_by_name(tmp_path, capsys):
    # 430 images a class: 43 held back of each, the 129 a Fréchet distance needs
    data = image_folder(tmp_path / "animals", per_class=430)
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--steps", "4", "--batch-size", "16"]
    argv += ["--warmup-steps", "2", "--quality-n", "129", "--quiet", "--no-health"]
    assert main(argv) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "skipped 1 file(s) that are not readable images: dog/broken.png (cannot identify image file)" in out
    assert "of its 1290 images, 6 resized to 28x28 and 6 converted to grayscale (from RGB)" in out
    assert "129 of its 1290 images (10% of each class) are held back as the test images" in out
    config = json.loads((run / "config.json").read_text())
    assert config["class_names"] == list(CLASSES) and config["train_images"] == 1290 - 129
    history = (run / "history.csv").read_text().splitlines()
    fid = float(history[-1].split(",")[history[0].split(",").index("val_fid")])
    assert np.isfinite(fid)  # against the held-back images
    assert main(argv) == 0  # the same run: its identity, class names included, matches
    assert "already at step 4" in capsys.readouterr().out

    from keras_mnist_gan.models import num_classes_of
    from keras_mnist_gan.saving import load_generator

    assert num_classes_of(load_generator(run / "generator.keras")) == 3
    model = str(run / "generator.keras")
    for digit, rows in (("zebra", 1), ("cat,Dog", 2), ("2", 1), ("0-2", 3)):
        png, npy = tmp_path / f"{digit}.png", tmp_path / f"{digit}.npy"
        assert (
            main(["sample", "--model", model, "--digit", digit, "--seed", "0", "--out", str(png), "--npy", str(npy)])
            == 0
        )
        assert len(np.load(npy)) == (64 if rows == 1 else 10 * rows)
    zebras = np.load(tmp_path / "zebra.npy")
    np.testing.assert_allclose(np.load(tmp_path / "2.npy"), zebras, atol=1e-6)  # the same class by number
    capsys.readouterr()
    assert main(["sample", "--model", model, "--digit", "lion", "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "'lion' is not a class of" in err and "(cat, dog, zebra; or their numbers 0 to 2)" in err
    assert main(["sample", "--model", model, "--digit", "3", "--out", str(tmp_path / "x.png")]) == 1
    assert "draws classes from 0 to 2; got 3" in capsys.readouterr().err

    import keras

    from keras_mnist_gan.rundir import run_class_names
    from keras_mnist_gan.webpage import site_manifest

    assert run_class_names(run / "gan.keras", 3) == list(CLASSES) and run_class_names(model, 10) is None
    if keras.backend.backend() == "tensorflow" and importlib.util.find_spec("tf2onnx"):
        assert main(["web", "--model", model, "--out", str(tmp_path / "site")]) == 0
        info = json.loads((tmp_path / "site" / "model.json").read_text())
    else:
        info = site_manifest(load_generator(model), "generator.keras", run_class_names(model, 3))
    assert info["num_classes"] == 3 and info["class_names"] == list(CLASSES)


def test_folder_reads_like_image_dataset_from_directory(tmp_path):
    root = tmp_path / "d"
    names = ("b", "B", "10", "9", "a b")  # Python's sort: "10" < "9" < "B" < "a b" < "b"
    image_folder(root, per_class=12, classes=names)
    (root / ".hidden").mkdir()  # hidden folders are no class
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / ".hidden" / "x.png")
    d = load_path(root)
    import keras

    keras_names = keras.utils.image_dataset_from_directory(root, image_size=(28, 28), batch_size=4).class_names
    assert d.class_names == tuple(keras_names) == ("10", "9", "B", "a b", "b")
    assert d.x_train.shape[1:] == (28, 28, 1) and d.x_train.dtype == np.uint8
    # 1 of each class's 12 held back (B's broken file is none of them)
    assert len(d.x_test) == 5 and sorted(d.y_test) == [0, 1, 2, 3, 4]
    assert len(d.x_train) + len(d.x_test) == 5 * 12
    # light on dark as written, label i is the folder class_names[i]
    i = int(np.flatnonzero(d.y_train == d.class_names.index("B"))[0])
    assert d.x_train[i, 10, 3 + 8 * names.index("B") + 2, 0] > 200 and d.x_train[i, 0, 0, 0] < 80


def test_train_and_test_folders_are_the_splits(tmp_path):
    image_folder(tmp_path / "train", per_class=10)
    image_folder(tmp_path / "test", per_class=4, classes=("dog", "zebra"))
    d = load_path(tmp_path)
    assert d.class_names == CLASSES
    assert len(d.x_train) == 30 and len(d.x_test) == 8
    assert set(d.y_test) == {1, 2}
    assert not any("held back" in n for n in d.notes)
    (tmp_path / "test" / "lion").mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "test" / "lion" / "x.png")
    with pytest.raises(DataError, match="'lion' is not among"):
        load_path(tmp_path)


def test_flat_folder_is_unlabelled_and_trains_unconditional(tmp_path):
    rng = np.random.RandomState(1)
    for i in range(20):
        Image.fromarray(255 - light_on_dark(rng, 1)).save(tmp_path / f"{i}.bmp")  # dark on light
    d = load_path(tmp_path)
    assert d.y_train is None and d.class_names is None and len(d.x_train) == 18 and len(d.x_test) == 2
    assert any("look dark on light" in n for n in d.notes)
    notes = []
    preset, labels = conditional_labels(PRESETS[DEFAULT_PRESET], d, len(d.x_train), log=notes.append)
    assert not preset.conditional and labels is None
    assert notes == [
        f"note: {tmp_path} has no labels (no class subfolders), so this trains the unconditional GAN "
        "(a conditional one learns each digit from labelled digits)."
    ]


def test_unreadable_files_in_one_line_and_no_images_refused(tmp_path):
    for i in range(6):
        (tmp_path / f"bad{i}.png").write_bytes(b"\x89PNG but cut short")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "ok.png")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "ok2.gif")
    d = load_path(tmp_path)
    (line,) = [n for n in d.notes if "skipped" in n]
    assert "skipped 6 file(s)" in line and "bad0.png, bad1.png, bad2.png and 3 more (the first:" in line
    empty = tmp_path / "empty"
    (empty / "cat").mkdir(parents=True)
    (empty / "readme.txt").write_text("no images")
    with pytest.raises(DataError, match=r"holds no images \(\.png.*and no IDX files; give a folder of images"):
        load_path(empty)


def test_labels_past_nine_make_more_classes(subset):
    """EMNIST letters' labels go from 1 to 26: a GAN of 27 classes."""
    from keras_mnist_gan.data import MnistData, num_classes_of_data, validate_labels
    from keras_mnist_gan.models import num_classes_of
    from keras_mnist_gan.training import build_gan

    y = np.arange(100) % 26 + 1
    data = MnistData(subset.x_train[:100], y, subset.x_test[:10], y[:10], "letters")
    preset, labels = conditional_labels(PRESETS[DEFAULT_PRESET], data, 100)
    assert preset.conditional and num_classes_of_data(data, labels) == 27
    assert num_classes_of(build_gan(preset, seed=0, num_classes=27).generator) == 27
    assert num_classes_of_data(data._replace(y_train=y % 5), y % 5) == 10  # MNIST's ten at least
    with pytest.raises(DataError, match="from 0 to 2"):
        validate_labels(y, 100, num_classes=3)


def test_digit_names_and_numbers_resolve_against_the_model():
    from keras_mnist_gan.cli.sample import _digit_classes, _resolve_classes

    names = sorted(str(i) for i in range(12))  # folders 0/ to 11/: "0", "1", "10", "11", "2", ...
    assert _resolve_classes(_digit_classes("name:10,name:2"), 12, names, "", "m") == [2, 4]  # the folders' names
    with pytest.raises(ValueError, match="both the class named '10'"):  # and class number 10 ('8')
        _resolve_classes(_digit_classes("10,2"), 12, names, "10,2", "m")
    assert _resolve_classes(_digit_classes("ZEBRA,0-1"), 3, list(CLASSES), "", "m") == [2, 0, 1]
    assert _resolve_classes(_digit_classes("t-shirt"), 2, ["t-shirt", "bag"], "", "m") == [0]
    with pytest.raises(ValueError, match="from 0 to 2; got 5"):
        _resolve_classes(_digit_classes("5"), 3, list(CLASSES), "5", "m")

"""keras-mnist-gan export: each format draws what the Keras generator draws."""

import importlib.util
import os

import keras
import numpy as np
import pytest

from keras_mnist_gan import cli
from keras_mnist_gan.evaluation import shipped_model
from keras_mnist_gan.export import (
    TOLERANCE,
    ExportError,
    check_export,
    export_generator,
    format_for,
    require,
    run_exported,
)
from keras_mnist_gan.noise import draw_noise, noise_stream
from keras_mnist_gan.saving import load_generator

MISSING = [m for m in ("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert") if importlib.util.find_spec(m) is None]
pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export converts with TensorFlow"),
    pytest.mark.skipif(bool(MISSING), reason=f'needs pip install "keras-mnist-gan[export]" (missing {MISSING})'),
]
TARGETS = {"onnx": "g.onnx", "tf_saved_model": "g_savedmodel", "litert": "g.tflite"}


@pytest.fixture(scope="module", params=["generator.keras", "unconditional_generator.keras"])
def generator(request):
    return load_generator(shipped_model(request.param))


@pytest.mark.parametrize("fmt", sorted(TARGETS))
def test_each_format_matches_predict_on_any_batch_size(generator, fmt, tmp_path):
    path = export_generator(generator, tmp_path / TARGETS[fmt], fmt)
    assert check_export(generator, path, fmt, batch_sizes=(1, 3, 50), seed=11) < TOLERANCE
    # The digits asked for reach a conditional export: other labels, other digits.
    if len(generator.inputs) == 2:
        noise = draw_noise(noise_stream(2), 4, 100)
        ones, sevens = (run_exported(path, noise, np.full(4, d), fmt) for d in (1, 7))
        assert np.abs(ones - sevens).mean() > 0.05
    assert sorted(os.listdir(tmp_path)) == [TARGETS[fmt]]  # no temporary files left beside it


def test_cli_export_default_is_the_shipped_generator(tmp_path, capsys):
    out = tmp_path / "g.onnx"
    assert cli.main(["export", "--out", str(out)]) == 0
    assert "within" in capsys.readouterr().out
    noise = np.random.default_rng(123).standard_normal((9, 100)).astype("float32")
    labels = np.arange(9, dtype=np.int32)  # the shipped generator is conditional
    expected = load_generator(shipped_model("generator.keras")).predict([noise, labels], verbose=0)
    got = run_exported(out, noise, labels)
    assert got.shape == (9, 28, 28, 1)
    assert np.abs(got - expected).max() < TOLERANCE
    assert 0.0 <= got.min() and got.max() <= 1.0


def test_format_follows_the_path_unless_given():
    assert format_for("a/g.onnx") == "onnx"
    assert format_for("g.TFLITE") == "litert"
    assert format_for("exported") == "tf_saved_model"
    with pytest.raises(ExportError, match="must end in .onnx"):
        format_for("g.tflite", "onnx")
    with pytest.raises(ExportError, match="is a folder"):
        format_for("g.onnx", "tf_saved_model")
    with pytest.raises(ExportError, match="choose one of onnx, tf_saved_model, litert"):
        format_for("g.onnx", "torchscript")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--out", "g.onnx", "--format", "litert"], "a litert file's name must end in .tflite"),
        (["export", "--out", "g.onnx", "--model", "nothing.keras"], "nothing.keras"),
    ],
)
def test_cli_export_bad_input_is_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert os.listdir(tmp_path) == []


def test_missing_runtime_names_the_extra(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert cli.main(["export", "--out", str(tmp_path / "g.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith('needs onnxruntime: pip install "keras-mnist-gan[export]"') and "\n" not in err
    require("litert")  # other formats are unaffected


def test_other_backends_are_told_to_use_tensorflow(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ExportError, match="KERAS_BACKEND=tensorflow"):
        require("onnx")


def test_savedmodel_export_replaces_its_own_folder_only(generator, tmp_path):
    target = tmp_path / "g_savedmodel"
    export_generator(generator, target)
    export_generator(generator, target)  # again over the first
    assert (target / "saved_model.pb").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a SavedModel"):
        export_generator(generator, other)
    assert (other / "keep.txt").read_text() == "mine"


def test_interrupted_export_leaves_nothing(generator, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generator, "export", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_generator(generator, tmp_path / "g.onnx")
    assert os.listdir(tmp_path) == []

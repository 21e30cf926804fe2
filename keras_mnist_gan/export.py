"""The generator outside Keras: ONNX, TensorFlow SavedModel and LiteRT files.

Each exported file takes a batch of any size of noise (float32, (n,
noise_dim), named "noise") and, for a conditional generator, the digits asked
for (int32, (n,), named "label"), and returns (n, 28, 28, 1) float32 pixels in
[0, 1]. Conversion goes through Keras's own `Model.export` on the TensorFlow
backend; `check_export` runs the written file in its own runtime
(onnxruntime, TensorFlow, the LiteRT interpreter) against `predict`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import keras
import numpy as np

from . import outputs
from .models import noise_dim_of, num_classes_of
from .noise import draw_noise, noise_stream

FORMATS = ("onnx", "tf_saved_model", "litert")
# What a path ending in each suffix is exported as; a SavedModel is a folder.
SUFFIXES = {".onnx": "onnx", ".tflite": "litert"}
# Python modules each format needs beyond TensorFlow, to write and to run it.
NEEDS = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "tf_saved_model": (), "litert": ("ai_edge_litert",)}
# An exported file must give `predict`'s pixels within this.
TOLERANCE = 1e-4
CHECK_BATCH_SIZES = (1, 7, 64)
OUTPUT_NAME = "digits"


class ExportError(ValueError):
    """An export that cannot be made: a missing runtime, a bad path."""


def format_for(path: str | os.PathLike, format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given (it must agree with
    the path's suffix), else the one the suffix names (.onnx, .tflite; any
    other path is a SavedModel folder)."""
    suffix = Path(path).suffix.lower()
    implied = SUFFIXES.get(suffix)
    if format is None:
        return implied or "tf_saved_model"
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    wanted = {v: k for k, v in SUFFIXES.items()}.get(format)
    if wanted and suffix != wanted:
        raise ExportError(f"{path}: a {format} file's name must end in {wanted}.")
    if format == "tf_saved_model" and implied:
        raise ExportError(f"{path}: a SavedModel is a folder; give a path without the {suffix} suffix.")
    return format


def require(format: str) -> None:
    """Raise a one-line ExportError unless ``format`` can be written and run here."""
    if keras.backend.backend() != "tensorflow":
        raise ExportError(
            "export converts the model with TensorFlow: run it with KERAS_BACKEND=tensorflow "
            "(the exported files need neither TensorFlow nor Keras)."
        )
    missing = [m for m in NEEDS[format] if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f'--format {format} needs {", ".join(missing)}: pip install "keras-mnist-gan[export]"')


def input_signature(generator: keras.Model) -> list:
    """TensorSpecs for the generator's inputs, any batch size, with the names
    the exported files use."""
    import tensorflow as tf

    noise = tf.TensorSpec((None, noise_dim_of(generator)), tf.float32, name="noise")
    if num_classes_of(generator) is None:
        return [noise]
    return [[noise, tf.TensorSpec((None,), tf.int32, name="label")]]


def check_target(path: str | os.PathLike, format: str) -> None:
    """Refuse (one line) an ``--out`` that export would have to delete
    something of the user's to write: a folder where a file goes, a folder
    holding files a SavedModel export did not write."""
    try:
        if format == "tf_saved_model":
            outputs.check_folder(path, what="a SavedModel")
        else:
            outputs.check_file_target(path, parent_must_exist=False)
    except outputs.OutputError as e:
        raise ExportError(str(e)) from None


def export_generator(generator: keras.Model, path: str | os.PathLike, format: str | None = None) -> str:
    """Write ``generator`` to ``path`` as ``format`` (see `format_for`); returns
    the path. Written beside ``path`` first and then moved there, so an
    interrupted export leaves no half-written file; only a file or a
    SavedModel this tool wrote is replaced (see `keras_mnist_gan.outputs`)."""
    format = format_for(path, format)
    require(format)
    check_target(path, format)

    def build(staged: Path) -> None:
        generator.export(str(staged), format=format, verbose=False, input_signature=input_signature(generator))
        if format == "onnx":
            _name_onnx_output(staged)

    if format == "tf_saved_model":
        outputs.write_folder(path, build, what="a SavedModel")
    else:
        outputs.install_file(path, build)
    return str(path)


def _name_onnx_output(path: Path) -> None:
    # tf2onnx names the output after a graph node ("Identity:0").
    import onnx

    model = onnx.load(str(path))
    old = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [OUTPUT_NAME if name == old else name for name in node.output]
    model.graph.output[0].name = OUTPUT_NAME
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def run_exported(
    path: str | os.PathLike, noise: np.ndarray, labels: np.ndarray | None = None, format: str | None = None
) -> np.ndarray:
    """Run an exported generator on ``noise`` (and ``labels``) in its own
    runtime; returns (n, 28, 28, 1) float32."""
    format = format_for(path, format)
    require(format)
    noise = np.asarray(noise, np.float32)
    feeds = {"noise": noise} if labels is None else {"noise": noise, "label": np.asarray(labels, np.int32)}
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run([OUTPUT_NAME], feeds)[0]
    if format == "tf_saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        return next(iter(serve(**{k: tf.constant(v) for k, v in feeds.items()}).values())).numpy()
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    return next(iter(runner(**feeds).values()))


def check_export(
    generator: keras.Model,
    path: str | os.PathLike,
    format: str | None = None,
    batch_sizes: tuple[int, ...] = CHECK_BATCH_SIZES,
    seed: int = 0,
) -> float:
    """The largest difference between the exported file's pixels and
    ``generator.predict``'s, over fresh noise in batches of ``batch_sizes``."""
    stream = noise_stream(seed)
    classes = num_classes_of(generator)
    worst = 0.0
    for n in batch_sizes:
        noise = draw_noise(stream, n, noise_dim_of(generator))
        labels = None if classes is None else np.arange(n, dtype=np.int32) % classes
        inputs = noise if labels is None else [noise, labels]
        expected = generator.predict(inputs, batch_size=max(batch_sizes), verbose=0)
        got = run_exported(path, noise, labels, format)
        if got.shape != expected.shape:
            raise ExportError(f"{path}: gave shape {got.shape} for {n} digits; Keras gives {expected.shape}.")
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst

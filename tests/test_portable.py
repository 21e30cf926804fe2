"""Generator files for sampling need only Keras: they load with
`keras.saving.load_model` in a Python that cannot import this package, on
every backend, and draw the digits the package draws."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from keras_mnist_gan import build_generator, portable_generator, read_metadata
from keras_mnist_gan.cli import main
from keras_mnist_gan.evaluation import shipped_model
from keras_mnist_gan.saving import METADATA_KEY, load_generator

pytestmark = pytest.mark.core  # runs on every backend in CI

# Run with ``python -I`` (no PYTHONPATH, no script folder on the path) in an
# empty folder: and since the package may be installed (editable or not),
# a finder placed first on sys.meta_path refuses it outright.
PLAIN_KERAS = """
import json, sys, zipfile


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_mnist_gan":
            raise ImportError("keras_mnist_gan is hidden from this process")


sys.meta_path.insert(0, Refuse())
try:
    import keras_mnist_gan  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("keras_mnist_gan could be imported")
import keras
import numpy as np

for model_file, inputs, out in json.loads(sys.argv[1]):
    model = keras.saving.load_model(model_file)
    arrays = [np.load(f) for f in inputs]
    np.save(out, model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0))
    with zipfile.ZipFile(model_file) as z:
        print(model_file, type(model).__name__, sorted(json.loads(z.read("metadata.json"))))
assert not [m for m in sys.modules if m.split(".")[0] == "keras_mnist_gan"]
print("backend", keras.backend.backend())
"""


def _digits_without_package(tmp_path, models: dict) -> dict:
    """``{name: path}`` -> ``{name: (plain Keras digits, package digits)}``
    from the same fixed noise (and labels 0-9 in turn, when conditional)."""
    jobs, expected = [], {}
    rng = np.random.default_rng(7)
    for name, path in models.items():
        generator = load_generator(path)
        noise = rng.standard_normal((40, int(generator.inputs[0].shape[-1]))).astype("float32")
        arrays = [noise] if len(generator.inputs) == 1 else [noise, (np.arange(40) % 10).astype("int32")]
        files = []
        for i, a in enumerate(arrays):
            files.append(str(tmp_path / f"{name}_in{i}.npy"))
            np.save(files[-1], a)
        jobs.append((str(path), files, str(tmp_path / f"{name}_out.npy")))
        expected[name] = generator.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run(
        [sys.executable, "-I", "-c", PLAIN_KERAS, json.dumps(jobs)],
        capture_output=True,
        text=True,
        env=env,
        cwd=empty,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-1000:] + out.stderr[-3000:]
    assert f"backend {keras.backend.backend()}" in out.stdout
    assert out.stdout.count("'keras_mnist_gan'") == len(models), out.stdout  # its metadata record came along
    return {name: (np.load(job[2]), expected[name]) for name, job in zip(models, jobs)}


def test_shipped_generators_load_and_draw_the_same_without_the_package(tmp_path):
    names = ("generator.keras", "unconditional_generator.keras")
    for name, (plain, ours) in _digits_without_package(tmp_path, {n: shipped_model(n) for n in names}).items():
        assert plain.shape == (40, 28, 28, 1)
        np.testing.assert_allclose(plain, ours, atol=1e-4, err_msg=name)


def test_a_trained_runs_generator_loads_without_the_package(tmp_path, tiny_npz):
    args = ["--steps", "4", "--batch-size", "20", "--warmup-steps", "2", "--quality-n", "0", "--seed", "5"]
    assert main(["train", "--data", str(tiny_npz), "--out", str(tmp_path / "run"), *args, "--quiet"]) == 0
    path = tmp_path / "run" / "generator.keras"
    record = read_metadata(path)[METADATA_KEY]
    assert record["preset"] == "quality" and record["preset_changes"] == {"batch_size": 20, "warmup_steps": 2}
    assert record["steps"] == 4 and record["seed"] == 5 and record["num_classes"] == 10
    assert record["preset_settings"]["lr_g"] == 2e-3 and record["data"]["train_images"] == 200
    assert record["command"].startswith("keras-mnist-gan train --data ") and record["command"].endswith("--quiet")
    plain, ours = _digits_without_package(tmp_path, {"run": path})["run"]
    np.testing.assert_allclose(plain, ours, atol=1e-4)
    # The checkpoint keeps the training graph's fast layers.
    with zipfile.ZipFile(tmp_path / "run" / "gan.keras") as z:
        assert "BicubicResize" in z.read("config.json").decode()


@pytest.mark.parametrize("classes", [None, 10])
def test_portable_generator_is_the_same_model_in_builtin_layers(classes):
    g = build_generator(noise_dim=16, seed=3, num_classes=classes)
    rng = np.random.default_rng(0)
    for layer in g.layers[-1].layers if classes else g.layers:  # BatchNorm statistics must come along
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=layer.moving_variance.shape).astype("float32"))
    p = portable_generator(g)
    config = json.dumps(keras.saving.serialize_keras_object(p))
    assert "keras_mnist_gan" not in config and "Resize" not in config
    assert p.input_shape == g.input_shape and p.output_shape == g.output_shape
    if classes:
        assert [t.name for t in p.inputs] == [t.name for t in g.inputs] == ["noise", "label"]
    noise = rng.standard_normal((6, 16)).astype("float32")
    inputs = noise if classes is None else [noise, np.arange(6, dtype="int32")]
    np.testing.assert_allclose(p.predict(inputs, verbose=0), g.predict(inputs, verbose=0), atol=1e-5)
    assert len(p.trainable_weights) == len(g.trainable_weights)  # the resize matrices are fixed


def test_info_prints_the_training_settings_and_figures(capsys):
    """The shipped file's card: its settings, the command that trained it
    (file names only) and the figures of the evaluation its record points
    to, as that results file holds them."""
    import json
    from pathlib import Path

    assert main(["info", str(shipped_model("generator.keras"))]) == 0
    out = capsys.readouterr().out
    figures = json.loads((Path(__file__).parents[1] / "benchmarks/results/eval_generator.json").read_text())
    g, floor = figures["generator"], figures["real_floor"]
    for words in (
        "class-conditional generator (10 classes)",
        "layers: Keras's own only",
        "preset: quality",
        "lr_d 0.001, lr_g 0.002",
        "seed: 0",
        "data: mnist.npz (60,000 training digits, with labels",
        "command: keras-mnist-gan train --mode-seeking 0 --data mnist.npz --out shipped",
        "command: keras-mnist-gan evaluate --model generator.keras -n 10000",
        f"FID (lower is better): {g['fid']:.3f} (real-data floor {floor['fid']:.3f})",
        "recognised, per digit: " + " ".join(f"{c}:{a:.3f}" for c, a in enumerate(g["accuracy_per_class"])),
    ):
        assert words in out, (words, out)
    assert "/" not in out.split("command:")[1].split("\n")[0]  # no folder of the machine it was made on


def test_old_files_with_the_packages_layers_still_load_through_it(tmp_path):
    from keras_mnist_gan.layers import BicubicResize, StridedPointwiseConv2D

    g = build_generator(noise_dim=16, seed=1)
    g.save(tmp_path / "old.keras")  # as generator.keras files were written before
    back = load_generator(tmp_path / "old.keras")
    assert isinstance(back.get_layer("g_resize1"), BicubicResize)
    assert isinstance(back.get_layer("g_pixels"), StridedPointwiseConv2D)
    noise = np.random.default_rng(2).standard_normal((4, 16)).astype("float32")
    np.testing.assert_allclose(
        portable_generator(back).predict(noise, verbose=0), g.predict(noise, verbose=0), atol=1e-5
    )

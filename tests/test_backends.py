"""One GAN on TensorFlow, JAX and PyTorch.

Each backend runs in its own process (Keras picks its backend once, at
import). From identical weights, digits and noise, one `fit` step must give
the same new weights on every backend, in each preset's mode: the seed
recipe's two D optimizers, one optimizer with label smoothing, and R1 with
the weight average. A `gan.keras` saved under any backend must load, draw the
same digits and resume training under every other.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_mnist_gan.data import load_subset
from keras_mnist_gan.presets import PRESETS as RECIPES

BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b) is not None]
PRESETS = ("seed", "stable", "quality")
NOISE_DIM = 16

STEP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from keras_mnist_gan import GAN, build_discriminator, build_generator
    from keras_mnist_gan.presets import PRESETS
    from keras_mnist_gan.saving import load_gan, save_model_atomic

    data = dict(np.load(sys.argv[1]))
    out_dir, backend = sys.argv[2], keras.backend.backend()
    x = data["x"]

    def fixed_noise(gan):
        # The D step draws first, then the G step: the same two draws on
        # every backend (however often the step is traced).
        calls = [0]
        def sample_noise(n):
            z = data["z_d"] if calls[0] % 2 == 0 else data["z_g"]
            calls[0] += 1
            return keras.ops.convert_to_tensor(z)
        gan.sample_noise = sample_noise

    if sys.argv[3] == "step":
        result = {}
        for name in sys.argv[4].split(","):
            preset = PRESETS[name]
            D, G = build_discriminator(seed=0), build_generator(noise_dim=NOISE_DIM_VALUE, seed=1)
            D.set_weights([data[f"d{i}"] for i in range(len(D.weights))])
            G.set_weights([data[f"g{i}"] for i in range(len(G.weights))])
            gan = GAN(D, G, seed=0, ema_decay=preset.ema_decay)
            gan.compile(**preset.optimizers())
            fixed_noise(gan)
            h = gan.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
            weights = D.get_weights() + G.get_weights()
            if gan.ema_generator is not None:
                weights += gan.ema_generator.get_weights()
            np.savez(f"{out_dir}/step_{name}_{backend}.npz", *weights)
            result[name] = {k: float(v[-1]) for k, v in h.history.items()}
            if name == "quality":
                gan.calibrate_batchnorm(n=64)
                save_model_atomic(gan, f"{out_dir}/gan_{backend}.keras")
                np.save(f"{out_dir}/digits_{backend}.npy", gan.generate(8, seed=4))
        print("RESULT " + json.dumps(result))
    else:  # load every other backend's gan.keras: sample, then train on
        result = {}
        for other in sys.argv[4].split(","):
            gan = load_gan(f"{out_dir}/gan_{other}.keras")
            digits = gan.generate(8, seed=4)
            before = int(gan.step.numpy())
            gan.fit(x, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
            result[other] = {
                "sample_diff": float(np.abs(digits - np.load(f"{out_dir}/digits_{other}.npy")).max()),
                "steps": [before, int(gan.step.numpy())],
                "finite": bool(all(np.isfinite(w).all() for w in gan.get_weights())),
            }
        print("RESULT " + json.dumps(result))
    """
).replace("NOISE_DIM_VALUE", str(NOISE_DIM))


# Biases that feed a BatchNormalization (the generator's dense layer and
# first two convolutions): BN subtracts their effect, so their gradient is
# zero in exact arithmetic. Adam moves every weight by about its learning
# rate whatever the size of its gradient, so each backend's rounding of
# that zero becomes a step of +-lr either way. The mode-seeking term, steep
# at a fresh generator whose digits hardly follow its noise, makes that
# rounding large enough to show.
CANCELLED_BY_BATCHNORM = ("g_dense/bias", "g_conv1/bias", "g_conv2/bias")
# Weights whose gradient is within rounding of Adam's epsilon take a first
# step that depends on that rounding: at most this share of the others may
# differ, by less than a quarter of the learning rate.
NEAR_EPSILON_SHARE = 1e-4


def compared_weights(paths: list[str]) -> list[bool]:
    """Which weights (by path, in order) a comparison across backends or
    devices holds to rounding: all but those BatchNorm cancels."""
    return [not p.endswith(CANCELLED_BY_BATCHNORM) for p in paths]


def assert_same_step(weights: list, reference: list, paths: list[str], lr: float, tolerance: float, what: str) -> None:
    """One training step (largest learning rate ``lr``) gave the same
    weights, to rounding."""
    assert len(weights) == len(reference) == len(paths), what
    compared = [(a, b) for a, b, keep in zip(weights, reference, compared_weights(paths)) if keep]
    diffs = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in compared])
    far = float(np.mean(diffs >= tolerance))
    assert far <= NEAR_EPSILON_SHARE, f"{what}: {far:.1e} of the weights differ by {tolerance:.0e} or more"
    assert diffs.max() < 0.25 * lr, f"{what}: differs by {diffs.max():.2e}"


def run_on(backend: str, *args: str, env: dict | None = None) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    r = subprocess.run([sys.executable, "-c", STEP_SCRIPT, *args], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    assert r.returncode == 0 and lines, f"{backend}: {r.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def backend_runs(tmp_path_factory):
    """One step per preset on each backend from the same start, and each
    backend's checkpoint loaded by the others."""
    if len(BACKENDS) < 2:
        pytest.skip(f"only {BACKENDS} installed: pip install 'keras-mnist-gan[jax,torch]'")
    import keras

    from keras_mnist_gan import build_discriminator, build_generator

    out = tmp_path_factory.mktemp("backends")
    rng = np.random.default_rng(0)
    D, G = build_discriminator(seed=0), build_generator(noise_dim=NOISE_DIM, seed=1)
    data = {
        "x": load_subset().x_train[:8].astype("float32") / 255.0,
        "z_d": rng.standard_normal((8, NOISE_DIM)).astype("float32"),
        "z_g": rng.standard_normal((8, NOISE_DIM)).astype("float32"),
    }
    data.update({f"d{i}": w for i, w in enumerate(D.get_weights())})
    data.update({f"g{i}": w for i, w in enumerate(G.get_weights())})
    del keras
    np.savez(out / "start.npz", **data)
    # The saved weights' paths, in the order the step script saves them
    # (D, G, then the weight average: a copy of G).
    g_paths = [w.path for w in G.weights]
    (out / "paths.json").write_text(json.dumps([w.path for w in D.weights] + g_paths + g_paths))
    logs = {b: run_on(b, str(out / "start.npz"), str(out), "step", ",".join(PRESETS)) for b in BACKENDS}
    loads = {
        b: run_on(b, str(out / "start.npz"), str(out), "load", ",".join(o for o in BACKENDS if o != b))
        for b in BACKENDS
    }
    return out, logs, loads


@pytest.mark.parametrize("preset", PRESETS)
def test_one_step_gives_the_same_weights_on_every_backend(backend_runs, preset):
    out, logs, _ = backend_runs
    from keras_mnist_gan.presets import PRESETS as SETTINGS

    reference = np.load(out / f"step_{preset}_{BACKENDS[0]}.npz")
    start = np.load(out / "start.npz")
    lr = min(SETTINGS[preset].lr_d, SETTINGS[preset].lr_g)
    # Adam's first step moves a weight by up to its learning rate: the
    # weights must agree far more closely than that, not merely within 1e-4.
    assert np.abs(reference["arr_0"] - start["d0"]).max() > 0.5 * SETTINGS[preset].lr_d
    tolerance = min(1e-4, 0.01 * lr)
    paths = json.loads((out / "paths.json").read_text())
    for other in BACKENDS[1:]:
        weights = np.load(out / f"step_{preset}_{other}.npz")
        assert len(weights.files) == len(reference.files)
        in_order = [f"arr_{i}" for i in range(len(reference.files))]
        assert_same_step(
            [weights[k] for k in in_order],
            [reference[k] for k in in_order],
            paths[: len(in_order)],
            max(SETTINGS[preset].lr_d, SETTINGS[preset].lr_g),
            tolerance,
            f"{preset}: {other} against {BACKENDS[0]}",
        )
        for name, value in logs[BACKENDS[0]][preset].items():
            assert logs[other][preset][name] == pytest.approx(value, abs=1e-4), (preset, other, name)
    if preset == "quality":
        assert "d_r1" in logs[BACKENDS[0]][preset]


def test_checkpoints_load_sample_and_resume_on_every_other_backend(backend_runs):
    _, _, loads = backend_runs
    for backend, results in loads.items():
        assert set(results) == set(BACKENDS) - {backend}
        for saved_by, r in results.items():
            assert r["sample_diff"] < 1e-4, (saved_by, backend, r)
            assert r["steps"] == [1, 3] and r["finite"], (saved_by, backend, r)


DATA_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax, keras
    from keras_mnist_gan import GAN, build_discriminator, build_generator
    from keras_mnist_gan.data import load_subset
    from keras_mnist_gan.presets import PRESETS

    x = load_subset().x_train[:64].astype("float32") / 255.0

    def run(distribution):
        keras.distribution.set_distribution(distribution)
        preset = PRESETS["quality"].with_(noise_dim=16)
        gan = GAN(build_discriminator(seed=0), build_generator(noise_dim=16, seed=1), seed=0, ema_decay=0.99)
        gan.compile(**preset.optimizers())
        h = gan.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0)
        logs = {k: float(v[-1]) for k, v in h.history.items()}
        return gan.get_weights(), [w.path for w in gan.weights], logs

    devices = keras.distribution.list_devices("cpu")
    parallel, paths, logs = run(keras.distribution.DataParallel(devices=devices))
    single, _, single_logs = run(None)
    np.savez(sys.argv[1], *parallel, *single)
    print("RESULT " + json.dumps({"devices": len(devices), "logs": logs, "single_logs": single_logs, "paths": paths}))
    """
)


@pytest.mark.slow  # two JAX host devices in a subprocess; CI runs -m slow
@pytest.mark.skipif("jax" not in BACKENDS, reason="JAX is not installed: pip install 'keras-mnist-gan[jax]'")
def test_jax_data_parallel_on_two_host_devices_matches_one_device(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    saved = tmp_path / "weights.npz"
    r = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL_SCRIPT, str(saved)], capture_output=True, text=True, env=env, timeout=600
    )
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["devices"] == 2
    # The batch is split over the devices; the step is the same computation.
    saved_weights = np.load(saved)
    weights = [saved_weights[f"arr_{i}"] for i in range(len(saved_weights.files))]
    parallel, single = weights[: len(weights) // 2], weights[len(weights) // 2 :]
    lr = max(RECIPES["quality"].lr_d, RECIPES["quality"].lr_g)
    assert_same_step(parallel, single, out["paths"], lr, 1e-4, "two devices")
    for name, value in out["single_logs"].items():
        assert out["logs"][name] == pytest.approx(value, abs=1e-4), name

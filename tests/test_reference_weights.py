"""A refactor changes no numbers: a short run's final weights, per backend.

`train` runs a few steps of the default (conditional, lazy R1, weight
average) and the seed recipe (two D optimizers, unconditional) on tiny
data, through every phase of the game: D alone, D with R1, D and G, the
average. Each variable's sum and sum of squares must match the reference
recorded on this backend before the code was reorganised
(``tests/reference/weights_<backend>.json``). Rerecord only for a change
that is meant to change the numbers:

    KERAS_BACKEND=jax python tests/test_reference_weights.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_mnist_gan.data import MnistData, load_subset
from keras_mnist_gan.training import train

REFERENCE = Path(__file__).parent / "reference" / f"weights_{keras.backend.backend()}.json"
RUNS = {
    # Without the mode-seeking term, which joined the preset after the
    # references were recorded (its own tests are in test_gan.py).
    "quality": dict(noise_dim=16, warmup_steps=4, r1_interval=4, batch_size=20, mode_seeking=0.0),
    "seed": dict(noise_dim=16, warmup_steps=4, batch_size=20),
}
STEPS = 12


def _tiny() -> MnistData:
    s = load_subset()
    return s._replace(x_train=s.x_train[:200], y_train=s.y_train[:200], source="tiny reference data")


def fingerprints(tmp: Path) -> dict:
    from keras_mnist_gan.presets import PRESETS

    out = {}
    for name, changes in RUNS.items():
        result = train(
            str(tmp / name),
            data=_tiny(),
            preset=PRESETS[name].with_(**changes),
            steps=STEPS,
            steps_per_epoch=6,
            quality_n=0,
            health=False,
            verbose=0,
            log=lambda *_: None,
        )
        gan = result.gan
        parts = {"discriminator": gan.discriminator, "generator": gan.generator, "ema_generator": gan.ema_generator}
        out[name] = {
            f"{part}/{i}/{v.path}": _sums(v)
            for part, model in parts.items()
            if model
            for i, v in enumerate(model.weights)
        }
        out[name].update(step=_sums(gan.step), generator_start=_sums(gan.generator_start))
    return out


def _sums(variable) -> list[float]:
    x = np.asarray(variable.numpy(), "float64")
    return [float(np.sum(x)), float(np.sum(x * x))]


@pytest.mark.core
@pytest.mark.slow  # 50 s on 2 cores: CI runs it with -m slow and on every backend with -m core
def test_same_weights_as_before_the_refactor(tmp_path):
    if not REFERENCE.is_file():
        pytest.fail(f"no reference for this backend: run `python {Path(__file__).name} --write` under it")
    expected = json.loads(REFERENCE.read_text())
    got = fingerprints(tmp_path)
    assert got.keys() == expected.keys()
    for run in expected:
        assert sorted(got[run]) == sorted(expected[run]), run
        for path, (total, squares) in expected[run].items():
            np.testing.assert_allclose(got[run][path], [total, squares], rtol=1e-4, atol=1e-5, err_msg=path)


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        REFERENCE.parent.mkdir(exist_ok=True)
        REFERENCE.write_text(json.dumps(fingerprints(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}")

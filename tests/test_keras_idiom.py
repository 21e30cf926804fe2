"""The Keras way to load a saved file: import the package that defines its
classes, then `keras.models.load_model`, in a fresh process, on every backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

from keras_mnist_gan import GAN, Schedule, build_discriminator, build_generator, save_model_atomic

pytestmark = pytest.mark.core  # runs on every backend in CI

LOAD = """
import sys
{imports}
import numpy as np
gan = keras.models.load_model(sys.argv[1])
generator = keras.models.load_model(sys.argv[2])
print(type(gan).__name__, type(generator).__name__)
np.save(sys.argv[3], generator.predict(np.load(sys.argv[4]), verbose=0))
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import keras_mnist_gan\nimport keras",
        "import keras\nimport keras_mnist_gan",
        # A module of the package first: it imports Keras itself.
        "from keras_mnist_gan.models import build_generator\nimport keras",
    ],
    ids=["package first", "keras first", "a module first"],
)
def test_import_the_package_then_load_model(tmp_path, imports):
    gan = GAN(build_discriminator(seed=0), build_generator(seed=1), seed=0, ema_decay=0.99)
    gan.compile(r1_gamma=1.0, schedule=Schedule(r1_interval=4))
    files = [tmp_path / "gan.keras", tmp_path / "generator.keras"]
    save_model_atomic(gan, str(files[0]))
    save_model_atomic(gan.sampler, str(files[1]))
    noise = np.random.default_rng(0).standard_normal((3, 100)).astype("float32")
    np.save(tmp_path / "noise.npy", noise)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD.format(imports=imports),
            *map(str, files),
            str(tmp_path / "digits.npy"),
            str(tmp_path / "noise.npy"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["GAN", "Sequential"]
    np.testing.assert_allclose(np.load(tmp_path / "digits.npy"), gan.sampler.predict(noise, verbose=0), atol=1e-6)

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ["KERAS_BACKEND"] == "jax":
    # Tests build many identical models: JAX compiles each one's step anew
    # unless compiled programs are cached (subprocesses share the cache).
    import tempfile

    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="jax-cache-"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_mnist_gan.data import load_subset  # noqa: E402


@pytest.fixture(scope="session")
def subset():
    return load_subset()


@pytest.fixture(scope="session")
def tiny_images(subset):
    """300 real digits, uint8 (300, 28, 28, 1)."""
    return subset.x_train[:300]


@pytest.fixture
def tiny_npz(tmp_path, subset):
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=subset.x_train[:200, ..., 0],
        y_train=subset.y_train[:200],
        x_test=subset.x_test[:150, ..., 0],
        y_test=subset.y_test[:150],
    )
    return path

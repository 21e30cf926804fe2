"""Where MNIST comes from, and how its files are read and checked.

Sources, in the order `load_mnist` tries them:

1. an explicit ``path`` argument;
2. the environment variable ``KERAS_MNIST_GAN_DATA``;
3. Keras's own cache, ``~/.keras/datasets/mnist.npz``, read directly;
4. ``keras.datasets.mnist.load_data()``, which downloads it where there is a
   network;
5. the small real subset shipped in this package (8,000 training digits),
   with one warning that says how to point at the full data.

A path may be a Keras-layout ``.npz`` (``x_train``, ``y_train``, ``x_test``,
``y_test``) or a directory holding the four IDX files
(``train-images-idx3-ubyte`` etc., gzipped or not). Any 28x28 single-channel
dataset in those layouts works the same way. An explicit path or variable
that does not work is an error, never a silent fallback.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

ENV_VAR = "KERAS_MNIST_GAN_DATA"
SUBSET_PATH = Path(__file__).parent / "data_files" / "mnist_subset.npz"
IMAGE_HW = (28, 28)

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data file is missing, unreadable or not 28x28 single-channel digits."""


class MnistData(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    source: str


def load_mnist(path: str | os.PathLike | None = None, allow_download: bool = True) -> MnistData:
    """Load MNIST from the first source that has it (see the module doc)."""
    if path is not None:
        return load_path(path)
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            return load_path(env)
        except DataError as e:
            raise DataError(f"{ENV_VAR}={env}: {e}") from None
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"
    if cache.is_file():
        return load_path(cache)
    if allow_download:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            return MnistData(*validate_split(x_train, y_train, x_test, y_test, "keras.datasets.mnist"),
                             source="keras.datasets.mnist (downloaded)")
        except Exception:  # no network: fall through to the shipped subset
            pass
    warnings.warn(
        "No MNIST found (no path given, $KERAS_MNIST_GAN_DATA unset, no "
        "~/.keras/datasets/mnist.npz, download failed): using the 8,000-digit "
        f"subset shipped with the package ({SUBSET_PATH.name}). For the full "
        "60,000 digits pass --data PATH or set KERAS_MNIST_GAN_DATA to a "
        "Keras mnist.npz or a directory of the four IDX files.",
        stacklevel=2,
    )
    return load_subset()


def load_subset() -> MnistData:
    """The shipped subset: 8,000 training and 2,000 test digits of real MNIST."""
    data = load_npz(SUBSET_PATH)
    return data._replace(source=f"shipped subset ({SUBSET_PATH})")


def load_path(path: str | os.PathLike) -> MnistData:
    """Load a Keras-layout ``.npz`` file or a directory of IDX files."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: no such file or directory.")
    if p.is_dir():
        return load_idx_dir(p)
    return load_npz(p)


def load_npz(path: str | os.PathLike) -> MnistData:
    p = Path(path)
    if not zipfile.is_zipfile(p):
        raise DataError(
            f"{p}: not an .npz file (expected a Keras-layout mnist.npz with "
            "x_train, y_train, x_test, y_test, or a directory of IDX files)."
        )
    try:
        with np.load(p, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "x_test") if k not in f.files]
            if missing:
                raise DataError(
                    f"{p}: has arrays {sorted(f.files)} but needs x_train and x_test "
                    "(and optionally y_train, y_test)."
                )
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in f.files}
    except DataError:
        raise
    except Exception as e:  # zlib, bad CRC, truncated member, pickled objects
        raise DataError(f"{p}: cannot be read as .npz ({type(e).__name__}: {e}).") from None
    return MnistData(
        *validate_split(arrays["x_train"], arrays.get("y_train"), arrays["x_test"], arrays.get("y_test"), str(p)),
        source=str(p),
    )


def load_idx_dir(directory: str | os.PathLike) -> MnistData:
    d = Path(directory)
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [d / stem, d / (stem + ".gz"), d / stem.replace("-idx", ".idx"),
                      d / (stem.replace("-idx", ".idx") + ".gz")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(
                f"{d}: no {stem}[.gz] in this directory (an IDX directory needs "
                f"{', '.join(IDX_NAMES.values())}, each optionally .gz)."
            )
        arrays[key] = read_idx(found)
    return MnistData(*validate_split(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], str(d)),
                     source=str(d))


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of the original MNIST files), .gz or not."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(p, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{p}: cannot be read ({type(e).__name__}: {e}); is the download complete?") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{p}: not an IDX file (bad magic number {raw[:4].hex() or 'empty file'}).")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{p}: IDX header is cut short or declares {ndim} dimensions.")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{p}: IDX header declares shape {dims} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header} bytes."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def validate_split(x_train, y_train, x_test, y_test, where: str):
    x_train = validate_images(x_train, f"{where}: x_train")
    x_test = validate_images(x_test, f"{where}: x_test")
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if y is not None and len(y) != len(x):
            raise DataError(f"{where}: {len(x)} {name} images but {len(y)} {name} labels.")
    return x_train, y_train, x_test, y_test


def validate_images(x, where: str = "images") -> np.ndarray:
    """Check that ``x`` holds 28x28 single-channel digits; return it as
    (N, 28, 28, 1), uint8 in [0, 255] or float32 in [0, 1] as given."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or tuple(x.shape[1:]) != IMAGE_HW:
        raise DataError(
            f"{where}: expected 28x28 single-channel images, shape (N, 28, 28) or "
            f"(N, 28, 28, 1); got shape {x.shape}."
        )
    if len(x) == 0:
        raise DataError(f"{where}: holds no images.")
    if x.dtype == np.uint8:
        return x[..., None]
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{where}: integer pixels must lie in [0, 255]; found [{lo}, {hi}].")
        return x.astype(np.uint8)[..., None]
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError(f"{where}: holds NaN or infinite pixels.")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(
                f"{where}: float pixels must lie in [0, 1]; found [{lo:g}, {hi:g}] "
                "(divide 0-255 images by 255, or pass them as uint8)."
            )
        return x.astype(np.float32)[..., None]
    raise DataError(f"{where}: pixels must be uint8, integers in [0, 255] or floats in [0, 1]; got dtype {x.dtype}.")


def to_float(x: np.ndarray) -> np.ndarray:
    """Validated images as float32 in [0, 1], shape (N, 28, 28, 1)."""
    x = validate_images(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x

"""Where MNIST comes from, and how its files are read and checked.

Sources, in the order `load_mnist` tries them:

1. an explicit ``path`` argument;
2. the environment variable ``KERAS_MNIST_GAN_DATA``;
3. Keras's own cache, ``~/.keras/datasets/mnist.npz``, read directly;
4. ``keras.datasets.mnist.load_data()``, which downloads it where there is a
   network;
5. the real subset shipped in this package (20,000 training digits),
   with one warning that says how to point at the full data.

A path may be a Keras-layout ``.npz`` (``x_train``, ``y_train``, ``x_test``,
``y_test``), a directory holding the four IDX files
(``train-images-idx3-ubyte`` etc., gzipped or not), or a folder of images
(`image_folder.load_image_dir`: one subfolder per class, as
``keras.utils.image_dataset_from_directory`` reads them, or the images
directly in it for unlabelled data). Any 28x28 single-channel dataset in
the first two layouts works the same way; images are made so. An explicit path or variable
that does not work is an error, never a silent fallback. Only regular files
are opened (a FIFO or a device is an error, not a hang), and no file is
read past what its headers declare, nor when they declare more than
MAX_DATA_BYTES.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

# Absolute imports: tests/test_hard_inputs.py loads this file on its own,
# from its path, outside the package. The names the rest of the package and
# its users import from here live in `mnist_data`; they stay importable here.
from keras_mnist_gan.image_folder import load_image_dir
from keras_mnist_gan.mnist_data import (  # noqa: F401 (re-exported)
    IMAGE_HW,
    MAX_CLASSES,
    MAX_DATA_BYTES,
    NUM_CLASSES,
    DataError,
    MnistData,
    file_kind,
    num_classes_of_data,
    open_regular,
    to_float,
    validate_images,
    validate_labels,
)

ENV_VAR = "KERAS_MNIST_GAN_DATA"
SUBSET_PATH = Path(__file__).parent / "data_files" / "mnist_subset.npz"

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


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
            import contextlib
            import io

            import keras

            # Keras prints "Downloading data from ..." before it knows whether
            # there is a network; say nothing unless the download worked.
            with contextlib.redirect_stdout(io.StringIO()):
                (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            return MnistData(x_train, y_train, x_test, y_test, source="keras.datasets.mnist (downloaded)")
        except Exception:  # no network: fall through to the shipped subset
            pass
    warnings.warn(
        "no MNIST found (no --data, $KERAS_MNIST_GAN_DATA unset, no ~/.keras/datasets/mnist.npz, no network): "
        "training on the 20,000 real digits shipped with the package; for all 60,000 pass --data mnist.npz "
        "(or a directory of the four IDX files).",
        stacklevel=2,
    )
    return load_subset()


def load_subset() -> MnistData:
    """The shipped subset: 20,000 training digits and all 10,000 test digits of real MNIST."""
    data = load_npz(SUBSET_PATH)
    return data._replace(source=f"shipped subset ({SUBSET_PATH})")


def load_path(path: str | os.PathLike) -> MnistData:
    """Load a Keras-layout ``.npz`` file, a directory of IDX files or a
    folder of images."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: no such file or directory.")
    if p.is_dir():
        if _idx_candidates(p):
            return load_idx_dir(p)
        return load_image_dir(p)
    return load_npz(p)


def image_folder_of(path: str | os.PathLike | None) -> Path | None:
    """The folder `load_path` would read ``path`` as, if a folder of images
    (a directory without IDX files); else None. A run's own files must not
    land inside it: they would be read as more images."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_dir() and not _idx_candidates(p) else None


def _idx_candidates(d: Path) -> list[Path]:
    """The IDX files of ``d`` under any of the names `load_idx_dir` looks for."""
    found = []
    for stem in IDX_NAMES.values():
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
            # lexists, not is_file: a FIFO or device under one of these names is
            # refused by read_idx as such, and a dangling link as missing.
            if os.path.lexists(d / name):
                found.append(d / name)
    return found


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _check_npz_sizes(z: zipfile.ZipFile, where: Path) -> None:
    """Refuse an .npz whose arrays declare more than MAX_DATA_BYTES, from the
    zip directory and the .npy headers alone, before numpy allocates them:
    a few kB of deflated zeros can declare gigabytes."""
    members = [i for i in z.infolist() if i.filename in {f"{k}.npy" for k in IDX_NAMES}]
    total = sum(i.file_size for i in members)
    if total > MAX_DATA_BYTES:
        raise DataError(
            f"{where}: its arrays declare {total / 2**20:,.0f} MiB uncompressed, more than the "
            f"{MAX_DATA_BYTES / 2**20:,.0f} MiB this tool reads; is it really MNIST?"
        )
    for info in members:
        with z.open(info) as f:
            try:
                read_header = _NPY_HEADER_READERS.get(np.lib.format.read_magic(f))
                if read_header is None:  # v3 is only for structured dtypes, never images
                    raise DataError(f"{where}: {info.filename} is not a plain .npy array (format version 1 or 2).")
                shape, _, dtype = read_header(f)
            except DataError:
                raise
            except Exception:  # not a .npy member at all: np.load below says so
                continue
            header = f.tell()
        if dtype.hasobject:
            continue  # pickled: np.load refuses it (allow_pickle=False)
        declared = math.prod(shape) * dtype.itemsize
        if declared > info.file_size - header:
            raise DataError(
                f"{where}: {info.filename} declares shape {shape} ({declared:,} bytes of {dtype}) "
                f"but holds {max(info.file_size - header, 0):,} bytes."
            )


def load_npz(path: str | os.PathLike) -> MnistData:
    p = Path(path)
    with open_regular(p) as fh:
        return _load_npz(fh, p)


def _load_npz(fh, p: Path) -> MnistData:
    if not zipfile.is_zipfile(fh):
        raise DataError(
            f"{p}: not an .npz file (expected a Keras-layout mnist.npz with "
            "x_train, y_train, x_test, y_test, or a directory of IDX files)."
        )
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as z:
            _check_npz_sizes(z, p)
        fh.seek(0)
        with np.load(fh, allow_pickle=False) as f:
            missing = [k for k in ("x_train", "x_test") if k not in f.files]
            if missing:
                raise DataError(
                    f"{p}: has arrays {sorted(f.files)} but needs x_train and x_test (and optionally y_train, y_test)."
                )
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in f.files}
    except DataError:
        raise
    except Exception as e:  # zlib, bad CRC, truncated member, pickled objects
        raise DataError(f"{p}: cannot be read as .npz ({type(e).__name__}: {e}).") from None
    return MnistData(arrays["x_train"], arrays.get("y_train"), arrays["x_test"], arrays.get("y_test"), source=str(p))


def load_idx_dir(directory: str | os.PathLike) -> MnistData:
    d = Path(directory)
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [
            d / stem,
            d / (stem + ".gz"),
            d / stem.replace("-idx", ".idx"),
            d / (stem.replace("-idx", ".idx") + ".gz"),
        ]
        # exists, not is_file: a FIFO or device under one of these names is
        # refused by read_idx as such, not reported as missing.
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise DataError(
                f"{d}: no {stem}[.gz] in this directory (an IDX directory needs "
                f"{', '.join(IDX_NAMES.values())}, each optionally .gz)."
            )
        arrays[key] = read_idx(found)
    return MnistData(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], source=str(d))


_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format of the original MNIST files), .gz or not.

    Reads the header first and then only the data it declares (plus one byte,
    to notice trailing garbage), so a damaged or hostile header costs an
    error, not gigabytes of memory.
    """
    p = Path(path)
    with open_regular(p) as raw_fh:
        try:
            gz = raw_fh.read(2) == b"\x1f\x8b"
            raw_fh.seek(0)
            fh = gzip.GzipFile(fileobj=raw_fh, mode="rb") if gz else raw_fh
            head = _read_upto(fh, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
                raise DataError(f"{p}: not an IDX file (bad magic number {head.hex() or 'empty file'}).")
            ndim = head[3]
            dims_raw = _read_upto(fh, 4 * ndim)
            if ndim == 0 or len(dims_raw) < 4 * ndim:
                raise DataError(f"{p}: IDX header is cut short or declares {ndim} dimensions.")
            dims = struct.unpack(f">{ndim}I", dims_raw)
            dtype = np.dtype(_IDX_DTYPES[head[2]])
            expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
            if expected > MAX_DATA_BYTES:
                raise DataError(
                    f"{p}: IDX header declares shape {dims} ({expected:,} bytes of data), more than the "
                    f"{MAX_DATA_BYTES:,} bytes this tool reads; damaged header?"
                )
            data = _read_upto(fh, expected + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{p}: cannot be read ({type(e).__name__}: {e}); is the download complete?") from None
    if len(data) != expected:
        held = f"{len(data)} bytes" if len(data) < expected else "more"
        raise DataError(f"{p}: IDX header declares shape {dims} ({expected} bytes of data) but the file holds {held}.")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _read_upto(fh, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at the end of the file."""
    chunks, left = [], n
    while left > 0:
        chunk = fh.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

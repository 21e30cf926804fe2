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
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from dataclasses import dataclass, replace

import numpy as np

ENV_VAR = "KERAS_MNIST_GAN_DATA"
SUBSET_PATH = Path(__file__).parent / "data_files" / "mnist_subset.npz"
IMAGE_HW = (28, 28)

# The most bytes of array data any input file may declare. Full MNIST is 55 MB
# as uint8 and 440 MB as float64; a header that declares more is damaged or
# hostile, and is refused before anything that size is read or allocated.
MAX_DATA_BYTES = 1 << 30  # 1 GiB

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data file is missing, unreadable or not 28x28 single-channel digits."""


@dataclass(frozen=True)
class MnistData:
    """Training and test digits, valid by construction: images (N, 28, 28, 1),
    uint8 in [0, 255] or float32 in [0, 1] (`validate_images`), labels int32
    (N,) from 0 to the number of classes - 1, or None (`validate_labels`).
    Whoever holds one takes its arrays as they are."""

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    source: str = "arrays"
    # The classes' names, label i being class_names[i] (a folder of images
    # with one subfolder per class); None: the labels are the class numbers.
    class_names: tuple[str, ...] | None = None
    # One-line notes on how the data was read (images resized, files
    # skipped), for whoever loaded it to print.
    notes: tuple[str, ...] = ()
    # What labels would have come from, for the note on data without them.
    labels_from: str = "y_train"

    def __post_init__(self):
        classes = None if self.class_names is None else len(self.class_names)
        for name in ("x_train", "x_test"):
            object.__setattr__(self, name, validate_images(getattr(self, name), f"{self.source}: {name}"))
        for name, x in (("y_train", self.x_train), ("y_test", self.x_test)):
            y = getattr(self, name)
            if y is not None:
                if np.ndim(y) >= 1 and len(y) != len(x):
                    split = name[2:]
                    raise DataError(f"{self.source}: {len(x)} {split} images but {len(y)} {split} labels.")
                object.__setattr__(self, name, validate_labels(y, len(x), f"{self.source}: {name}", classes))

    def _replace(self, **changes) -> "MnistData":
        return replace(self, **changes)


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
        from .image_folder import load_image_dir

        return load_image_dir(p)
    return load_npz(p)


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


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its ``st_mode``."""
    return next((name for test, name in _FILE_KINDS if test(mode)), "a special file")


def open_regular(path: str | os.PathLike):
    """Open ``path`` for binary reading if it is a regular file (symlinks to
    one are fine); refuse FIFOs, devices and sockets with a DataError.

    Checked with stat before opening, because opening a FIFO blocks until a
    writer comes and reading /dev/zero never ends; checked again on the open
    descriptor (opened non-blocking) in case the path changed in between.
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
        if stat.S_ISREG(mode):
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            try:
                mode = os.fstat(fd).st_mode
            except OSError:
                os.close(fd)
                raise
            if stat.S_ISREG(mode):
                return os.fdopen(fd, "rb")
            os.close(fd)
    except OSError as e:
        raise DataError(f"{p}: cannot be read ({e.strerror or e}).") from None
    raise DataError(f"{p}: not a regular file ({file_kind(mode)}); give an mnist.npz file or a directory of IDX files.")


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


NUM_CLASSES = 10  # MNIST's digits; data whose labels go higher has more classes
MAX_CLASSES = 1000  # what `models.build_generator` takes


def validate_labels(y, n: int, where: str = "labels", num_classes: int | None = None) -> np.ndarray:
    """Check that ``y`` holds ``n`` labels from 0 to ``num_classes`` - 1 (by
    default: up to MAX_CLASSES); return them as int32 (n,)."""
    if y is None:
        raise DataError(f"{where}: the data has no labels (y_train); a conditional GAN needs them.")
    top = int(num_classes or MAX_CLASSES)
    y = np.asarray(y).reshape(-1) if np.ndim(y) == 2 and np.shape(y)[-1] == 1 else np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where}: expected {n} labels, shape ({n},); got shape {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer) or (n and (y.min() < 0 or y.max() >= top)):
        raise DataError(f"{where}: labels must be whole numbers from 0 to {top - 1}.")
    return y.astype(np.int32)


def num_classes_of_data(data: MnistData, labels: np.ndarray) -> int:
    """How many classes a conditional GAN of ``data`` (with its validated
    training ``labels``) learns: one per class name; else MNIST's ten, or
    more where the labels go higher (EMNIST letters: 1 to 26, so 27)."""
    if data.class_names is not None:
        return len(data.class_names)
    return max(NUM_CLASSES, int(labels.max()) + 1 if len(labels) else 0)


def validate_images(x, where: str = "images") -> np.ndarray:
    """Check that ``x`` holds 28x28 single-channel digits; return it as
    (N, 28, 28, 1), uint8 in [0, 255] or float32 in [0, 1] as given."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or tuple(x.shape[1:]) != IMAGE_HW:
        raise DataError(
            f"{where}: expected 28x28 single-channel images, shape (N, 28, 28) or (N, 28, 28, 1); got shape {x.shape}."
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


def to_float(x: np.ndarray, checked: bool = False) -> np.ndarray:
    """Images as float32 in [0, 1], shape (N, 28, 28, 1); ``checked``: ``x``
    is what `validate_images` returned (the training batches: their images
    were checked once, not at every step)."""
    x = x if checked else validate_images(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x

"""The digits a run trains on (`MnistData`) and the checks every source passes: images, labels, input files."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

IMAGE_HW = (28, 28)

# The most bytes of array data any input file may declare. Full MNIST is 55 MB
# as uint8 and 440 MB as float64; a header that declares more is damaged or
# hostile, and is refused before anything that size is read or allocated.
MAX_DATA_BYTES = 1 << 30  # 1 GiB


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

    def fingerprint(self) -> str:
        """SHA-256 of the arrays (shapes, types and values): the same digits
        give the same fingerprint however their path was typed or which
        file format held them."""
        import hashlib

        h = hashlib.sha256()
        for x in (self.x_train, self.y_train, self.x_test, self.y_test):
            if x is None:
                h.update(b"none")
                continue
            x = np.ascontiguousarray(x)
            h.update(f"{x.dtype.str}{x.shape}".encode())
            h.update(memoryview(x).cast("B"))
        return h.hexdigest()

    @property
    def record(self) -> dict:
        """What a run or a model file records of its data: the source's name
        (never the path it was reached by: a model file is shared), the
        number of training digits, and the fingerprint of the digits. A run
        knows its data by the fingerprint, not by how the path was typed."""
        record = {"source": data_name(self.source), "train_images": int(len(self.x_train))}
        if os.path.isfile(self.source):
            record["bytes"] = os.path.getsize(self.source)  # of the file; the hash is of the digits it holds
        return {**record, "sha256": self.fingerprint()}


def data_name(source: str) -> str:
    """A data source named without the folders above it: 'mnist.npz' for
    '../data/mnist.npz', unchanged for sources that are no path."""
    if source in ("arrays",) or source.startswith(("keras.datasets", "shipped subset")):
        return source.split(" (/")[0].split(" (")[0] if source.startswith("shipped") else source
    return os.path.basename(os.path.normpath(source)) or source


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

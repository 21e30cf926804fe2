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
(`load_image_dir`: one subfolder per class, as
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
import re
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from dataclasses import dataclass, replace
from typing import NamedTuple

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
        return load_idx_dir(p) if _idx_candidates(p) else load_image_dir(p)
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


def to_float(x: np.ndarray) -> np.ndarray:
    """Validated images as float32 in [0, 1], shape (N, 28, 28, 1)."""
    x = validate_images(x)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x


# A folder of images. The extensions `keras.utils.image_dataset_from_directory`
# reads, and three more that Pillow reads as well.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The share of each class held back as test images where the folder has no
# test/ beside train/ (MNIST holds back 10,000 of 70,000).
IMAGE_TEST_SHARE = 0.1
# The most images one folder may hold: MAX_DATA_BYTES of 28x28 uint8 images.
MAX_IMAGE_FILES = MAX_DATA_BYTES // (IMAGE_HW[0] * IMAGE_HW[1])
# The most pixels one image file may declare (8192 x 8192): a few kB of PNG
# can declare gigapixels, and each is decoded whole before it is resized.
MAX_IMAGE_PIXELS = 1 << 26
_NAMES_SHOWN = 3


def _visible_dirs(d: Path) -> list[str]:
    """Subfolder names as Keras takes them for classes: sorted (Python's
    ``sorted``, so "B" before "a" and "10" before "9"), hidden ones left out."""
    try:
        names = os.listdir(d)
    except OSError as e:
        raise DataError(f"{d}: cannot be listed ({e.strerror or e}).") from None
    return sorted(n for n in names if not n.startswith(".") and (d / n).is_dir())


def _image_files(d: Path, recursive: bool) -> list[Path]:
    """Files with an image extension, in Keras's order (folders, then names,
    sorted). Symbolic links to folders are not followed below ``d`` (a link
    loop would never end); links to files are read if they lead to one."""
    if not recursive:
        try:
            names = sorted(os.listdir(d))
        except OSError as e:
            raise DataError(f"{d}: cannot be listed ({e.strerror or e}).") from None
        return [d / n for n in names if n.lower().endswith(IMAGE_SUFFIXES) and not (d / n).is_dir()]
    found = []
    for root, dirs, files in sorted(os.walk(d), key=lambda w: w[0]):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        found += [Path(root) / f for f in sorted(files) if f.lower().endswith(IMAGE_SUFFIXES)]
    return found


class _Scan(NamedTuple):
    files: list[Path]
    labels: list[int] | None
    class_names: tuple[str, ...] | None
    empty_classes: list[str]
    loose: int  # images directly in a folder of class folders: left out


def _scan(root: Path, class_names: tuple[str, ...] | None = None) -> _Scan:
    """The images of ``root``: one class per subfolder (names sorted) if any
    subfolder holds images, else those directly in it, unlabelled. With
    ``class_names`` (the test/ folder beside train/), its subfolders must be
    among those classes."""
    classes = _visible_dirs(root)
    per_class = [_image_files(root / c, recursive=True) for c in classes]
    if not any(per_class):
        if class_names:
            raise DataError(
                f"{root}: holds no class subfolders with images, but {root.parent}/train has "
                f"{len(class_names)} classes ({', '.join(class_names[:_NAMES_SHOWN])}...); give test/ the same."
            )
        return _Scan(_image_files(root, recursive=False), None, None, [], 0)
    loose = len(_image_files(root, recursive=False))
    if class_names is None:
        class_names = tuple(classes)
    else:
        unknown = [c for c, f in zip(classes, per_class) if f and c not in class_names]
        if unknown:
            raise DataError(
                f"{root}: class folder {unknown[0]!r} is not among those of {root.parent}/train "
                f"({', '.join(class_names)}); give test/ and train/ the same class folders."
            )
    index = {c: i for i, c in enumerate(class_names)}
    files, labels = [], []
    for c, f in zip(classes, per_class):
        if c in index:
            files += f
            labels += [index[c]] * len(f)
    empty = [c for c, f in zip(classes, per_class) if not f]
    return _Scan(files, labels, class_names, empty, loose)


def _read_image(path: Path) -> tuple[np.ndarray, bool, str | None, bool]:
    """One image file as a 28x28 uint8 array, whether it was resized, the mode
    it was converted from (None: it was grayscale), and whether it looks dark
    on light (a bright border). Raises DataError, or whatever Pillow raises."""
    from PIL import Image

    with open_regular(path) as fh:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fh)
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise DataError(f"{w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} this tool decodes")
            im.load()  # the first frame of a GIF
        mode = im.mode
        if mode != "L":
            # Transparent pixels become black: the background of light-on-dark MNIST.
            has_alpha = "A" in mode or "transparency" in im.info
            if mode.startswith("I;16"):  # 16-bit grayscale: Pillow's convert("L") would clip it at 255
                im = Image.fromarray(np.round(np.asarray(im, np.float64) / 257.0).astype(np.uint8), "L")
            elif has_alpha:
                la = np.asarray(im.convert("RGBA").convert("LA"), np.float32)
                im = Image.fromarray(np.round(la[..., 0] * la[..., 1] / 255.0).astype(np.uint8), "L")
            else:
                im = im.convert("L")
        resized = im.size != (IMAGE_HW[1], IMAGE_HW[0])
        if resized:  # squashed to the square, as image_dataset_from_directory does
            im = im.resize((IMAGE_HW[1], IMAGE_HW[0]), Image.Resampling.BILINEAR)
        x = np.asarray(im, np.uint8)
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    return x, resized, None if mode == "L" else mode, float(border.mean()) > 127.5


def _read_images(files: list[Path], root: Path):
    """The images of ``files``, and what was done on the way: which files
    were kept, which were unreadable (and why), how many resized, converted
    (from which modes), dark on light."""
    images, kept, bad, resized, modes, dark = [], [], [], 0, {}, 0
    for i, path in enumerate(files):
        try:
            x, was_resized, mode, is_dark = _read_image(path)
        except Exception as e:  # noqa: BLE001 (Pillow raises many kinds: never a traceback)
            text = str(e).split(": ", 1)[1] if isinstance(e, DataError) and ": " in str(e) else str(e)
            # Pillow names the file object (<_io.BufferedReader ...>); open_regular adds advice on --data
            text = re.sub(r"\s*<[^>]*>", "", text).split(";")[0].strip()
            bad.append((os.path.relpath(path, root), (text or type(e).__name__).splitlines()[0][:120]))
            continue
        images.append(x)
        kept.append(i)
        resized += was_resized
        dark += is_dark
        if mode is not None:
            modes[mode] = modes.get(mode, 0) + 1
    return images, kept, bad, resized, modes, dark


def _held_back(labels: np.ndarray, share: float) -> np.ndarray:
    """A mask of the images held back as test images: ``share`` of each
    class (at least one image of each stays in training), drawn with a
    fixed seed, so the same folder always splits the same way."""
    rng = np.random.RandomState(0)
    test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        k = min(int(len(where) * share + 0.5), len(where) - 1)  # halves up: 1 of 5
        test[rng.permutation(where)[:k]] = True
    return test


def load_image_dir(directory: str | os.PathLike, test_share: float = IMAGE_TEST_SHARE) -> MnistData:
    """A folder of images, in the layout of ``keras.utils.image_dataset_from_directory``.

    One subfolder per class (names sorted as Keras sorts them, hidden ones
    left out; images anywhere below each) gives labelled data and its
    ``class_names``; images directly in ``directory``, no class folders,
    unlabelled data. ``train/`` and ``test/`` side by side are the two
    splits; otherwise ``test_share`` of each class is held back as the test
    images. Each image becomes 28x28 grayscale (resized, squashed like
    Keras does; transparency as black) and is used as it is: MNIST digits
    are light on dark, and a folder of dark-on-light images gets a note
    saying so. Files that are not readable images are skipped, and
    ``notes`` say so, and what was resized or converted, in one line each.
    """
    d = Path(directory)
    dirs = _visible_dirs(d)
    split = "train" in dirs and "test" in dirs and not _image_files(d, recursive=False)
    train = _scan(d / "train" if split else d)
    test = _scan(d / "test", train.class_names) if split else None
    total = len(train.files) + (len(test.files) if test else 0)
    if not train.files:
        raise DataError(
            f"{d / 'train' if split else d}: holds no images ({', '.join(IMAGE_SUFFIXES)})"
            + ("" if split else " and no IDX files")
            + "; give a folder of images (one subfolder per class, or all in it), a directory of "
            "MNIST's four IDX files, or an mnist.npz."
        )
    if total > MAX_IMAGE_FILES:
        raise DataError(
            f"{d}: holds {total:,} image files, more than the {MAX_IMAGE_FILES:,} this tool reads "
            f"({MAX_DATA_BYTES / 2**20:,.0f} MiB as 28x28 images)."
        )
    notes = []
    x_train, kept, bad, resized, modes, dark = _read_images(train.files, d)
    y_train = None if train.labels is None else np.asarray(train.labels, np.int32)[kept]
    x_test, y_test = None, None
    if test is not None:
        x_test, kept_test, bad_test, r, m, k = _read_images(test.files, d)
        y_test = None if test.labels is None else np.asarray(test.labels, np.int32)[kept_test]
        bad, resized, dark = bad + bad_test, resized + r, dark + k
        for mode, n in m.items():
            modes[mode] = modes.get(mode, 0) + n
    read = len(x_train) + (len(x_test) if x_test is not None else 0)
    if bad:
        names = ", ".join(name for name, _ in bad[:_NAMES_SHOWN])
        more = f" and {len(bad) - _NAMES_SHOWN} more" if len(bad) > _NAMES_SHOWN else ""
        why = f"the first: {bad[0][1]}" if len(bad) > 1 else bad[0][1]
        notes.append(f"note: {d}: skipped {len(bad)} file(s) that are not readable images: {names}{more} ({why}).")
    if not x_train:
        raise DataError(f"{d}: none of its {len(train.files)} image files could be read ({bad[0][0]}: {bad[0][1]}).")
    if resized or modes:
        what = []
        if resized:
            what.append(f"{resized} resized to 28x28")
        if modes:
            what.append(f"{sum(modes.values())} converted to grayscale (from {', '.join(sorted(modes))})")
        notes.append(f"note: {d}: of its {read} images, " + " and ".join(what) + ".")
    if dark > read / 2:
        notes.append(
            f"note: {d}: {dark} of its {read} images look dark on light (a bright border); MNIST's digits are "
            "light on dark, and these are used as they are: invert them first for MNIST-like pictures."
        )
    if train.loose:
        notes.append(f"note: {d}: {train.loose} image(s) directly in it, outside the class folders, are left out.")
    if train.empty_classes:
        notes.append(
            f"note: {d}: class folder(s) {', '.join(train.empty_classes)} hold no images; the GAN has their "
            "classes but never sees one."
        )
    x_train = np.stack(x_train)
    if test is None:
        share = _held_back(np.zeros(len(x_train), np.int32) if y_train is None else y_train, test_share)
        x_test, x_train = x_train[share], x_train[~share]
        if y_train is not None:
            y_test, y_train = y_train[share], y_train[~share]
        if share.any():
            notes.append(
                f"note: {d}: no train/ and test/ folders, so {int(share.sum())} of its {len(share)} images "
                f"({test_share:.0%}{' of each class' if y_train is not None else ''}) are held back as the test "
                "images of the quality figures."
            )
        else:
            notes.append(f"note: {d}: too few images to hold any back as test images: no quality figures.")
    elif not x_test:
        raise DataError(f"{d / 'test'}: holds no readable images; give it some, or leave out test/ and train/.")
    else:
        x_test = np.stack(x_test)
    if len(x_test) == 0:
        x_test = x_train[:1]  # too few images to hold any back: the quality figures say they are off
        y_test = None if y_train is None else y_train[:1]
    return MnistData(
        x_train,
        y_train,
        x_test,
        y_test,
        source=str(d),
        class_names=train.class_names,
        notes=tuple(notes),
        labels_from="no class subfolders",
    )

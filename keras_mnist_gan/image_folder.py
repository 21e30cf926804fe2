"""Files -> arrays, for a folder of images: the layout of
``keras.utils.image_dataset_from_directory`` (one subfolder per class, or
all images in it), each image made 28x28 grayscale. `data.load_path`
reads a folder through here when it holds no IDX files.

What is read, one rule for every depth below the data folder:

- **Hidden entries** (names starting with ``.``: ``.cache/``,
  ``.ipynb_checkpoints/``, ``._x.png``) are skipped, files and folders,
  beside the class folders and at any depth inside them.
- **Nesting.** The folder's subfolders are the classes; the images in a
  class folder and in its ordinary subfolders, at any depth, belong to
  that class (as Keras reads them). Images directly in a folder of class
  folders are left out, with a note.
- **Symbolic links.** A link to a file is read as the file it leads to,
  wherever that lies (a dangling one is an unreadable file, below). A
  class folder may be a link to a folder outside the data folder, read as
  that class; a link that leads to the data folder, to a folder above it
  or to a folder inside it is skipped with a note naming it (it would read
  the same images twice, or never end). Below a class folder, links to
  folders are not followed (Keras's ``follow_links=False``), with a note
  naming them.
- **Unreadable entries.** A folder that cannot be listed (permission
  denied) is an error naming it and why: a class, or part of one, would
  silently go missing. A file that cannot be read as an image is skipped,
  with a note naming it.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .mnist_data import (
    DataError,
    IMAGE_HW,
    MAX_DATA_BYTES,
    MnistData,
    open_regular,
)


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


def _entries(d: Path) -> list[os.DirEntry]:
    """The visible entries of folder ``d``, sorted by name (Python's
    ``sorted``, as Keras sorts: "B" before "a", "10" before "9"). A folder
    that cannot be listed is a DataError naming it."""
    try:
        with os.scandir(d) as it:
            entries = [e for e in it if not e.name.startswith(".")]
    except OSError as e:
        raise DataError(
            f"{d}: cannot be listed ({e.strerror or e}); give it read permission or move it out of the data folder."
        ) from None
    return sorted(entries, key=lambda e: e.name)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def _is_image(entry: os.DirEntry) -> bool:
    return entry.name.lower().endswith(IMAGE_SUFFIXES) and not _is_dir(entry)


def _leads_back(link: Path, top: Path) -> bool:
    """Whether the folder ``link`` leads to is ``top`` (the data folder),
    one above it or one inside it."""
    target, top = os.path.realpath(link), os.path.realpath(top)
    try:
        return os.path.commonpath([target, top]) in (target, top)
    except ValueError:  # on another drive
        return False


def _class_dirs(d: Path, top: Path, links: list[Path]) -> list[str]:
    """The class folders of ``d``: its visible subfolders, sorted. Links
    among them that lead back into ``top`` or above it go to ``links``."""
    names = []
    for e in _entries(d):
        if _is_dir(e):
            if e.is_symlink() and _leads_back(d / e.name, top):
                links.append(d / e.name)
            else:
                names.append(e.name)
    return names


def _image_files(d: Path, recursive: bool, links: list[Path] | None = None, limit: int = MAX_IMAGE_FILES) -> list[Path]:
    """The visible files of ``d`` with an image extension, and with
    ``recursive`` those of its visible subfolders at any depth, in Keras's
    order (a folder's files, then its subfolders', sorted by name). Links to
    folders below ``d`` are not followed: they go to ``links``. Stops past
    ``limit`` files (the count is refused later)."""
    entries = _entries(d)
    found = [d / e.name for e in entries if _is_image(e)]
    if not recursive:
        return found
    for e in entries:
        if len(found) > limit:
            break
        if not _is_dir(e):
            continue
        if e.is_symlink():
            links.append(d / e.name)
        else:
            found += _image_files(d / e.name, True, links, limit - len(found))
    return found


class _Scan(NamedTuple):
    files: list[Path]
    labels: list[int] | None
    class_names: tuple[str, ...] | None
    empty_classes: list[str]
    loose: int  # images directly in a folder of class folders: left out
    links: list[Path]  # class folders that are links back into the data folder
    nested_links: list[Path]  # links to folders below a class folder: not followed


def _scan(root: Path, top: Path, class_names: tuple[str, ...] | None = None) -> _Scan:
    """The images of ``root`` (``top``, the data folder, or its train/ or
    test/): one class per subfolder (names sorted) if any subfolder holds
    images, else those directly in it, unlabelled. With ``class_names``
    (the test/ folder beside train/), its subfolders must be among those
    classes."""
    links, nested = [], []
    classes = _class_dirs(root, top, links)
    per_class = [_image_files(root / c, True, nested) for c in classes]
    if not any(per_class):
        if class_names:
            raise DataError(
                f"{root}: holds no class subfolders with images, but {root.parent}/train has "
                f"{len(class_names)} classes ({', '.join(class_names[:_NAMES_SHOWN])}...); give test/ the same."
            )
        return _Scan(_image_files(root, recursive=False), None, None, [], 0, links, nested)
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
    return _Scan(files, labels, class_names, empty, loose, links, nested)


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


def _check_scanned(d: Path, split: bool, train: _Scan, test: _Scan | None) -> None:
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


def _reading_notes(d: Path, read: int, bad, resized: int, modes: dict, dark: int, train: _Scan) -> list[str]:
    """One line each on what reading the folder skipped, changed or left out."""
    notes = []
    if bad:
        names = ", ".join(name for name, _ in bad[:_NAMES_SHOWN])
        more = f" and {len(bad) - _NAMES_SHOWN} more" if len(bad) > _NAMES_SHOWN else ""
        why = f"the first: {bad[0][1]}" if len(bad) > 1 else bad[0][1]
        notes.append(f"note: {d}: skipped {len(bad)} file(s) that are not readable images: {names}{more} ({why}).")
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
    return notes


def _names(d: Path, paths: list[Path]) -> str:
    names = ", ".join(os.path.relpath(p, d) for p in paths[:_NAMES_SHOWN])
    return names + (f" and {len(paths) - _NAMES_SHOWN} more" if len(paths) > _NAMES_SHOWN else "")


def _link_notes(d: Path, train: _Scan, test: _Scan | None) -> list[str]:
    """One line each on the symbolic links to folders that were not followed."""
    back = train.links + (test.links if test else [])
    nested = train.nested_links + (test.nested_links if test else [])
    notes = []
    if back:
        notes.append(
            f"note: {d}: skipped the symbolic link(s) {_names(d, back)}: each leads to the data folder, into it "
            "or above it, so its images would be read twice or without end."
        )
    if nested:
        notes.append(
            f"note: {d}: did not follow the symbolic link(s) {_names(d, nested)}: links to folders inside a "
            "class folder are not followed."
        )
    return notes


def _hold_back(d: Path, x: np.ndarray, y: np.ndarray | None, share: float, notes: list[str]):
    """Split ``share`` of each class off as the test images (a note says so);
    too few images to spare any: one stands in, and the quality figures
    say they are off."""
    held = _held_back(np.zeros(len(x), np.int32) if y is None else y, share)
    if not held.any():
        notes.append(f"note: {d}: too few images to hold any back as test images: no quality figures.")
        return x, y, x[:1], None if y is None else y[:1]
    notes.append(
        f"note: {d}: no train/ and test/ folders, so {int(held.sum())} of its {len(held)} images "
        f"({share:.0%}{' of each class' if y is not None else ''}) are held back as the test "
        "images of the quality figures."
    )
    return x[~held], None if y is None else y[~held], x[held], None if y is None else y[held]


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
    dirs = _class_dirs(d, d, [])
    split = "train" in dirs and "test" in dirs and not _image_files(d, recursive=False)
    train = _scan(d / "train" if split else d, d)
    test = _scan(d / "test", d, train.class_names) if split else None
    _check_scanned(d, split, train, test)
    x_train, kept, bad, resized, modes, dark = _read_images(train.files, d)
    y_train = None if train.labels is None else np.asarray(train.labels, np.int32)[kept]
    x_test, y_test = None, None
    if test is not None:
        x_test, kept_test, bad_test, r, m, k = _read_images(test.files, d)
        y_test = None if test.labels is None else np.asarray(test.labels, np.int32)[kept_test]
        bad, resized, dark = bad + bad_test, resized + r, dark + k
        for mode, n in m.items():
            modes[mode] = modes.get(mode, 0) + n
    if not x_train:
        raise DataError(f"{d}: none of its {len(train.files)} image files could be read ({bad[0][0]}: {bad[0][1]}).")
    read = len(x_train) + (len(x_test) if x_test is not None else 0)
    notes = _reading_notes(d, read, bad, resized, modes, dark, train) + _link_notes(d, train, test)
    x_train = np.stack(x_train)
    if test is None:
        x_train, y_train, x_test, y_test = _hold_back(d, x_train, y_train, test_share, notes)
    elif not x_test:
        raise DataError(f"{d / 'test'}: holds no readable images; give it some, or leave out test/ and train/.")
    else:
        x_test = np.stack(x_test)
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

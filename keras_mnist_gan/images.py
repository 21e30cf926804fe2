"""Digits -> an image grid people can look at; files written safely."""

from __future__ import annotations

import math
import os
import numpy as np
from PIL import Image, features

from .mnist_data import to_float
from .outputs import write_atomic

# Extensions a digit grid can be written as, and pillow's format for each
# (WebP only where pillow was built with it). Any other extension is refused
# rather than written as PNG bytes under a misleading name.
IMAGE_FORMATS = {
    ext: fmt
    for ext, fmt in {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".gif": "GIF",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".webp": "WEBP",
    }.items()
    if fmt != "WEBP" or features.check("webp")
}
# Lossy formats at their defaults blur one-pixel strokes; these keep digits crisp.
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}}


def image_format(path: str | os.PathLike) -> str:
    """Pillow's format name for ``path``'s extension (case-insensitive); a
    ValueError naming the supported extensions for any other."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in IMAGE_FORMATS:
        problem = f"cannot write {ext} images" if ext else "has no image extension"
        raise ValueError(f"{os.fspath(path)}: {problem}; name the file with one of {', '.join(IMAGE_FORMATS)}.")
    return IMAGE_FORMATS[ext]


# The grid's layout; the web page (web/app.js) reads it from model.json.
GRID_PAD = 2  # grey pixels between digits
GRID_GREY = 0.35


# The most pixels a side of a grid image may have: what GIF's 16-bit sizes
# hold (Pillow raises OverflowError beyond), less for formats whose encoders
# stop sooner (libjpeg at 65,500, WebP at 16,383).
MAX_IMAGE_SIDE = 65_535
_FORMAT_MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383}


def grid_shape(
    n: int, ncols: int | None = None, pad: int = GRID_PAD, scale: int = 2, size: int = 28
) -> tuple[int, int, int, int]:
    """(rows, columns, height, width in pixels) of `grid` for ``n`` digits."""
    ncols = min(int(ncols or math.ceil(math.sqrt(n))), n)
    nrows = math.ceil(n / ncols)
    return nrows, ncols, (nrows * (size + pad) + pad) * scale, (ncols * (size + pad) + pad) * scale


def check_grid_size(path: str | os.PathLike, n: int, ncols: int | None = None, scale: int = 2) -> None:
    """A one-line ValueError, before anything is drawn, if the grid of ``n``
    digits would be larger than ``path``'s format can hold; it says which
    --cols would fit."""
    fmt = image_format(path)
    limit = _FORMAT_MAX_SIDE.get(fmt, MAX_IMAGE_SIDE)
    _, cols, height, width = grid_shape(n, ncols, scale=scale)
    if max(height, width) <= limit:
        return
    per_side = (limit // scale - GRID_PAD) // (28 + GRID_PAD)  # digits that fit along one side
    where = f"{os.fspath(path)}: {n:,} digits in {cols:,} columns make a grid of {width:,} x {height:,} pixels"
    if n > per_side * per_side:
        raise ValueError(
            f"{where}; a {fmt} image holds at most {limit:,} a side, so at most {per_side**2:,} "
            "digits: give fewer (-n)."
        )
    raise ValueError(
        f"{where}; a {fmt} image holds at most {limit:,} a side: give --cols from "
        f"{math.ceil(n / per_side):,} to {min(per_side, n):,}."
    )


def grid(images: np.ndarray, ncols: int | None = None, pad: int = GRID_PAD, scale: int = 2) -> np.ndarray:
    """Tile (N, 28, 28[, 1]) images in [0, 1] (or uint8) into one uint8 array.

    White digits on black, as MNIST is, separated by ``pad`` grey pixels and
    upscaled ``scale`` times (nearest neighbour) so a small grid is readable.
    ``ncols`` beyond N would only add empty columns, so at most N are used.
    """
    x = to_float(images)[..., 0]
    h, w = x.shape[1:]
    nrows, ncols, _, _ = grid_shape(len(x), ncols, pad, scale=1, size=h)
    # Built as uint8, not float: the grid of a large sample is hundreds of MB.
    grey = np.round(np.float32(GRID_GREY) * 255).astype(np.uint8)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), grey, np.uint8)
    for i, img in enumerate(x):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = np.round(
            img * 255
        ).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def save_grid(images: np.ndarray, path: str | os.PathLike, ncols: int | None = None, scale: int = 2) -> str:
    """Write ``images`` as a grid in the format ``path``'s extension names
    (see IMAGE_FORMATS); returns the path. Written by `write_atomic`, so a
    failed write leaves no broken image and no temporary file."""
    fmt = image_format(path)
    check_grid_size(path, len(images), ncols, scale)
    picture = Image.fromarray(grid(images, ncols=ncols, scale=scale), mode="L")
    return write_atomic(path, lambda f: picture.save(f, format=fmt, **_SAVE_OPTIONS.get(fmt, {})))

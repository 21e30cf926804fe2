"""Digits -> a PNG grid people can look at."""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from .data import to_float


def grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, scale: int = 2) -> np.ndarray:
    """Tile (N, 28, 28[, 1]) images in [0, 1] (or uint8) into one uint8 array.

    White digits on black, as MNIST is, separated by ``pad`` grey pixels and
    upscaled ``scale`` times (nearest neighbour) so a small grid is readable.
    """
    x = to_float(images)[..., 0]
    n = len(x)
    ncols = int(ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    h, w = x.shape[1:]
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 0.35, np.float32)
    for i, img in enumerate(x):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    out = np.round(out * 255).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def save_grid(images: np.ndarray, path: str | os.PathLike, ncols: int | None = None, scale: int = 2) -> str:
    """Write ``images`` as a PNG grid; returns the path. Written to a
    temporary name and renamed, so an interrupted write leaves no broken PNG."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    Image.fromarray(grid(images, ncols=ncols, scale=scale), mode="L").save(tmp, format="PNG")
    os.replace(tmp, path)
    return path

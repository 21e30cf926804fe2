"""`keras-mnist-gan web`: a static site that draws digits in the browser.

The site is the page in ``keras_mnist_gan/web`` (index.html, app.js, the
noise of `keras_mnist_gan.noise` in noise.js, style.css), ONNX Runtime Web's
files from ``web/vendor`` (pinned by web/package-lock.json; web/vendor.sh
copies them from the npm package), the generator as ``generator.onnx`` and
``model.json``, which tells the page the model's inputs and the grid's
layout. Nothing is fetched from anywhere but the site's own folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import keras

from . import __version__
from .export import OUTPUT_NAME, ExportError, export_generator, require
from .images import GRID_GREY, GRID_PAD
from .models import noise_dim_of, num_classes_of
from .noise import MAX_SEED
from .presets import GRID_COLS_PER_DIGIT, GRID_DIGITS

PAGE_FILES = ("index.html", "app.js", "noise.js", "style.css")
VENDOR_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
                "onnxruntime-web.package.json")
MODEL_FILE = "generator.onnx"


def site_manifest(generator: keras.Model, source: str) -> dict:
    """What the page reads from model.json."""
    return {
        "model": MODEL_FILE,
        "source": source,
        "version": __version__,
        "noise_dim": noise_dim_of(generator),
        "num_classes": num_classes_of(generator),
        "inputs": {"noise": "noise", "label": "label"},
        "output": OUTPUT_NAME,
        "grid": {"n": GRID_DIGITS, "per_digit_cols": GRID_COLS_PER_DIGIT, "pad": GRID_PAD, "grey": GRID_GREY},
        "max_seed": MAX_SEED,
    }


def check_site_folder(out: str | os.PathLike) -> None:
    """Refuse (ExportError) a site folder that is a file or holds files other
    than a site written before."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / "model.json").exists():
        raise ExportError(f"{out} holds other files; give a new or empty folder (or a site written before).")


def write_site(generator: keras.Model, out: str | os.PathLike, source: str = "generator") -> list[str]:
    """Write the site for ``generator`` into the folder ``out``; returns the
    files written. ``out`` must be new, empty or a site written before (which
    is replaced whole). Built beside ``out`` and moved there at the end, so an
    interrupted run leaves the old site or none, never half of one."""
    check_site_folder(out)
    require("onnx")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        site = work / "site"
        (site / "vendor").mkdir(parents=True)
        page = resources.files(__package__) / "web"
        for name in PAGE_FILES:
            (site / name).write_bytes((page / name).read_bytes())
        for name in VENDOR_FILES:
            (site / "vendor" / name).write_bytes((page / "vendor" / name).read_bytes())
        export_generator(generator, site / MODEL_FILE, "onnx")
        (site / "model.json").write_text(json.dumps(site_manifest(generator, source), indent=2) + "\n")
        if out.exists():
            out.rename(work / "replaced")
        site.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())

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
from importlib import resources
from pathlib import Path

import keras

from . import __version__, outputs
from .export import OUTPUT_NAME, ExportError, export_generator, require
from .images import GRID_GREY, GRID_PAD
from .models import noise_dim_of, num_classes_of
from .noise import MAX_SEED
from .presets import GRID_COLS_PER_DIGIT, GRID_DIGITS

PAGE_FILES = ("index.html", "app.js", "noise.js", "style.css")
VENDOR_FILES = (
    "ort.wasm.min.js",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm",
    "onnxruntime-web.package.json",
)
MODEL_FILE = "generator.onnx"
# A site's files (relative paths), as every version of `write_site` wrote them.


def site_manifest(generator: keras.Model, source: str, class_names: list[str] | None = None) -> dict:
    """What the page reads from model.json. ``class_names``: what the digit
    selector shows for each class (None: the class numbers)."""
    return {
        "model": MODEL_FILE,
        "source": source,
        "version": __version__,
        "noise_dim": noise_dim_of(generator),
        "num_classes": num_classes_of(generator),
        "class_names": list(class_names) if class_names else None,
        "inputs": {"noise": "noise", "label": "label"},
        "output": OUTPUT_NAME,
        "grid": {"n": GRID_DIGITS, "per_digit_cols": GRID_COLS_PER_DIGIT, "pad": GRID_PAD, "grey": GRID_GREY},
        "max_seed": MAX_SEED,
    }


def check_site_folder(out: str | os.PathLike) -> None:
    """Refuse (one-line ExportError) a site folder that is a file or holds
    files other than those of a site this tool wrote (`outputs`)."""
    try:
        outputs.check_folder(out, what="a site")
    except outputs.OutputError as e:
        raise ExportError(str(e)) from None


def write_site(
    generator: keras.Model, out: str | os.PathLike, source: str = "generator", class_names: list[str] | None = None
) -> list[str]:
    """Write the site for ``generator`` into the folder ``out``; returns the
    files written. ``out`` must be new, empty or a site written before (which
    is replaced whole: see `keras_mnist_gan.outputs`). Built beside ``out``
    and moved there at the end, so an interrupted run leaves the old site or
    none, never half of one; '.' is filled file by file. ``class_names``
    name the classes in the page's digit selector."""
    check_site_folder(out)
    require("onnx")

    def build(site: Path) -> None:
        (site / "vendor").mkdir(parents=True)
        page = resources.files(__package__) / "web"
        for name in PAGE_FILES:
            (site / name).write_bytes((page / name).read_bytes())
        for name in VENDOR_FILES:
            (site / "vendor" / name).write_bytes((page / "vendor" / name).read_bytes())
        export_generator(generator, site / MODEL_FILE, "onnx")
        (site / "model.json").write_text(json.dumps(site_manifest(generator, source, class_names), indent=2) + "\n")

    files = outputs.write_folder(out, build, what="a site")
    return [f for f in files if not f.endswith("/")]

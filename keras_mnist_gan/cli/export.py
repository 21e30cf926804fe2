"""keras-mnist-gan export: its options and the checked file it writes."""

from __future__ import annotations

import os

from .paths import _size, _writable_dir


def _add_export_parser(sub) -> None:
    x = sub.add_parser("export", help="write a generator as ONNX, a TensorFlow SavedModel or a LiteRT file")
    x.add_argument("--model", help="a generator.keras or gan.keras file (default: the shipped generator)")
    x.add_argument("--out", required=True, help="the file (.onnx, .tflite) or SavedModel folder to write")
    x.add_argument(
        "--format", help="onnx, tf_saved_model or litert (default: from --out: .onnx, .tflite, else a SavedModel)"
    )


def _export(args) -> None:
    from ..evaluation import shipped_model
    from ..export import (
        CHECK_BATCH_SIZES,
        TOLERANCE,
        ExportError,
        check_export,
        check_target,
        export_generator,
        format_for,
        require,
    )
    from ..saving import load_generator

    fmt = format_for(args.out, args.format)
    require(fmt)
    check_target(args.out, fmt)  # before the model loads: nothing of the user's is replaced
    _writable_dir(os.path.dirname(os.path.abspath(args.out)))
    generator = load_generator(args.model or shipped_model("generator.keras"))
    export_generator(generator, args.out, fmt)
    diff = check_export(generator, args.out, fmt)
    sizes = ", ".join(map(str, CHECK_BATCH_SIZES))
    if diff > TOLERANCE:
        raise ExportError(f"{args.out} differs from the Keras generator by {diff:.1e} (more than {TOLERANCE:g}).")
    print(
        f"wrote {args.out} ({fmt}, {_size(args.out)}): it draws what the Keras generator draws, "
        f"within {diff:.1e}, checked on {sizes} digits"
    )

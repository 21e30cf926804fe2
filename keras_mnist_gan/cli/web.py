"""keras-mnist-gan web: its options and the static site it writes."""

from __future__ import annotations

import os

from .paths import _size, _writable_dir


def _add_web_parser(sub) -> None:
    w = sub.add_parser("web", help="write a static web page that draws digits in the browser")
    w.add_argument("--model", help="a generator.keras or gan.keras file (default: the shipped generator)")
    w.add_argument("--out", default="site", help="the site's folder: new, empty or an earlier site (default site)")


def _web(args) -> None:
    from ..evaluation import shipped_model
    from ..export import require
    from ..saving import load_generator
    from ..webpage import check_site_folder, write_site

    check_site_folder(args.out)
    require("onnx")
    _writable_dir(args.out)  # the nearest folder that exists: '.' itself for --out .
    from ..models import num_classes_of
    from ..rundir import run_class_names

    model = args.model or shipped_model("generator.keras")
    generator = load_generator(model)
    names = run_class_names(model, num_classes_of(generator))
    files = write_site(generator, args.out, source=os.path.basename(model), class_names=names)
    print(
        f"wrote {args.out}/ ({len(files)} files, {_size(args.out)}). Serve it with\n"
        f"  python -m http.server -d {args.out}\n"
        "and open http://localhost:8000/"
    )

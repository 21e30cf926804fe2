"""keras-mnist-gan info: what a .keras file holds."""

from __future__ import annotations


def _add_info_parser(sub) -> None:
    i = sub.add_parser("info", help="print what a .keras file holds and the training and figures it records")
    i.add_argument("model_file", metavar="MODEL", help="a generator.keras, gan.keras or shipped model file")


def _info(args) -> None:
    from ..modelinfo import model_info

    print(model_info(args.model_file))

"""``keras-mnist-gan``: train a GAN, sample digits from a saved one.

Bad input of any kind ends with one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys

from .arguments import MAX_SAMPLE_DIGITS
from .evaluate import _add_evaluate_parser, _evaluate
from .export import _add_export_parser, _export
from .info import _add_info_parser, _info
from .paths import _check_input
from .sample import _add_sample_parser, _sample
from ..interrupts import _interrupt_on_signals
from .train import _add_train_parser, _train
from .train_evaluator import _add_train_evaluator_parser, _train_evaluator
from .tune import _add_tune_parser, _tune
from .web import _add_web_parser, _web

# One module a command, each holding its parser beside its handler; the
# argparse types they share in `arguments`, the checks on paths in `paths`.
__all__ = ["MAX_SAMPLE_DIGITS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keras-mnist-gan", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--verbose", action="store_true", help="also show TensorFlow's own log lines and other libraries' warnings"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(sub)
    _add_sample_parser(sub)
    _add_evaluate_parser(sub)
    _add_tune_parser(sub)
    _add_export_parser(sub)
    _add_web_parser(sub)
    _add_info_parser(sub)
    _add_train_evaluator_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``keras-mnist-gan`` command; ``argv`` None reads the process's
    arguments (and, unless --verbose, filters TensorFlow's native log lines
    from the process's stderr: see `console`)."""
    from ..console import BackendError, check_backend, quiet_native_logs

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # train records its command in generator.keras
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if argv is None:
            quiet_native_logs()
    try:
        check_backend()
    except BackendError as e:
        print(f"keras-mnist-gan {args.command}: error: {e}", file=sys.stderr)
        return 1
    from ..mnist_data import DataError
    from ..saving import ModelFileError
    from ..training import TrainingError

    stop = _interrupt_on_signals()
    try:
        try:
            for flag in ("data", "model", "evaluator"):
                _check_input(getattr(args, flag, None), f"--{flag}")
            {
                "train": _train,
                "sample": _sample,
                "evaluate": _evaluate,
                "train-evaluator": _train_evaluator,
                "tune": _tune,
                "export": _export,
                "web": _web,
                "info": _info,
            }[args.command](args)
            if stop.received:  # its KeyboardInterrupt was caught by library code on the way
                raise KeyboardInterrupt(stop.received)
        finally:
            stop.restore()  # inside the outer try: a stop that lands here is still a stop
    except BaseException as e:
        if not (isinstance(e, KeyboardInterrupt) or stop.received):
            if isinstance(e, (DataError, ModelFileError, TrainingError, ValueError, OSError)):
                print(f"keras-mnist-gan {args.command}: error: {e}", file=sys.stderr)
                return 1
            raise
        print(f"keras-mnist-gan {args.command}: interrupted", file=sys.stderr)
        if argv is None:
            # The process is ending: objects the interrupt left half-built
            # (TensorFlow's, mid-import) would print "Exception ignored in
            # ... __del__" tracebacks as they are collected.
            sys.unraisablehook = lambda unraisable: None
        return 130
    return 0

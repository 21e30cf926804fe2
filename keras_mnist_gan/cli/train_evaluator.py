"""keras-mnist-gan train-evaluator: its options and the classifier it trains."""

from __future__ import annotations

import os

from .arguments import _positive_int, _seed
from .paths import _writable_dir


def _add_train_evaluator_parser(sub) -> None:
    from ..presets import DEFAULT_EVALUATOR_EPOCHS, DEFAULT_SEED

    v = sub.add_parser("train-evaluator", help="train the MNIST classifier that evaluate uses")
    v.add_argument("--data", help="MNIST with labels (default: the usual search)")
    v.add_argument("--out", default="saved_models/evaluator.keras")
    v.add_argument("--epochs", type=_positive_int, default=DEFAULT_EVALUATOR_EPOCHS)
    v.add_argument("--seed", type=_seed, default=DEFAULT_SEED)


def _train_evaluator(args) -> None:
    from ..data import load_mnist
    from ..mnist_data import DataError
    from ..evaluation import train_evaluator
    from ..saving import save_model_atomic

    if not args.out.endswith(".keras"):  # said now, not after the training
        raise ValueError(f"--out {args.out}: a model file's name must end in .keras.")
    from ..outputs import OutputError, check_file_target

    try:
        check_file_target(args.out, parent_must_exist=False)
    except OutputError as e:
        raise ValueError(f"--out {e}") from None
    _writable_dir(os.path.dirname(args.out) or ".")
    data = load_mnist(args.data)
    if data.y_train is None or data.y_test is None:
        raise DataError(f"{data.source}: training the evaluator needs labels (y_train, y_test).")
    model, acc = train_evaluator(
        data.x_train, data.y_train, data.x_test, data.y_test, epochs=args.epochs, seed=args.seed
    )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)  # the default saved_models/ in a fresh folder
    save_model_atomic(model, args.out)
    print(f"test accuracy {acc:.4f} on {len(data.x_test)} digits ({data.source}); wrote {args.out}")

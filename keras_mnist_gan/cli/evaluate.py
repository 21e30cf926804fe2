"""keras-mnist-gan evaluate: its options and the table of figures it prints."""

from __future__ import annotations

from .arguments import _fid_digits, _seed
from .paths import _check_output_file


def _add_evaluate_parser(sub) -> None:
    from ..presets import DEFAULT_EVALUATE_N, DEFAULT_SEED

    e = sub.add_parser("evaluate", help="measure a generator's digits against real test digits")
    e.add_argument("--model", required=True, help="a generator.keras or gan.keras file")
    e.add_argument(
        "-n",
        type=_fid_digits,
        default=DEFAULT_EVALUATE_N,
        help="digits to generate and compare, at most the test digits (default %(default)s)",
    )
    e.add_argument("--data", help="MNIST for the real test digits and the floor (default: the usual search)")
    e.add_argument("--evaluator", help="classifier .keras (default: saved_models/evaluator.keras)")
    e.add_argument("--seed", type=_seed, default=DEFAULT_SEED)
    e.add_argument("--no-memorisation", action="store_true", help="skip the nearest-training-digit check (slow)")
    e.add_argument("--json", help="also write the figures to this JSON file")


def _evaluate(args) -> None:
    import json

    from ..data import load_mnist

    from ..evaluation import Evaluator, quality, real_floor
    from ..outputs import write_atomic
    from ..presets import MIN_FID_DIGITS
    from ..sampling import generate
    from ..saving import load_generator

    if args.json:
        _check_output_file(args.json, "--json")
    generator = load_generator(args.model)
    evaluator = Evaluator.load(args.evaluator)
    data = load_mnist(args.data)
    for note in data.notes:  # a folder of images: what was resized, skipped, held back
        print(note)
    n = min(args.n, len(data.x_test))
    if n < MIN_FID_DIGITS:
        raise ValueError(
            f"{data.source} holds {len(data.x_test)} test digits; a Fréchet distance needs at least {MIN_FID_DIGITS}."
        )
    mem = not args.no_memorisation
    # A conditional generator draws each digit's class at random, as it
    # samples by default: figures comparable with an unconditional one's,
    # and its accuracy on the classes drawn.
    digits, labels = generate(generator, n, seed=args.seed, return_labels=True)
    ours = quality(evaluator, digits, data.x_test[:n], data.x_train if mem else None, memorisation=mem, labels=labels)
    floor = real_floor(evaluator, data.x_train, data.x_test, n, seed=args.seed, memorisation=mem)
    rows = [
        ("FID (lower is better)", "fid", "{:.3f}"),
        ("MNIST score (max 10)", "mnist_score", "{:.3f}"),
        ("within-class diversity (real digits 1)", "within_class_diversity", "{:.3f}"),
        ("class entropy, bits (max 3.32)", "class_entropy_bits", "{:.3f}"),
        ("rarest class share", "rarest_class_share", "{:.4f}"),
        ("mean confidence", "mean_confidence", "{:.4f}"),
        ("memorised share", "memorised_share", "{:.4f}"),
    ]
    print(f"{n} generated digits from {args.model} vs {n} real test digits ({data.source})")
    print("| figure | generator | real-data floor |\n| --- | --- | --- |")
    for label, key, fmt in rows:
        if key in ours:
            print(f"| {label} | {fmt.format(ours[key])} | {fmt.format(floor[key])} |")
    print("class shares: " + " ".join(f"{i}:{s:.3f}" for i, s in enumerate(ours["class_share"])))
    print(
        "within-class diversity per class (real digits 1): "
        + " ".join(f"{i}:{s:.2f}" for i, s in enumerate(ours["within_class_diversity_per_class"]))
    )
    if labels is not None:
        print(
            f"recognised as the digit asked for: {ours['accuracy']:.4f} overall; per digit "
            + " ".join(f"{i}:{a:.3f}" for i, a in enumerate(ours["accuracy_per_class"]))
        )
    if args.json:
        figures = {"model": args.model, "n": n, "data": data.source, "generator": ours, "real_floor": floor}
        write_atomic(args.json, lambda f: f.write(json.dumps(figures, indent=2).encode()))

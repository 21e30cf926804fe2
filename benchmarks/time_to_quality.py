"""Time to good digits: how long `keras-mnist-gan train` takes to reach a
given image quality, and how good its generator is at the end.

    python benchmarks/time_to_quality.py                      # the default preset, default length
    python benchmarks/time_to_quality.py --preset seed --steps 10000
    python benchmarks/time_to_quality.py --data ../shared/mnist.npz -- --lr-d 5e-4

Runs the real command (`keras-mnist-gan train --out runs/ttq/NAME ...`, one
process, what a user runs), then `keras-mnist-gan evaluate -n 10000`. Prints
and appends to benchmarks/time_to_quality.md one row: the training seconds
at which val_fid (n=1,000, measured every --quality-every steps) first fell
below 50, 25 and 15 and (conditional models) val_accuracy reached 0.95;
the seconds spent on those measurements (left out of the other times:
the default command does not measure on the way); the command's total wall
time; and the final FID, MNIST score, class shares and, for a conditional
generator, accuracy overall and for the worst digit, at n=10,000. Without
--data it trains on what a machine without MNIST gets (the shipped subset),
as the README's command does. Arguments after ``--`` go to `train` as they
are. A benchmark, not a test: it takes as long as the run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THRESHOLDS = (50.0, 25.0, 15.0)
ACCURACY = 0.95


def training_seconds(history: str) -> list[tuple[int, float, dict]]:
    """(step, wall seconds less the quality measurements so far, row) of
    each history row."""
    out, judging = [], 0.0
    with open(history) as f:
        for row in csv.DictReader(f):
            seconds = float(row.get("val_seconds") or "nan")
            judging += seconds if seconds == seconds else 0.0
            out.append((int(float(row["step"])), float(row["wall_s"]) - judging, row))
    return out


def first(history: str, column: str, reached) -> tuple[int, float] | None:
    """(step, training seconds) of the first row whose ``column`` passes ``reached``."""
    for step, seconds, row in training_seconds(history):
        value = float(row.get(column) or "nan")
        if value == value and reached(value):
            return step, seconds
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=None, help="train's --preset (default: train's default)")
    parser.add_argument("--steps", type=int, default=None, help="train's --steps (default: train's default)")
    parser.add_argument(
        "--quality-every",
        type=int,
        default=250,
        help="how often val_fid is measured (0: only at the end, as the README's command does)",
    )
    parser.add_argument("--data", default=None, help="train's --data (default: none, as on a machine without MNIST)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="run folder under runs/ttq (default: from the settings)")
    parser.add_argument("--table", default=os.path.join(HERE, "time_to_quality.md"))
    parser.add_argument("extra", nargs="*", help="after --: more train arguments")
    args = parser.parse_args()

    name = args.name or "_".join(
        filter(
            None,
            [
                args.preset or "default",
                f"s{args.steps}" if args.steps else None,
                f"seed{args.seed}",
                *[a.lstrip("-") for a in args.extra],
            ],
        )
    )
    out = os.path.join("runs", "ttq", name)
    cmd = ["keras-mnist-gan", "train", "--out", out, "--restart", "--quiet", "--seed", str(args.seed)]
    if args.quality_every:
        cmd += ["--steps-per-epoch", str(args.quality_every), "--quality-every", str(args.quality_every)]
    cmd += ["--preset", args.preset] if args.preset else []
    cmd += ["--steps", str(args.steps)] if args.steps else []
    cmd += ["--data", args.data] if args.data else []
    cmd += args.extra
    env = dict(os.environ)
    if not args.data:
        # What a fresh machine sees: no Keras cache, no $KERAS_MNIST_GAN_DATA.
        env.pop("KERAS_MNIST_GAN_DATA", None)
        env["KERAS_HOME"] = os.path.join(out + "_keras_home")
    print("$ " + " ".join(cmd), flush=True)
    began = time.monotonic()
    subprocess.run(cmd, check=True, env=env)
    wall = time.monotonic() - began

    evaluation = out + "_eval.json"
    ev = [
        "keras-mnist-gan",
        "evaluate",
        "--model",
        os.path.join(out, "generator.keras"),
        "-n",
        "10000",
        "--no-memorisation",
        "--json",
        evaluation,
    ] + (["--data", args.data] if args.data else [])
    subprocess.run(ev, check=True, env=env, stdout=subprocess.DEVNULL)
    with open(evaluation) as f:
        figures = json.load(f)["generator"]
    history = os.path.join(out, "history.csv")
    rows = training_seconds(history)
    steps = rows[-1][0]
    judging = float(rows[-1][2]["wall_s"]) - rows[-1][1]

    def at(column, reached):
        hit = first(history, column, reached)
        return f"{hit[1]:.0f} s (step {hit[0]:,})" if hit else "not reached"

    shares = figures["class_share"]
    accuracy = "-"
    if "accuracy" in figures:
        accuracy = f"{figures['accuracy'] * 100:.1f}% (worst {min(figures['accuracy_per_class']) * 100:.1f}%)"
    row = (
        f"| {' '.join(cmd[2:])} | {steps:,} | "
        + " | ".join(at("val_fid", lambda v, t=t: v < t) for t in THRESHOLDS)
        + f" | {at('val_accuracy', lambda v: v >= ACCURACY)} | {judging:.0f} s | {wall:.0f} s"
        f" | {figures['fid']:.2f} | {figures['mnist_score']:.2f} | {min(shares) * 100:.1f}-{max(shares) * 100:.1f}%"
        f" | {accuracy} |"
    )
    header = (
        "| train arguments | steps | val_fid < 50 | val_fid < 25 | val_fid < 15 | val_accuracy >= 0.95 "
        "| measuring | command wall time | FID (n=10,000) | MNIST score | class shares | recognised as asked |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    print(header + "\n" + row)
    new = not os.path.exists(args.table)
    with open(args.table, "a") as f:
        if new:
            f.write(
                "Written by `python benchmarks/time_to_quality.py` (see its docstring); "
                f"{platform.machine()}, {os.cpu_count()} cores. val_fid and val_accuracy are at n=1,000 "
                "(val_fid reads higher than FID at n=10,000), measured every 250 steps; their seconds count "
                "from the start of training, less the time spent measuring.\n\n" + header + "\n"
            )
        f.write(row + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""Makes the seed tables of README.md and docs/results.md (benchmarks/results/seeds_*.json).

The README's command on several seeds: its result as a spread, not a draw.

    python benchmarks/seeds.py                           # seeds 0-4, shipped digits
    python benchmarks/seeds.py --data mnist.npz --seeds 0 1 2
    python benchmarks/seeds.py --name ms1 -- --mode-seeking 1   # more train arguments

For each seed it runs `keras-mnist-gan train --out runs/seeds/NAME/seedS
--seed S` as a new user would (a fresh, empty HOME: no Keras cache, no
$KERAS_MNIST_GAN_DATA, so without --data the digits shipped in the
package), one run at a time, then `keras-mnist-gan evaluate -n 10000`. It
writes benchmarks/results/seeds_NAME.json: per seed the command's wall time
and peak memory, FID, MNIST score, recognised-as-asked overall and for the
worst digit, class shares and within-class diversity; and their median and
worst. Run it alone on the machine: the wall times are the figures.
A benchmark, not a test: it takes as long as the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# Per-seed figures and which way is worse, for the summary's "worst".
FIGURES = {
    "wall_s": max,
    "peak_rss_gb": max,
    "fid": max,
    "mnist_score": min,
    "accuracy": min,
    "worst_digit_accuracy": min,
    "rarest_class_share": min,
    "commonest_class_share": max,
    "within_class_diversity": min,
}


def run_measured(cmd: list[str], env: dict, log) -> tuple[float, float]:
    """Run ``cmd``; its wall seconds and peak resident memory in GB."""
    began = time.monotonic()
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {process.returncode}); see {log}")
    return wall, usage.ru_maxrss / 2**20  # Linux reports kB


def one_seed(seed: int, folder: str, data: str | None, extra: list[str]) -> dict:
    out = os.path.join(folder, f"seed{seed}")
    log = out + ".log"
    home = tempfile.mkdtemp(prefix="kmg_home_")  # a new user's empty HOME
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_MNIST_GAN_DATA", "KERAS_HOME")}
    env["HOME"] = home
    train = ["keras-mnist-gan", "train", "--out", out, "--seed", str(seed), "--restart"]
    train += (["--data", data] if data else []) + extra
    print("$ " + " ".join(train), flush=True)
    wall, peak = run_measured(train, env, log)
    evaluation = out + "_eval.json"
    evaluate = ["keras-mnist-gan", "evaluate", "--model", os.path.join(out, "generator.keras")]
    evaluate += ["-n", "10000", "--no-memorisation", "--json", evaluation] + (["--data", data] if data else [])
    run_measured(evaluate, env, log)
    with open(evaluation) as f:
        g = json.load(f)["generator"]
    row = {
        "seed": seed,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "fid": round(g["fid"], 3),
        "mnist_score": round(g["mnist_score"], 3),
        "within_class_diversity": round(g["within_class_diversity"], 3),
        "least_varied_class": g["least_varied_class"],
        "rarest_class_share": g["rarest_class_share"],
        "commonest_class_share": max(g["class_share"]),
    }
    if "accuracy" in g:
        per_digit = g["accuracy_per_class"]
        row.update(
            accuracy=round(g["accuracy"], 4),
            worst_digit_accuracy=round(min(per_digit), 4),
            worst_digit=int(per_digit.index(min(per_digit))),
        )
    print(json.dumps(row), flush=True)
    return row


def summary(rows: list[dict]) -> dict:
    out = {}
    for key, worse in FIGURES.items():
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = {"median": round(statistics.median(values), 4), "worst": round(worse(values), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--data", default=None, help="train's --data (default: none, as on a machine without MNIST)")
    parser.add_argument("--name", default=None, help="the results' name (default: shipped or the data file's name)")
    parser.add_argument("--runs", default=os.path.join("runs", "seeds"), help="where the run folders go")
    parser.add_argument("extra", nargs="*", help="after --: more train arguments")
    args = parser.parse_args()
    name = args.name or ("shipped" if not args.data else os.path.splitext(os.path.basename(args.data))[0])
    folder = os.path.join(args.runs, name)
    os.makedirs(folder, exist_ok=True)
    rows = [one_seed(seed, folder, args.data, args.extra) for seed in args.seeds]
    result = {
        "command": "keras-mnist-gan train --out run --seed S"
        + (" --data " + os.path.basename(args.data) if args.data else "")
        + "".join(" " + a for a in args.extra),
        "evaluate": "keras-mnist-gan evaluate --model run/generator.keras -n 10000",
        "data": os.path.basename(args.data) if args.data else "the digits shipped in the package",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "seeds": rows,
        "summary": summary(rows),
    }
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"seeds_{name}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

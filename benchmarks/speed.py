"""Makes the speed tables of docs/results.md (benchmarks/results/speed.json, backend_speed.json).

Training and sampling speed: the project's GAN against the TF1 original.

    python benchmarks/speed.py [--data mnist.npz] [--steps 200] [--repeats 3] [--with-default-preset]
    python benchmarks/speed.py --backends tensorflow,jax,torch [--steps 200] [--repeats 2]

Each measurement runs in its own process (so each reports its own peak
memory), alternating between the two implementations so that drift in the
machine's speed hits both alike. Both train the seed configuration: batch
50, noise 100, bicubic resizes, two discriminator Adam optimizers; timing
starts after 30 untimed steps (graph building, first-call costs). Prints a
table and, with --json FILE, writes the numbers. --with-default-preset also
times the CLI's default preset (R1 penalty, weight average), whose speed
turns a step budget into minutes of training. --backends times the seed
configuration and the default preset on each Keras backend named (the same
package, KERAS_BACKEND set per process) instead of the TF1 comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WARM = 30
BATCH = 50


def _images(data):
    from keras_mnist_gan.data import load_mnist

    return load_mnist(data).x_train  # uint8 (N, 28, 28, 1)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_tf1(data, steps):
    from tf1_baseline import TF1GAN

    import numpy as np

    x = _images(data)
    rng = np.random.default_rng(0)
    gan = TF1GAN(batch_size=BATCH)
    batches = [x[rng.integers(0, len(x), BATCH)].astype(np.float32) / 255.0 for _ in range(64)]
    for i in range(WARM):
        gan.step(batches[i % 64])
    t, c = time.perf_counter(), _cpu_seconds()
    for i in range(steps):
        gan.step(batches[i % 64])
    wall = time.perf_counter() - t
    return {
        "train_digits_per_s": steps * BATCH / wall,
        "cores_used": (_cpu_seconds() - c) / wall,
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_keras(data, steps):
    import keras

    from keras_mnist_gan import GAN, build_discriminator, build_generator, make_dataset

    ds = make_dataset(_images(data), batch_size=BATCH, seed=0)
    # Exactly what a user writes: no speed flags.
    gan = GAN(build_discriminator(), build_generator())
    gan.compile(keras.optimizers.Adam(3e-4), keras.optimizers.Adam(1e-4), d_fake_optimizer=keras.optimizers.Adam(3e-4))
    gan.fit(ds, steps_per_epoch=WARM, epochs=1, verbose=0)
    t, c = time.perf_counter(), _cpu_seconds()
    gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = time.perf_counter() - t
    train, cores = steps * BATCH / wall, (_cpu_seconds() - c) / wall
    gan.calibrate_batchnorm()
    gan.generate(1000, seed=0)
    t = time.perf_counter()
    gan.generate(10000, seed=1, batch_size=500)
    sample = 10000 / (time.perf_counter() - t)
    return {
        "train_digits_per_s": train,
        "cores_used": cores,
        "sample_digits_per_s": sample,
        "peak_rss_mb": _peak_rss_mb(),
    }


def measure_default(data, steps):
    """The CLI's default preset (R1 penalty, weight average, one D optimizer):
    what `keras-mnist-gan train` runs, to turn a step budget into minutes."""
    from keras_mnist_gan.presets import DEFAULT_PRESET, PRESETS
    from keras_mnist_gan.training import build_gan
    from keras_mnist_gan import make_dataset

    gan = build_gan(PRESETS[DEFAULT_PRESET], seed=0)
    ds = make_dataset(_images(data), batch_size=BATCH, seed=0)
    gan.fit(ds, steps_per_epoch=WARM, epochs=1, verbose=0)
    t, c = time.perf_counter(), _cpu_seconds()
    gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = time.perf_counter() - t
    return {
        "train_digits_per_s": steps * BATCH / wall,
        "cores_used": (_cpu_seconds() - c) / wall,
        "peak_rss_mb": _peak_rss_mb(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="MNIST file (default: the usual search, see README)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--with-default-preset", action="store_true", help="also time the CLI's default preset (R1, weight average)"
    )
    p.add_argument("--backends", help="comma-separated Keras backends to compare (e.g. tensorflow,jax,torch)")
    p.add_argument("--worker", choices=["tf1", "keras", "default"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        fn = {"tf1": measure_tf1, "keras": measure_keras, "default": measure_default}[args.worker]
        print(json.dumps(fn(args.data, args.steps)))
        return
    if args.backends:
        return compare_backends(args)
    kinds = ("tf1", "keras") + (("default",) if args.with_default_preset else ())
    runs = {k: [] for k in kinds}
    for r in range(args.repeats):
        for which in kinds:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", which, "--steps", str(args.steps)]
            if args.data:
                cmd += ["--data", os.path.abspath(args.data)]  # the workers run in benchmarks/
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE)
            runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"repeat {r + 1} {which}: {runs[which][-1]}", flush=True)

    def best(which, key):
        return max(run[key] for run in runs[which])

    def median(which, key):
        return float(sorted(run[key] for run in runs[which])[len(runs[which]) // 2])

    tf1, ours = best("tf1", "train_digits_per_s"), best("keras", "train_digits_per_s")
    result = {
        "tf1_train_digits_per_s": round(tf1, 1),
        "keras_train_digits_per_s": round(ours, 1),
        "ratio": round(ours / tf1, 2),
        "tf1_train_digits_per_s_median": round(median("tf1", "train_digits_per_s"), 1),
        "keras_train_digits_per_s_median": round(median("keras", "train_digits_per_s"), 1),
        "ratio_of_medians": round(median("keras", "train_digits_per_s") / median("tf1", "train_digits_per_s"), 2),
        "keras_sample_digits_per_s": round(best("keras", "sample_digits_per_s"), 1),
        "tf1_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["tf1"])),
        "keras_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["keras"])),
        "steps_timed": args.steps,
        "repeats": args.repeats,
        "batch": BATCH,
        "runs": runs,
    }
    print("\n| implementation | training digits/s, best of %d | median | peak RSS MB |" % args.repeats)
    print("| --- | --- | --- | --- |")
    print(
        f"| TF1 graph (baseline) | {tf1:.0f} | {result['tf1_train_digits_per_s_median']:.0f} "
        f"| {result['tf1_peak_rss_mb']} |"
    )
    print(
        f"| keras_mnist_gan GAN | {ours:.0f} | {result['keras_train_digits_per_s_median']:.0f} "
        f"| {result['keras_peak_rss_mb']} |"
    )
    print(
        f"\nratio {result['ratio']:.2f}x (best), {result['ratio_of_medians']:.2f}x (medians); "
        f"sampling {result['keras_sample_digits_per_s']:.0f} digits/s (batch 500)"
    )
    if args.with_default_preset:
        d = best("default", "train_digits_per_s")
        result["default_preset_train_digits_per_s"] = round(d, 1)
        result["default_preset_train_digits_per_s_median"] = round(median("default", "train_digits_per_s"), 1)
        print(
            f"default preset (R1, EMA): {d:.0f} digits/s best, "
            f"{result['default_preset_train_digits_per_s_median']:.0f} median: "
            f"10,000 steps in {10000 * BATCH / d / 60:.1f} min at best"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


def _worker(which: str, args, backend: str | None = None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", which, "--steps", str(args.steps)]
    if args.data:
        cmd += ["--data", os.path.abspath(args.data)]  # the workers run in benchmarks/
    env = dict(os.environ, **({"KERAS_BACKEND": backend} if backend else {}))
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_backends(args) -> None:
    """The seed configuration and the default preset on each backend, the
    backends alternating within each repeat."""
    backends = args.backends.split(",")
    runs = {(b, w): [] for b in backends for w in ("keras", "default")}
    for r in range(args.repeats):
        for b in backends:
            for which in ("keras", "default"):
                runs[b, which].append(_worker(which, args, b))
                print(f"repeat {r + 1} {b} {which}: {runs[b, which][-1]}", flush=True)
    rows = {}
    print(f"\n| backend | seed configuration, digits/s (best of {args.repeats}) | default preset (R1, EMA), digits/s |")
    print("| --- | --- | --- |")
    for b in backends:
        seed, default = (max(run["train_digits_per_s"] for run in runs[b, w]) for w in ("keras", "default"))
        rows[b] = {
            "seed_train_digits_per_s": round(seed, 1),
            "default_train_digits_per_s": round(default, 1),
            "runs": {w: runs[b, w] for w in ("keras", "default")},
        }
        print(f"| {b} | {seed:.0f} | {default:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"steps_timed": args.steps, "repeats": args.repeats, "batch": BATCH, "backends": rows}, f, indent=2
            )


if __name__ == "__main__":
    main()

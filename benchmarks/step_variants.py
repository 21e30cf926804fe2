"""Prints the table of benchmarks/step_variants.md, which docs/results.md quotes.

Training speed of the seed configuration under execution variants, each
in its own fresh process, several times: is a slow process slow because of
what it computes, or because of the machine?

    python benchmarks/step_variants.py [--runs 3] [--steps 100]

Variants: the default; `jit_compile=True` (XLA); `steps_per_execution=10`;
a constant batch instead of the shuffled `tf.data` pipeline; oneDNN off
(TF_ENABLE_ONEDNN_OPTS=0); one inter-op thread. Prints digits/s and the
cores used (process CPU time / wall time) of every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "default": ({}, {}),
    "jit_compile=True": ({"jit": True}, {}),
    "steps_per_execution=10": ({"spe": 10}, {}),
    "constant input": ({"constant": True}, {}),
    "oneDNN off": ({}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "1 inter-op thread": ({}, {"TF_NUM_INTEROP_THREADS": "1"}),
}


def worker(opts: dict, steps: int) -> dict:
    sys.path.insert(0, ROOT)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mnist_gan import GAN, build_discriminator, build_generator, make_dataset
    from keras_mnist_gan.data import load_subset

    x = load_subset().x_train  # the shipped digits: no data file needed
    if opts.get("constant"):
        ds = tf.data.Dataset.from_tensors(tf.constant(x[:50].astype(np.float32) / 255.0)).repeat()
    else:
        ds = make_dataset(x, batch_size=50, seed=0)
    gan = GAN(build_discriminator(), build_generator())
    gan.compile(
        keras.optimizers.Adam(3e-4),
        keras.optimizers.Adam(1e-4),
        d_fake_optimizer=keras.optimizers.Adam(3e-4),
        jit_compile=opts.get("jit", False),
        steps_per_execution=opts.get("spe", 1),
    )
    gan.fit(ds, steps_per_epoch=30, epochs=1, verbose=0)
    t, c = time.perf_counter(), os.times()
    gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    wall, c2 = time.perf_counter() - t, os.times()
    return {"digits_per_s": steps * 50 / wall, "cores": (c2.user - c.user + c2.system - c.system) / wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), args.steps)))
        return
    print("| variant | digits/s of each run | cores used |\n| --- | --- | --- |")
    for name, (opts, env) in VARIANTS.items():
        rates, cores = [], []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(opts), "--steps", str(args.steps)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rates.append(f"{r['digits_per_s']:.1f}")
            cores.append(f"{r['cores']:.2f}")
        print(f"| {name} | {', '.join(rates)} | {', '.join(cores)} |", flush=True)


if __name__ == "__main__":
    main()

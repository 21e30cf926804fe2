"""No doc or test uses its figures: a check to rerun when the training step changes.

Milliseconds per training step of the conditional `quality` GAN, by R1
interval, batch size and Keras dtype policy.

    python benchmarks/step_time.py                                    # R1 every step, every 16, none
    python benchmarks/step_time.py --policy mixed_bfloat16 --intervals 1
    python benchmarks/step_time.py --batch-sizes 25,50 --intervals 16

Each configuration: a fresh GAN, 10 steps to trace the compiled steps, then
``--steps`` timed steps of `fit` on random digits (the step's cost does not
depend on what the digits show). Prints one line per configuration. A
benchmark, not a test: run it alone on the machine.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", default="1,16,0", help="R1 intervals to time; 0: no R1 at all")
    parser.add_argument("--batch-sizes", default="50")
    parser.add_argument("--policy", default="float32", help="a Keras dtype policy, e.g. mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()

    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy(args.policy)
    from keras_mnist_gan.pipeline import make_dataset
    from keras_mnist_gan.presets import PRESETS
    from keras_mnist_gan.training import build_gan

    rng = np.random.default_rng(0)
    images, labels = (rng.random((2000, 28, 28)) * 255).astype("uint8"), rng.integers(0, 10, 2000)
    for batch in map(int, args.batch_sizes.split(",")):
        for interval in map(int, args.intervals.split(",")):
            preset = replace(
                PRESETS["quality"],
                conditional=True,
                batch_size=batch,
                r1_gamma=PRESETS["quality"].r1_gamma if interval else 0.0,
                r1_interval=max(interval, 1),
            )
            gan = build_gan(preset, seed=0)
            ds = make_dataset(images, batch_size=batch, labels=labels)
            gan.fit(ds, steps_per_epoch=10, epochs=1, verbose=0)  # traces the steps
            began = time.perf_counter()
            gan.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
            seconds = time.perf_counter() - began
            r1 = f"R1 every {interval}" if interval else "no R1"
            print(
                f"{args.policy}, batch {batch}, {r1}: {seconds / args.steps * 1000:.1f} ms/step, "
                f"{args.steps * batch / seconds:.0f} digits/s",
                flush=True,
            )


if __name__ == "__main__":
    main()

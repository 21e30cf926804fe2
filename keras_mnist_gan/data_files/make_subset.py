"""Rebuild mnist_subset.npz from a full Keras-layout MNIST file.

    python -m keras_mnist_gan.data_files.make_subset mnist.npz

Picks 20,000 training digits at random (fixed seed 2026) and keeps all
10,000 test digits (so FID on a machine without MNIST is measured against
the same test set as anywhere else); records which training digits in
train_index.
"""

import os
import sys

import numpy as np

TRAIN_DIGITS = 20_000


def main(src: str) -> None:
    d = np.load(src)
    rng = np.random.default_rng(2026)
    tr = np.sort(rng.choice(len(d["x_train"]), TRAIN_DIGITS, replace=False))
    te = np.arange(len(d["x_test"]))
    out = os.path.join(os.path.dirname(__file__), "mnist_subset.npz")
    np.savez_compressed(
        out,
        x_train=d["x_train"][tr],
        y_train=d["y_train"][tr],
        x_test=d["x_test"][te],
        y_test=d["y_test"][te],
        train_index=tr.astype("uint16"),
        test_index=te.astype("uint16"),
    )
    print(f"wrote {out}: {os.path.getsize(out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1])

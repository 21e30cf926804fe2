"""Prints the per-class diversity figures docs/results.md quotes for a collapsed and a healthy run.

    python benchmarks/class_collapse.py run/gan.keras [more/gan.keras ...]

Each class's diversity in a run's checkpoint, as the health monitor sees
it: per class, how diverse 8 digits of that class drawn from fixed
noise are (pixel distance, the raw generator in training mode) as a share
of real digits of that class: what `GameHealth` compares with its 50%
threshold every 200 steps.
"""

from __future__ import annotations

import sys

import keras

import keras_mnist_gan  # noqa: F401  (registers the GAN's classes for load_model)
from keras_mnist_gan.data import load_subset
from keras_mnist_gan.health import HEALTH_DIGITS, GameHealth


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__.strip().splitlines()[2])
    real = load_subset()
    for path in sys.argv[1:]:
        gan = keras.models.load_model(path)
        monitor = GameHealth(real.x_train[:HEALTH_DIGITS], real_labels=real.y_train[:HEALTH_DIGITS])
        monitor.set_model(gan)
        shares = monitor.class_diversity_shares()
        below = sorted(c for c, s in shares.items() if s < monitor.class_threshold)
        print(
            f"{path} (step {int(gan.step.numpy())}): "
            + " ".join(f"{c}:{s:.0%}" for c, s in shares.items())
            + f"; below {monitor.class_threshold:.0%}: {below}"
        )


if __name__ == "__main__":
    main()

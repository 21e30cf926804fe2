"""No doc or test uses its figures: a check to rerun when the resize layer changes.

Forward+backward time of the generator's bicubic upsampling.

    python benchmarks/resize_speed.py

Compares `keras.layers.Resizing(56, 56, interpolation="bicubic")` with
`keras_mnist_gan.BicubicResize(56, 56)` on the generator's two resize inputs
(batch 50, 28x28, 50 and 25 channels), each inside a `tf.function`.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mnist_gan.layers import BicubicResize  # noqa: E402


def time_ms(layer, x, repeats=30):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, x)

    for _ in range(3):
        step(x)
    t = time.perf_counter()
    for _ in range(repeats):
        step(x)
    return (time.perf_counter() - t) / repeats * 1000


def main():
    print("| input | keras Resizing bicubic, ms | BicubicResize, ms | speed-up |")
    print("| --- | --- | --- | --- |")
    for channels in (50, 25):
        x = tf.random.normal((50, 28, 28, channels), seed=0)
        ref = time_ms(keras.layers.Resizing(56, 56, interpolation="bicubic"), x)
        ours = time_ms(BicubicResize(56, 56), x)
        print(f"| 50x28x28x{channels} | {ref:.1f} | {ours:.1f} | {ref / ours:.1f}x |")


if __name__ == "__main__":
    main()

"""Prints the table of benchmarks/step_profile.md, which docs/results.md quotes.

Where a training step's time goes: forward and forward+backward time of
every layer of the seed configuration's generator and discriminator at
batch 50, and of the step's big pieces.

    python benchmarks/step_profile.py

Each figure is the mean of 40 calls of a `tf.function` after 5 untimed ones,
in milliseconds. Layer figures include the gradient with respect to the
layer's input (the generator step needs it for every layer).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mnist_gan import build_discriminator, build_generator  # noqa: E402

BATCH = 50


def bench(fn, n: int = 40) -> float:
    for _ in range(5):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        out = fn()
    np.asarray(tf.nest.flatten(out)[0])  # wait for the last call
    return (time.perf_counter() - t) / n * 1000


def layer_table(model, x) -> None:
    h = x
    for layer in model.layers:
        inp = h
        h = layer(inp, training=True)
        fwd = tf.function(lambda a, layer=layer: layer(a, training=True))

        @tf.function
        def fwd_bwd(a, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(a)
                out = tf.reduce_sum(layer(a, training=True))
            return tape.gradient(out, [a] + layer.trainable_variables)

        print(
            f"| {model.name}.{layer.name} | {tuple(inp.shape)} -> {tuple(h.shape)} | "
            f"{bench(lambda: fwd(inp)):.2f} | {bench(lambda: fwd_bwd(inp)):.2f} |"
        )


def main() -> None:
    d, g = build_discriminator(), build_generator()
    x = tf.random.uniform((BATCH, 28, 28, 1))
    z = tf.random.normal((BATCH, 100))

    @tf.function
    def g_forward():
        return g(z, training=True)

    @tf.function
    def d_forward_backward():
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(d(x, training=True))
        return tape.gradient(out, d.trainable_variables)

    @tf.function
    def generator_step_gradient():
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(d(g(z, training=True), training=True))
        return tape.gradient(out, g.trainable_variables)

    print("| piece | ms |\n| --- | --- |")
    print(f"| G forward | {bench(g_forward):.1f} |")
    print(f"| D forward+backward (weights) | {bench(d_forward_backward):.1f} |")
    print(f"| G step gradient (G and D forward, backward to G) | {bench(generator_step_gradient):.1f} |")
    print("\n| layer | shapes | forward ms | forward+backward ms |\n| --- | --- | --- | --- |")
    layer_table(g, z)
    layer_table(d, x)


if __name__ == "__main__":
    main()

"""Reference outputs of the real Keras models, to check the PyTorch port.

Run on this machine (TensorFlow there, not on the GPU machine):

    python tuning/gpu_scout/make_keras_reference.py

Writes .scout/keras_reference.npz: the seed-architecture generator and
discriminator with random (large-std, so the outputs are not flat) weights,
their outputs on fixed inputs (generator in training mode = batch
statistics), the shipped evaluator's features and probabilities on real test
digits, and .scout/evaluator_weights.npz (the evaluator's weights).
"""

from __future__ import annotations

import numpy as np

from keras_mnist_gan.data import load_mnist
from keras_mnist_gan.evaluation import Evaluator
from keras_mnist_gan.models import build_discriminator, build_generator


def main() -> None:
    rng = np.random.default_rng(123)
    out = {}

    gen = build_generator(100, seed=1)
    gw = [rng.normal(0, 0.15, w.shape).astype("float32") for w in gen.get_weights()]
    # BN: moving variance must stay positive (unused in training mode anyway).
    gen.set_weights(gw)
    names_g = [v.path for v in gen.weights]
    z = rng.standard_normal((64, 100)).astype("float32")
    out["g_z"] = z
    out["g_out_train"] = np.asarray(gen(z, training=True))
    for i, (n, w) in enumerate(zip(names_g, gw)):
        out[f"g_w{i:02d}"] = w
    print("generator weights:", names_g)

    disc = build_discriminator(seed=2)
    dw = [rng.normal(0, 0.05, w.shape).astype("float32") for w in disc.get_weights()]
    disc.set_weights(dw)
    data = load_mnist(".scout/mnist.npz")
    x = data.x_test[:64].astype("float32").reshape(64, 28, 28, 1) / 255.0
    out["d_x"] = x
    out["d_out"] = np.asarray(disc(x, training=True))
    for i, w in enumerate(dw):
        out[f"d_w{i:02d}"] = w
    print("discriminator weights:", [v.path for v in disc.weights])

    ev = Evaluator.load()
    feats, probs = ev.features_and_probs(data.x_test[:500])
    out["e_x"] = data.x_test[:500]
    out["e_feats"] = feats
    out["e_probs"] = probs
    ws = {}
    for layer in ev.model.layers:
        for i, w in enumerate(layer.get_weights()):
            ws[f"{layer.name}__{i}"] = w
    np.savez(".scout/evaluator_weights.npz", **ws)
    np.savez(".scout/keras_reference.npz", **out)
    print("wrote .scout/keras_reference.npz and .scout/evaluator_weights.npz")


if __name__ == "__main__":
    main()

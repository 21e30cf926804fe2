"""The train step under tf.distribute.MirroredStrategy on two logical CPUs.

Runs in a subprocess: logical devices must be configured before TensorFlow
initialises, which the rest of the suite has already done.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_mnist_gan import GAN, DiscriminatorWarmup, build_discriminator, build_generator
    from keras_mnist_gan.data import load_subset

    x = load_subset().x_train[:256].astype("float32") / 255.0

    def run(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            gan = GAN(build_discriminator(seed=1), build_generator(seed=2), seed=3, ema_decay=0.99)
            gan.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(2e-4),
                        d_fake_optimizer=keras.optimizers.Adam(2e-4), r1_gamma=1.0)
        ds = tf.data.Dataset.from_tensor_slices(x).batch(32, drop_remainder=True)
        h = gan.fit(ds, epochs=1, verbose=0, callbacks=[DiscriminatorWarmup(2)])
        return gan, {k: float(v[-1]) for k, v in h.history.items()}

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    gan, logs = run(mirrored)
    d_before = build_discriminator(seed=1).get_weights()
    out = {
        "replicas": mirrored.num_replicas_in_sync,
        "logs": logs,
        "g_iters": int(gan.g_optimizer.iterations.numpy()),
        "d_moved": bool(any(not np.allclose(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))),
        "finite": bool(all(np.isfinite(w).all() for w in gan.get_weights())),
        "ema_moved": bool(any(not np.allclose(a, b) for a, b in zip(
            build_generator(seed=2).get_weights(), gan.ema_generator.get_weights()))),
    }
    _, single_logs = run(tf.distribute.get_strategy())
    out["single_logs"] = single_logs
    print("RESULT " + json.dumps(out))
    """
)


def test_train_step_under_mirrored_strategy():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["replicas"] == 2
    assert out["g_iters"] == 8 - 2  # 8 batches, 2 of them warm-up
    assert out["d_moved"] and out["finite"] and out["ema_moved"]
    # Losses are per-digit means over the global batch, as on one device:
    # the first steps' losses start at log 2 both ways and stay comparable.
    for name in ("d_loss_real", "d_loss_fake", "g_loss", "d_r1"):
        assert abs(out["logs"][name] - out["single_logs"][name]) < 0.25, (name, out)

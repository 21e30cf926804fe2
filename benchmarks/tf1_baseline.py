"""The TF1 row of docs/results.md's speed table: benchmarks/speed.py imports it.

The original design as a TensorFlow 1 graph: the speed baseline.

A faithful reproduction of the original script's training graph, run with
``tf.compat.v1`` placeholders and a session: variables from
``get_variable`` with truncated-normal initialisers, the discriminator called
twice (real, then generated digits), batch normalisation in training mode,
bicubic resizes, sigmoid cross-entropy losses and three Adam trainers
(D on real, D on fake at lr 3e-4; G at lr 1e-4), fed from NumPy each step.
The one change: the resize is ``tf.image.resize(..., "bicubic")``, the op
Keras's ``Resizing`` layer runs, so both sides compute the same math.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def _var(name, shape, stddev=0.02):
    return v1.get_variable(name, shape, initializer=v1.truncated_normal_initializer(stddev=stddev))


def _zeros(name, shape):
    return v1.get_variable(name, shape, initializer=v1.constant_initializer(0))


def discriminator(images, reuse=False):
    with v1.variable_scope("discriminator", reuse=reuse):
        d = tf.nn.conv2d(images, _var("d_w1", [5, 5, 1, 32]), strides=[1, 1, 1, 1], padding="SAME")
        d = tf.nn.relu(d + _zeros("d_b1", [32]))
        d = tf.nn.avg_pool2d(d, ksize=2, strides=2, padding="SAME")
        d = tf.nn.conv2d(d, _var("d_w2", [5, 5, 32, 64]), strides=[1, 1, 1, 1], padding="SAME")
        d = tf.nn.relu(d + _zeros("d_b2", [64]))
        d = tf.nn.avg_pool2d(d, ksize=2, strides=2, padding="SAME")
        d = tf.reshape(d, [-1, 7 * 7 * 64])
        d = tf.nn.relu(tf.matmul(d, _var("d_w3", [7 * 7 * 64, 1024])) + _zeros("d_b3", [1024]))
        return tf.matmul(d, _var("d_w4", [1024, 1])) + _zeros("d_b4", [1])


def batch_norm(x, name):
    # tf.contrib.layers.batch_norm as the original called it: training mode,
    # fused kernel for 4-D inputs, moving averages never read.
    with v1.variable_scope(name):
        channels = x.shape[-1]
        gamma = v1.get_variable("gamma", [channels], initializer=v1.ones_initializer())
        beta = v1.get_variable("beta", [channels], initializer=v1.zeros_initializer())
        y, _, _ = v1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-5, is_training=True)
        return y


def generator(z, batch_size, z_dim):
    with v1.variable_scope("generator"):
        g = tf.matmul(z, _var("g_w1", [z_dim, 3136])) + _zeros("g_b1", [3136])
        g = tf.reshape(g, [-1, 56, 56, 1])
        g = tf.nn.relu(batch_norm(g, "bn1"))
        g = tf.nn.conv2d(g, _var("g_w2", [3, 3, 1, z_dim // 2]), strides=[1, 2, 2, 1], padding="SAME")
        g = g + _zeros("g_b2", [z_dim // 2])
        g = tf.nn.relu(batch_norm(g, "bn2"))
        g = tf.image.resize(g, [56, 56], method="bicubic")
        g = tf.nn.conv2d(g, _var("g_w3", [3, 3, z_dim // 2, z_dim // 4]), strides=[1, 2, 2, 1], padding="SAME")
        g = g + _zeros("g_b3", [z_dim // 4])
        g = tf.nn.relu(batch_norm(g, "bn3"))
        g = tf.image.resize(g, [56, 56], method="bicubic")
        g = tf.nn.conv2d(g, _var("g_w4", [1, 1, z_dim // 4, 1]), strides=[1, 2, 2, 1], padding="SAME")
        return tf.sigmoid(g + _zeros("g_b4", [1]))


class TF1GAN:
    """Build the graph and a session; `step(real)` is one training round."""

    def __init__(self, batch_size: int = 50, z_dim: int = 100, seed: int = 0):
        self.batch_size, self.z_dim = batch_size, z_dim
        self.rng = np.random.default_rng(seed)
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1.set_random_seed(seed)
            self.z = v1.placeholder(tf.float32, [None, z_dim], name="z")
            self.x = v1.placeholder(tf.float32, [None, 28, 28, 1], name="x")
            gz = generator(self.z, batch_size, z_dim)
            dx = discriminator(self.x)
            dg = discriminator(gz, reuse=True)
            xent = tf.nn.sigmoid_cross_entropy_with_logits
            self.d_loss_real = tf.reduce_mean(xent(logits=dx, labels=tf.ones_like(dx)))
            self.d_loss_fake = tf.reduce_mean(xent(logits=dg, labels=tf.zeros_like(dg)))
            self.g_loss = tf.reduce_mean(xent(logits=dg, labels=tf.ones_like(dg)))
            tvars = v1.trainable_variables()
            d_vars = [v for v in tvars if "d_" in v.name]
            g_vars = [v for v in tvars if "g_" in v.name or "bn" in v.name]
            self.d_trainer_fake = v1.train.AdamOptimizer(3e-4).minimize(self.d_loss_fake, var_list=d_vars)
            self.d_trainer_real = v1.train.AdamOptimizer(3e-4).minimize(self.d_loss_real, var_list=d_vars)
            self.g_trainer = v1.train.AdamOptimizer(1e-4).minimize(self.g_loss, var_list=g_vars)
            self.sess = v1.Session(graph=self.graph)
            self.sess.run(v1.global_variables_initializer())

    def step(self, real: np.ndarray) -> None:
        z = self.rng.standard_normal((self.batch_size, self.z_dim)).astype(np.float32)
        self.sess.run(
            [self.d_trainer_real, self.d_trainer_fake, self.d_loss_real, self.d_loss_fake], {self.x: real, self.z: z}
        )
        z = self.rng.standard_normal((self.batch_size, self.z_dim)).astype(np.float32)
        self.sess.run(self.g_trainer, {self.z: z})

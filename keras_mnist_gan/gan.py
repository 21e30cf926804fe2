"""`GAN`: a `keras.Model` whose `fit` plays the adversarial game.

One `train_step` is one round of the original algorithm:

1. the discriminator D sees a batch of real digits (label 1) and a batch of
   generated ones (label 0) and takes one optimizer step;
2. the generator G draws fresh noise and takes one step towards making D say
   1 on its digits (the "non-saturating" loss: it keeps a gradient even when
   D is confident, unlike minimising log(1 - D(G(z)))).

Each optimizer only ever sees its own network's variables.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Args:
        discriminator: maps (28, 28, 1) images in [0, 1] to one logit each.
        generator: maps (noise_dim,) standard-normal noise to (28, 28, 1)
            images in [0, 1].
        seed: seeds the noise drawn during training (reproducible runs).
        ema_decay: if given (e.g. 0.999), also keep ``ema_generator``, an
            exponential moving average of the generator's weights, updated
            after every generator step. Sampling (`generate`, `sampler`, the
            CLI's ``generator.keras``) then uses the average: it smooths out
            the step-to-step wobble of the adversarial game, which makes
            visibly cleaner digits at no training cost.
    """

    def __init__(
        self,
        discriminator: keras.Model,
        generator: keras.Model,
        seed: int | None = None,
        ema_decay: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.discriminator = discriminator
        self.generator = generator
        self.noise_dim = int(generator.input_shape[-1])
        if tuple(generator.output_shape[1:]) != tuple(discriminator.input_shape[1:]):
            raise ValueError(
                f"The generator makes images of shape {generator.output_shape[1:]} but the "
                f"discriminator expects {discriminator.input_shape[1:]}."
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Training rounds done, and the round from which G trains (D trains
        # alone before it: see DiscriminatorWarmup). Variables, not Python
        # ints, so changing them never retraces the compiled step and they
        # are saved with the model.
        self.step = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="step")
        self.generator_start = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False, name="generator_start"
        )
        # Whether the compiled step leaves G alone (D's warm-up). A Python
        # flag, not a tensor: under tf.distribute an optimizer step cannot sit
        # inside a tf.cond, so the step is traced once per mode instead.
        self._generator_frozen = False
        if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1); got {ema_decay}.")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_generator = None
        if self.ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        self.built = True

    @property
    def sampler(self) -> keras.Model:
        """The network that draws digits: the weight average if kept, else G."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def set_generator_frozen(self, frozen: bool) -> None:
        """Train D alone (True) or both networks (False) from the next step on.

        Changing the mode retraces the step function once; staying in a mode
        costs nothing. `DiscriminatorWarmup` drives this.
        """
        frozen = bool(frozen)
        if frozen != self._generator_frozen:
            self._generator_frozen = frozen
            if getattr(self, "train_function", None) is not None:
                self.make_train_function(force=True)

    # --- compile --------------------------------------------------------------

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_fake_optimizer: keras.optimizers.Optimizer | None = None,
        label_smoothing: float = 0.0,
        r1_gamma: float = 0.0,
        jit_compile: bool | str = "auto",
        **kwargs,
    ) -> None:
        """Set the optimizers.

        Args:
            d_optimizer: the discriminator's optimizer (default Adam 3e-4).
                Steps on ``d_loss_real + d_loss_fake``, or on ``d_loss_real``
                alone when ``d_fake_optimizer`` is given.
            g_optimizer: the generator's optimizer (default Adam 1e-4).
            d_fake_optimizer: a second discriminator optimizer that steps on
                ``d_loss_fake`` alone. The original design trained D this
                way, with two Adam optimizers; pass one to reproduce it.
            label_smoothing: one-sided label smoothing: real digits are
                labelled ``1 - label_smoothing`` for D (fakes stay 0).
            r1_gamma: weight of the R1 gradient penalty (Mescheder et al.
                2018), ``r1_gamma / 2 * E ||grad_x D(x)||^2`` over real digits,
                added to D's loss: it stops D from growing steep walls
                around the real digits, which keeps the generator's gradient
                alive. 0 turns it off (the original design had none); it
                costs one more backward pass through D per step.
            jit_compile: compile the whole step with XLA; Keras's "auto"
                turns it off on CPU-only machines, where XLA's convolutions
                are slower than TensorFlow's oneDNN ones.
        """
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}.")
        if not 0.0 <= float(r1_gamma) < float("inf"):
            raise ValueError(f"r1_gamma must be a finite number >= 0; got {r1_gamma}.")
        self.r1_gamma = float(r1_gamma)
        # No optimizer for the Model itself: D and G each have their own.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(3e-4)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-4)
        self.d_fake_optimizer = d_fake_optimizer
        self.label_smoothing = float(label_smoothing)
        # A Loss object (rather than a bare function) divides by the global
        # batch under tf.distribute, so gradients sum correctly over replicas.
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_real_tracker = keras.metrics.Mean(name="d_loss_real")
        self.d_loss_fake_tracker = keras.metrics.Mean(name="d_loss_fake")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.BinaryAccuracy(name="d_acc_real", threshold=0.0)
        self.d_acc_fake_tracker = keras.metrics.BinaryAccuracy(name="d_acc_fake", threshold=0.0)
        self.d_r1_tracker = keras.metrics.Mean(name="d_r1") if self.r1_gamma > 0 else None
        # Build the optimizers' slots now: inside the compiled step they may
        # only be updated, not created.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        if self.d_fake_optimizer is not None:
            self.d_fake_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        # Listed here so Keras resets them at the start of each epoch.
        if not hasattr(self, "d_loss_real_tracker"):
            return []
        trackers = [
            self.d_loss_real_tracker,
            self.d_loss_fake_tracker,
            self.g_loss_tracker,
            self.d_acc_real_tracker,
            self.d_acc_fake_tracker,
        ]
        return trackers + ([self.d_r1_tracker] if self.d_r1_tracker is not None else [])

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return None
        ser = keras.saving.serialize_keras_object
        return {
            "d_optimizer": ser(self.d_optimizer),
            "g_optimizer": ser(self.g_optimizer),
            "d_fake_optimizer": None if self.d_fake_optimizer is None else ser(self.d_fake_optimizer),
            "label_smoothing": self.label_smoothing,
            "r1_gamma": self.r1_gamma,
            "jit_compile": self.jit_compile,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer", "d_fake_optimizer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        # Builds the optimizer variables, which loading then fills in.
        self.compile(**config)

    # --- training -------------------------------------------------------------

    def sample_noise(self, n):
        return keras.random.normal((n, self.noise_dim), seed=self.seed_generator)

    def train_step(self, data):
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = ops.shape(real)[0]
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables

        # --- discriminator: real -> 1, fake -> 0.
        fake = self.generator(self.sample_noise(batch), training=True)
        real_labels = ops.full((batch, 1), 1.0 - self.label_smoothing)
        split = self.d_fake_optimizer is not None
        r1 = self.r1_gamma > 0
        with tf.GradientTape(persistent=split) as tape:
            if split or r1:
                # Separate calls, so each loss's gradient runs back through
                # its own half of the digits only (and R1 can differentiate
                # the real logits with respect to the real pixels).
                with tf.GradientTape(watch_accessed_variables=False) as input_tape:
                    input_tape.watch(real)
                    real_logits = self.discriminator(real, training=True)
                    real_logit_sum = ops.sum(real_logits)  # inside: the tape must see it
                fake_logits = self.discriminator(fake, training=True)
            else:
                # One call on the stacked batch: D has no batch statistics,
                # so this equals two calls, and larger matmuls run faster.
                logits = self.discriminator(ops.concatenate([real, fake], axis=0), training=True)
                real_logits, fake_logits = logits[:batch], logits[batch:]
            d_loss_real = self.loss_fn(real_labels, real_logits)
            d_loss_fake = self.loss_fn(ops.zeros_like(fake_logits), fake_logits)
            if r1:
                slopes = input_tape.gradient(real_logit_sum, real)
                penalty = 0.5 * self.r1_gamma * ops.mean(ops.sum(ops.square(slopes), axis=(1, 2, 3)))
                # Scaled like the Loss objects' values, for tf.distribute.
                penalty = _scale(penalty)
                d_loss_real = d_loss_real + penalty
            d_loss = d_loss_real + d_loss_fake
        if not split:
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        else:
            # The original's two trainers: both gradients at the same weights.
            grads_real = tape.gradient(d_loss_real, d_vars)
            grads_fake = tape.gradient(d_loss_fake, d_vars)
            self.d_optimizer.apply_gradients(zip(grads_real, d_vars))
            self.d_fake_optimizer.apply_gradients(zip(grads_fake, d_vars))
            del tape

        # --- generator: make D say 1 on fresh fakes. Skipped while D warms
        # up alone; its loss is then reported from D's pass above.
        if self._generator_frozen:
            g_loss = self.loss_fn(ops.ones_like(fake_logits), fake_logits)
        else:
            with tf.GradientTape() as g_tape:
                g_logits = self.discriminator(
                    self.generator(self.sample_noise(batch), training=True), training=True
                )
                g_loss = self.loss_fn(ops.ones_like(g_logits), g_logits)
            self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
            if self.ema_generator is not None:
                self._update_ema()
        self.step.assign_add(1)

        if r1:
            self.d_r1_tracker.update_state(_unscale(penalty))
            d_loss_real = d_loss_real - penalty  # report the cross-entropy alone
        self.d_loss_real_tracker.update_state(_unscale(d_loss_real))
        self.d_loss_fake_tracker.update_state(_unscale(d_loss_fake))
        self.g_loss_tracker.update_state(_unscale(g_loss))
        self.d_acc_real_tracker.update_state(ops.ones_like(real_logits), real_logits)
        self.d_acc_fake_tracker.update_state(ops.zeros_like(fake_logits), fake_logits)
        return {m.name: m.result() for m in self.metrics}

    def _update_ema(self):
        # Early on a plain average would be dominated by the random initial
        # weights; the decay ramps up with the number of generator steps
        # (as in tf.train.ExponentialMovingAverage's num_updates).
        n = ops.cast(ops.maximum(self.step - self.generator_start, 0), "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        for avg, var in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            avg.assign(avg * decay + ops.cast(var, avg.dtype) * (1.0 - decay))

    # --- sampling -------------------------------------------------------------

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def generate(self, n: int, seed: int | None = None, batch_size: int = 500) -> np.ndarray:
        """``n`` digits as a float32 array (n, 28, 28, 1) in [0, 1].

        Uses the generator in inference mode: BatchNormalization applies its
        moving statistics, so each digit depends only on its own noise, not on
        the other digits drawn with it, and the same seed gives the same
        digits whatever ``batch_size`` is. Call `calibrate_batchnorm` after
        training first (the CLI's runs do, through `CalibrateBatchNorm`).
        """
        return generate(self.sampler, n, seed=seed, batch_size=batch_size)

    def calibrate_batchnorm(self, n: int = 512, seed: int = 0) -> None:
        """Set the BatchNorm moving statistics of the generator (and of its
        weight average) to their current ones.

        See `calibrate_batchnorm` (the function).
        """
        calibrate_batchnorm(self.generator, n=n, seed=seed)
        if self.ema_generator is not None:
            calibrate_batchnorm(self.ema_generator, n=n, seed=seed)

    # --- saving ---------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            generator=keras.saving.serialize_keras_object(self.generator),
            seed=self.seed,
            ema_decay=self.ema_decay,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        return cls(**config)

    # Keras saves neither a SeedGenerator's state nor the metrics'; we do, so
    # a resumed run draws the noise it would have drawn had it never stopped,
    # and the epoch it was stopped in reports averages over all its steps.
    _METRIC_PREFIX = "metric_state:"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state.numpy()
        for metric in self.metrics:
            store[self._METRIC_PREFIX + metric.name] = np.array([v.numpy() for v in metric.variables], "float64")

    def load_own_variables(self, store):
        keys = list(store.keys())
        state = store["seed_generator_state"] if "seed_generator_state" in keys else None
        self.saved_metric_states = {k[len(self._METRIC_PREFIX):]: np.asarray(store[k])
                                    for k in keys if k.startswith(self._METRIC_PREFIX)}
        own = {k: store[k] for k in keys if k != "seed_generator_state" and not k.startswith(self._METRIC_PREFIX)}
        super().load_own_variables(own)
        if state is not None:
            self.seed_generator.state.assign(np.asarray(state))

    def restore_metric_states(self) -> bool:
        """Put back the metric totals saved with the checkpoint (`fit` resets
        metrics at each epoch start, so call this after that: see
        `ContinueEpoch`). Returns whether there were any to restore."""
        saved = getattr(self, "saved_metric_states", None) or {}
        for metric in self.metrics:
            if metric.name in saved and len(saved[metric.name]) == len(metric.variables):
                for var, value in zip(metric.variables, saved[metric.name]):
                    var.assign(ops.cast(value, var.dtype))
        self.saved_metric_states = {}
        return bool(saved)


def _scale(value):
    from keras.src.losses.loss import scale_loss_for_distribution

    return scale_loss_for_distribution(value)


def _unscale(value):
    from keras.src.losses.loss import unscale_loss_for_distribution

    # Loss objects divide by the replica count under tf.distribute; the
    # trackers want the per-example mean, as in Keras's own train_step.
    return unscale_loss_for_distribution(value)


def calibrate_batchnorm(generator: keras.Model, n: int = 512, seed: int = 0) -> None:
    """Replace every BatchNorm layer's moving mean and variance by the exact
    statistics of ``n`` generated digits under the current weights (512
    digits are 400,000 pixels per channel at 28x28: plenty, and a bigger
    batch only costs memory).

    The moving averages lag behind a generator that changes every step (and
    start at mean 0, variance 1): sampled in inference mode early in a run
    they shrink the signal at each BatchNorm until every digit is the same
    grey square. One training-mode pass over a large batch, with momentum 0,
    writes the population statistics instead ("precise BatchNorm"); after
    it, inference mode draws what training mode draws, digit by digit.
    """
    bns = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    noise = np.random.default_rng(seed).standard_normal((int(n), int(generator.input_shape[-1]))).astype("float32")
    momenta = [bn.momentum for bn in bns]
    try:
        for bn in bns:
            bn.momentum = 0.0
        generator(noise, training=True)
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m


def generate(generator: keras.Model, n: int, seed: int | None = None, batch_size: int = 500,
             chunk: int = 10_000) -> np.ndarray:
    """Draw ``n`` digits from ``generator`` (inference mode), float32 in [0, 1].

    Works through ``chunk`` digits at a time (rounded to whole batches) into
    one preallocated array, so memory holds the result once rather than the
    noise, the predicted batches and their concatenation all at the same time.
    The digits are those of one ``predict`` on all the noise: a Generator's
    successive ``standard_normal`` calls continue the same stream, and the
    batches are the same.
    """
    n, batch_size = int(n), int(batch_size)
    if n < 1:
        raise ValueError(f"n must be a positive number of digits; got {n}.")
    noise_dim = int(generator.input_shape[-1])
    rng = np.random.default_rng(seed)
    step = batch_size * max(1, int(chunk) // batch_size)
    out = None
    for start in range(0, n, step):
        noise = rng.standard_normal((min(step, n - start), noise_dim)).astype("float32")
        part = generator.predict(noise, batch_size=batch_size, verbose=0)
        if out is None:
            out = np.empty((n, *part.shape[1:]), np.float32)
        out[start:start + len(part)] = part
    return out

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
from keras import ops

from . import backend, losses
from .models import noise_dim_of, num_classes_of
from .noise import draw_noise, noise_stream
from .presets import PRESETS


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
        self.noise_dim = noise_dim_of(generator)
        # Conditional models take labels (see models.py); both or neither.
        self.num_classes = num_classes_of(generator)
        if self.num_classes != num_classes_of(discriminator):
            raise ValueError(f"The generator takes labels of {self.num_classes} classes but the discriminator of "
                             f"{num_classes_of(discriminator)}: both must be conditional on the same classes, or neither.")
        image_shape = tuple(discriminator.inputs[0].shape[1:])
        if tuple(generator.output_shape[1:]) != image_shape:
            raise ValueError(
                f"The generator makes images of shape {generator.output_shape[1:]} but the "
                f"discriminator expects {image_shape}."
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Training rounds done, and the round from which G trains (D trains
        # alone before it: see DiscriminatorWarmup). Variables, not Python
        # ints, so changing them never retraces the compiled step and they
        # are saved with the model. int32: JAX has no int64 by default.
        self.step = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="step")
        self.generator_start = self.add_weight(
            shape=(), dtype="int32", initializer="zeros", trainable=False, name="generator_start"
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
    def _backend(self):
        return backend.current()

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
        # Saved as asked, not as resolved: "auto" means XLA on JAX and not on
        # PyTorch (torch.compile cannot differentiate R1's gradient again).
        self._jit_compile_asked = jit_compile
        # The defaults are the seed recipe's rates (presets.PRESETS["seed"]).
        seed_recipe = PRESETS["seed"]
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(seed_recipe.lr_d)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(seed_recipe.lr_g)
        self.d_fake_optimizer = d_fake_optimizer
        self.label_smoothing = float(label_smoothing)
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
        self._backend.attach_optimizers(self, [self.d_optimizer, self.g_optimizer, self.d_fake_optimizer])

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
        ser = lambda o: _portable(keras.saving.serialize_keras_object(o))  # noqa: E731
        return {
            "d_optimizer": ser(self.d_optimizer),
            "g_optimizer": ser(self.g_optimizer),
            "d_fake_optimizer": None if self.d_fake_optimizer is None else ser(self.d_fake_optimizer),
            "label_smoothing": self.label_smoothing,
            "r1_gamma": self.r1_gamma,
            "jit_compile": self._jit_compile_asked,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer", "d_fake_optimizer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(_portable(config[key]))
        # Builds the optimizer variables, which loading then fills in.
        self.compile(**config)

    # --- training -------------------------------------------------------------

    def sample_noise(self, n):
        return keras.random.normal((n, self.noise_dim), seed=self.seed_generator)

    def train_step(self, *args):
        # Keras calls this with a batch; on JAX with the model's state too,
        # which `backend.jax` maps onto the variables around the same step.
        return self._backend.train_step(self, self.adversarial_step, *args)

    def adversarial_step(self, data):
        """One round of the game on a batch of real digits: D step, G step,
        trackers. The seed recipe's pieces (a second D optimizer, R1, the
        warm-up, the weight average) each sit in their own method."""
        real, labels = self._unpack(data)
        batch = ops.shape(real)[0]
        fake = ops.stop_gradient(self._G(self.sample_noise(batch), labels))
        d_logs = self._discriminator_step(real, fake, labels)
        if self._generator_frozen:
            # D warms up alone; G's loss is still reported, from D's pass.
            g_loss = losses.generator_loss(d_logs["fake_logits"])
        else:
            g_loss = self._generator_step(self.sample_noise(batch), labels)
            if self.ema_generator is not None:
                self._update_ema()
        self.step.assign_add(1)

        self.d_loss_real_tracker.update_state(d_logs["real_loss"])
        self.d_loss_fake_tracker.update_state(d_logs["fake_loss"])
        self.g_loss_tracker.update_state(g_loss)
        self.d_acc_real_tracker.update_state(ops.ones_like(d_logs["real_logits"]), d_logs["real_logits"])
        self.d_acc_fake_tracker.update_state(ops.zeros_like(d_logs["fake_logits"]), d_logs["fake_logits"])
        if self.d_r1_tracker is not None:
            self.d_r1_tracker.update_state(d_logs["r1"])
        return {m.name: m.result() for m in self.metrics}

    def _unpack(self, data):
        """A batch is images, or (images, labels) for conditional models:
        the fakes of a step are drawn for the real digits' labels."""
        if not isinstance(data, (tuple, list)):
            data = (data,)
        if self.num_classes is None:
            return data[0], None
        if len(data) < 2 or data[1] is None:
            raise ValueError("a conditional GAN trains on (images, labels) batches.")
        return data[0], ops.cast(ops.reshape(data[1], (-1,)), "int32")

    def _G(self, noise, labels):
        return self.generator(noise if labels is None else [noise, labels], training=True)

    def _D(self, images, labels):
        return self.discriminator(images if labels is None else [images, labels], training=True)

    def _discriminator_step(self, real, fake, labels=None):
        """D learns real -> 1, fake -> 0. With ``d_fake_optimizer`` (the
        original's two trainers) each half has its own gradient and
        optimizer, both taken at the same weights."""
        d_vars = self.discriminator.trainable_variables
        losses_of = lambda r, f: lambda: self._discriminator_losses(r, f, labels)  # noqa: E731
        if self.d_fake_optimizer is None:
            (_, logs), grads = self._backend.value_and_grad(losses_of(real, fake), d_vars)
            self._backend.apply_gradients(self.d_optimizer, grads, d_vars)
            return logs
        (_, logs), real_grads = self._backend.value_and_grad(losses_of(real, None), d_vars)
        (_, fake_logs), fake_grads = self._backend.value_and_grad(losses_of(None, fake), d_vars)
        self._backend.apply_gradients(self.d_optimizer, real_grads, d_vars)
        self._backend.apply_gradients(self.d_fake_optimizer, fake_grads, d_vars)
        return {**logs, **fake_logs}

    def _discriminator_losses(self, real, fake, labels=None):
        """D's loss on ``real`` and/or ``fake`` digits, and what to report."""
        D = lambda x: self._D(x, labels)  # noqa: E731
        logs, loss = {}, 0.0
        if real is not None and fake is not None and not self.r1_gamma:
            # One call on the stacked batch: D has no batch statistics, so
            # this equals two calls, and larger matmuls run faster.
            both = None if labels is None else ops.concatenate([labels, labels], axis=0)
            logits = self._D(ops.concatenate([real, fake], axis=0), both)
            logs["real_logits"], logs["fake_logits"] = logits[: ops.shape(real)[0]], logits[ops.shape(real)[0]:]
        else:
            if real is not None:
                if self.r1_gamma:
                    logs["real_logits"], slopes = self._backend.input_gradient(D, real)
                    logs["r1"] = losses.r1_penalty(slopes, self.r1_gamma)
                    loss = loss + logs["r1"]
                else:
                    logs["real_logits"] = D(real)
            if fake is not None:
                logs["fake_logits"] = D(fake)
        if real is not None:
            logs["real_loss"] = losses.discriminator_real_loss(logs["real_logits"], self.label_smoothing)
            loss = loss + logs["real_loss"]
        if fake is not None:
            logs["fake_loss"] = losses.discriminator_fake_loss(logs["fake_logits"])
            loss = loss + logs["fake_loss"]
        return loss, logs

    def _generator_step(self, noise, labels=None):
        """G learns to make D say 1 on fresh digits."""
        g_vars = self.generator.trainable_variables

        def loss_fn():
            logits = self._D(self._G(noise, labels), labels)
            return losses.generator_loss(logits), {}

        (loss, _), grads = self._backend.value_and_grad(loss_fn, g_vars)
        self._backend.apply_gradients(self.g_optimizer, grads, g_vars)
        return loss

    def _update_ema(self):
        # Early on a plain average would be dominated by the random initial
        # weights; the decay ramps up with the number of generator steps
        # (as in tf.train.ExponentialMovingAverage's num_updates).
        n = ops.cast(ops.maximum(self.step - self.generator_start, 0), "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        for avg, var in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            avg.assign(avg * decay + ops.cast(var, avg.dtype) * (1.0 - decay))

    # --- sampling -------------------------------------------------------------

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generate(self, n: int, seed: int | None = None, batch_size: int = 500, labels=None) -> np.ndarray:
        """``n`` digits as a float32 array (n, 28, 28, 1) in [0, 1].

        Uses the generator in inference mode: BatchNormalization applies its
        moving statistics, so each digit depends only on its own noise, not on
        the other digits drawn with it, and the same seed gives the same
        digits whatever ``batch_size`` is. Call `calibrate_batchnorm` after
        training first (the CLI's runs do, through `CalibrateBatchNorm`).
        ``labels`` (conditional models): the digit to draw, one int for all
        or one per digit; by default 0, 1, ..., 9, 0, 1, ... in turn.
        """
        return generate(self.sampler, n, seed=seed, batch_size=batch_size, labels=labels)

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


def _portable(config: dict) -> dict:
    """An optimizer's config that loads on any backend. Keras records some
    built-in optimizers under their backend's module (PyTorch's Adam as
    ``keras.src.backend.torch.optimizers.torch_adam``), which would bring a
    PyTorch optimizer into a TensorFlow process; ``keras.optimizers.Adam``
    is the same optimizer for whichever backend loads it."""
    module = str(config.get("module") or "")
    if module.startswith("keras.src.backend.") and hasattr(keras.optimizers, config.get("class_name", "")):
        config = {**config, "module": "keras.optimizers"}
    return config


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
    bns = [layer for layer in _layers_within(generator) if isinstance(layer, keras.layers.BatchNormalization)]
    noise = np.random.default_rng(seed).standard_normal((int(n), noise_dim_of(generator))).astype("float32")
    momenta = [bn.momentum for bn in bns]
    try:
        for bn in bns:
            bn.momentum = 0.0
        generator(generator_inputs(generator, noise), training=True)  # every class in turn
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m


def _layers_within(model: keras.Model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers_within(layer)


def generator_inputs(generator: keras.Model, noise: np.ndarray, labels=None):
    """What ``generator`` takes for ``noise``: the noise itself, or
    ``[noise, labels]`` for a conditional generator, ``labels`` one int for
    every digit or one per digit (default 0, 1, ..., 9, 0, 1, ... in turn)."""
    classes = num_classes_of(generator)
    if classes is None:
        if labels is not None:
            raise ValueError("this generator is unconditional: it draws digits of no particular class, so it "
                             "takes no labels.")
        return noise
    if labels is None:
        labels = np.arange(len(noise)) % classes
    labels = np.broadcast_to(np.asarray(labels), (len(noise),))
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"labels must be whole numbers from 0 to {classes - 1}.")
    return [noise, labels.astype("int32")]


def generate(generator: keras.Model, n: int, seed: int | None = None, batch_size: int = 500,
             chunk: int = 10_000, labels=None) -> np.ndarray:
    """Draw ``n`` digits from ``generator`` (inference mode), float32 in [0, 1].

    Works through ``chunk`` digits at a time (rounded to whole batches) into
    one preallocated array, so memory holds the result once rather than the
    noise, the predicted batches and their concatenation all at the same time.
    The digits are those of one ``predict`` on all the noise: successive
    draws continue the same stream (`keras_mnist_gan.noise`, which the web
    page reproduces), and the batches are the same.
    """
    n, batch_size = int(n), int(batch_size)
    if n < 1:
        raise ValueError(f"n must be a positive number of digits; got {n}.")
    noise_dim = noise_dim_of(generator)
    stream = noise_stream(seed)
    if num_classes_of(generator) is not None:
        labels = generator_inputs(generator, np.empty((n, 0)), labels)[1]  # checked, one per digit
    else:
        generator_inputs(generator, np.empty((0, 0)), labels)  # refuses labels
    step = batch_size * max(1, int(chunk) // batch_size)
    out = None
    for start in range(0, n, step):
        noise = draw_noise(stream, min(step, n - start), noise_dim)
        part_labels = None if labels is None else labels[start:start + len(noise)]
        part = generator.predict(generator_inputs(generator, noise, part_labels), batch_size=batch_size, verbose=0)
        if out is None:
            out = np.empty((n, *part.shape[1:]), np.float32)
        out[start:start + len(part)] = part
    return out

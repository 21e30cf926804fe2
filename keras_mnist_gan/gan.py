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

from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from . import losses
from .backend import require_training_backend, step_backend
from .models import noise_dim_of, num_classes_of
from .presets import PRESETS
from .sampling import CALIBRATION_DIGITS, calibrate_batchnorm, generate


class Phases(NamedTuple):
    """The parts of the game one step plays (StyleGAN2's phases): D always
    takes its step; G trains after D's warm-up; the R1 penalty joins D's
    loss on regularisation steps only (lazy regularisation)."""

    train_generator: bool = True
    regularize: bool = False


class _ReadSchedule(keras.callbacks.Callback):
    """Reads the step counter and G's start into the step dispatch at train
    begin: a callback, because on JAX the variables can be read only there
    during `fit` (its trainer holds their values outside them)."""

    def on_train_begin(self, logs=None):
        gan = self.model
        dispatch = gan.train_function
        dispatch.clock.update(step=int(gan.step.numpy()), generator_start=int(gan.generator_start.numpy()))
        # Every phase's function made now, while the variables hold their
        # values (JAX's, under a distribution, reads their shardings); each
        # is traced at its first call only.
        for phases in gan.possible_phases():
            if phases not in dispatch.compiled:
                dispatch.compiled[phases] = gan._compile_step(phases)
        gan.train_function = dispatch


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
            raise ValueError(
                f"The generator takes labels of {self.num_classes} classes but the discriminator of "
                f"{num_classes_of(discriminator)}: both must be conditional on the same classes, or neither."
            )
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
        # Which parts of the game the next compiled step plays (see
        # `Phases`); `make_train_function` sets it before each step.
        self._phases = Phases()
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

    def phases_at(self, step: int, generator_start: int) -> "Phases":
        """What the step numbered ``step`` does: G trains from
        ``generator_start`` on (D warms up alone before it), and the R1
        penalty is taken every ``r1_interval`` D steps."""
        interval = getattr(self, "r1_interval", 1)
        return Phases(
            train_generator=step >= generator_start,
            regularize=bool(getattr(self, "r1_gamma", 0.0)) and step % interval == 0,
        )

    def possible_phases(self) -> list["Phases"]:
        regularize = [False, True] if getattr(self, "r1_gamma", 0.0) else [False]
        return [Phases(g, r) for g in (False, True) for r in regularize]

    def make_train_function(self, force=False):
        """Keras's compiled step, once per `Phases`: each step runs the one
        its phases call for. A phase change picks another compiled function
        and never retraces (R1 every 16 steps would otherwise trace every
        16 steps); the dispatch reads the step counter once per `fit` (see
        `_ReadSchedule`), then counts in Python, so it costs nothing per step
        on any backend."""
        if self.train_function is not None and not force:
            return self.train_function
        compiled = {}
        clock = {}  # set at each fit's start by _ReadSchedule

        def train_function(*args):
            phases = self.phases_at(clock["step"], clock["generator_start"])
            if phases not in compiled:
                compiled[phases] = self._compile_step(phases)
                self.train_function = train_function
            clock["step"] += self.steps_per_execution
            # PyTorch's trainer looks `train_step` up at each call, not once.
            self._phases = phases
            return compiled[phases](*args)

        train_function.clock = clock
        train_function.compiled = compiled
        self.train_function = train_function
        return train_function

    def _compile_step(self, phases: "Phases"):
        """Keras's compiled step for ``phases``. Keras compiles
        ``self.train_step``; here it gets a function of its own per phase
        set, which sets the phases whenever it is traced: a JAX or
        TensorFlow compile cache keyed by the function never hands one
        phase's program to another."""

        def train_step(*args):
            self._phases = phases
            return GAN.train_step(self, *args)

        self.train_step = train_step
        try:
            super().make_train_function(force=True)
        finally:
            del self.train_step
        return self.train_function

    def fit(self, *args, **kwargs):
        # Last, so that it reads the schedule the other callbacks (the
        # warm-up) set at train begin.
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _ReadSchedule()]
        return super().fit(*args, **kwargs)

    # --- compile --------------------------------------------------------------

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_fake_optimizer: keras.optimizers.Optimizer | None = None,
        label_smoothing: float = 0.0,
        r1_gamma: float = 0.0,
        r1_interval: int = 1,
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
                costs one more backward pass through D per step it runs.
            r1_interval: take the R1 penalty every ``r1_interval`` steps,
                weighted by ``r1_interval`` (StyleGAN2's lazy
                regularisation): the same pull on D's slopes on average at
                a fraction of the cost. The penalty joins the main loss of
                that step, so D takes no extra optimizer steps and its rates
                need no rescaling.
            jit_compile: compile the whole step with XLA; Keras's "auto"
                turns it off on CPU-only machines, where XLA's convolutions
                are slower than TensorFlow's oneDNN ones.
        """
        require_training_backend()
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}.")
        if not 0.0 <= float(r1_gamma) < float("inf"):
            raise ValueError(f"r1_gamma must be a finite number >= 0; got {r1_gamma}.")
        if int(r1_interval) < 1:
            raise ValueError(f"r1_interval must be a whole number >= 1; got {r1_interval}.")
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = int(r1_interval)
        # No optimizer for the Model itself: D and G each have their own.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.train_function = None  # the step's settings may have changed
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
        step_backend.attach_optimizers(self, [self.d_optimizer, self.g_optimizer, self.d_fake_optimizer])

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
            "r1_interval": self.r1_interval,
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
        return step_backend.train_step(self, self.adversarial_step, *args)

    def adversarial_step(self, data):
        """One round of the game on a batch of real digits: D step, G step,
        trackers. The seed recipe's pieces (a second D optimizer, R1, the
        warm-up, the weight average) each sit in their own method."""
        real, labels = self._unpack(data)
        batch = ops.shape(real)[0]
        fake = ops.stop_gradient(self._G(self.sample_noise(batch), labels))
        d_logs = self._discriminator_step(real, fake, labels)
        if not self._phases.train_generator:
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
        if "r1" in d_logs:
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
            (_, logs), grads = step_backend.value_and_grad(losses_of(real, fake), d_vars)
            step_backend.apply_gradients(self.d_optimizer, grads, d_vars)
            return logs
        (_, logs), real_grads = step_backend.value_and_grad(losses_of(real, None), d_vars)
        (_, fake_logs), fake_grads = step_backend.value_and_grad(losses_of(None, fake), d_vars)
        step_backend.apply_gradients(self.d_optimizer, real_grads, d_vars)
        step_backend.apply_gradients(self.d_fake_optimizer, fake_grads, d_vars)
        return {**logs, **fake_logs}

    def _discriminator_losses(self, real, fake, labels=None):
        """D's loss on ``real`` and/or ``fake`` digits, and what to report."""
        D = lambda x: self._D(x, labels)  # noqa: E731
        logs, loss = {}, 0.0
        regularize = self._phases.regularize
        if real is not None and fake is not None and not regularize:
            # One call on the stacked batch: D has no batch statistics, so
            # this equals two calls, and larger matmuls run faster.
            both = None if labels is None else ops.concatenate([labels, labels], axis=0)
            logits = self._D(ops.concatenate([real, fake], axis=0), both)
            logs["real_logits"], logs["fake_logits"] = logits[: ops.shape(real)[0]], logits[ops.shape(real)[0] :]
        else:
            if real is not None:
                if regularize:
                    logs["real_logits"], slopes = step_backend.input_gradient(D, real)
                    logs["r1"] = losses.r1_penalty(slopes, self.r1_gamma)
                    loss = loss + self.r1_interval * logs["r1"]
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

        (loss, _), grads = step_backend.value_and_grad(loss_fn, g_vars)
        step_backend.apply_gradients(self.g_optimizer, grads, g_vars)
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

    def generate(
        self, n: int, seed: int | None = None, batch_size: int = 500, labels=None, return_labels: bool = False
    ):
        """``n`` digits as a float32 array (n, 28, 28, 1) in [0, 1].

        Uses the generator in inference mode: BatchNormalization applies its
        moving statistics, so each digit depends only on its own noise, not on
        the other digits drawn with it, and the same seed gives the same
        digits whatever ``batch_size`` is. Call `calibrate_batchnorm` after
        training first (the CLI's runs do, through `CalibrateBatchNorm`).
        ``labels`` (conditional models): the digit to draw, one int for all
        or one per digit; by default each digit's class at random. See
        `sampling.generate`.
        """
        return generate(self.sampler, n, seed=seed, batch_size=batch_size, labels=labels, return_labels=return_labels)

    def calibrate_batchnorm(self, n: int = CALIBRATION_DIGITS, seed: int = 0) -> None:
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
        self.saved_metric_states = {
            k[len(self._METRIC_PREFIX) :]: np.asarray(store[k]) for k in keys if k.startswith(self._METRIC_PREFIX)
        }
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

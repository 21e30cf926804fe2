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
from keras import ops

from . import losses
from .compile_config import compile_arguments, compile_config
from .backend import require_training_backend, step_backend
from .models import check_pair, noise_dim_of
from .presets import SEED_RECIPE
from .run_state import RunState
from .sampling import Sampling
from .schedule import PhasedTraining, Schedule
from .trackers import GameTrackers
from .weight_average import make_average, update_average


@keras.saving.register_keras_serializable(package="keras_mnist_gan")
class GAN(PhasedTraining, GameTrackers, Sampling, RunState, keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Args:
        discriminator: maps (28, 28, 1) images in [0, 1] to one logit each.
        generator: maps (noise_dim,) standard-normal noise to (28, 28, 1)
            images in [0, 1].
        seed: seeds the noise drawn during training (reproducible runs).
        ema_decay: if given (e.g. 0.999), also keep ``ema_generator``, an
            average of G's weights over its steps, which `generate` and the
            saved ``generator.keras`` draw from: it smooths out the game's
            step-to-step wobble, for visibly cleaner digits at no cost.
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
        self.num_classes = check_pair(discriminator, generator)
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
        if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1); got {ema_decay}.")
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.ema_generator = None if self.ema_decay is None else make_average(generator)
        self.built = True

    # --- compile --------------------------------------------------------------

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_fake_optimizer: keras.optimizers.Optimizer | None = None,
        label_smoothing: float = 0.0,
        r1_gamma: float = 0.0,
        mode_seeking: float = 0.0,
        schedule: Schedule | None = None,
        jit_compile: bool | str = "auto",
        **kwargs,
    ) -> None:
        """Set the optimizers, the losses' settings and the schedule.

        Args:
            d_optimizer: the discriminator's optimizer (default Adam 3e-4).
                Steps on ``d_loss_real + d_loss_fake``, or on ``d_loss_real``
                alone when ``d_fake_optimizer`` is given.
            g_optimizer: the generator's optimizer (default Adam 1e-4).
            d_fake_optimizer: a second discriminator optimizer that steps on
                ``d_loss_fake`` alone: the original design trained D with two.
            label_smoothing: real digits are labelled ``1 - label_smoothing``
                for D (one-sided; fakes stay 0).
            r1_gamma: weight of the R1 penalty (Mescheder et al. 2018),
                ``r1_gamma / 2 * E ||grad_x D(x)||^2`` over real digits, added
                to D's loss: it stops D from growing steep walls around the
                real digits, which keeps G's gradient alive. 0: none (the
                original design had none).
            mode_seeking: weight of the mode-seeking term in G's loss
                (`losses.mode_seeking_loss`): each G batch is drawn in pairs
                of the same label and different noise, and G pays for pairs
                that look alike. 0: none.
            schedule: when R1 is taken and how the weight average warms up
                (`Schedule`; default R1 every step).
            jit_compile: XLA for the whole step; Keras's "auto" turns it off
                on CPU-only machines, where XLA's convolutions are slower
                than TensorFlow's oneDNN ones.
        """
        require_training_backend()
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1); got {label_smoothing}.")
        for name, value in (("r1_gamma", r1_gamma), ("mode_seeking", mode_seeking)):
            if not 0.0 <= float(value) < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0; got {value}.")
        self.r1_gamma, self.label_smoothing = float(r1_gamma), float(label_smoothing)
        self.mode_seeking = float(mode_seeking)
        self.schedule = schedule or Schedule()
        # No optimizer for the Model itself: D and G each have their own.
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.train_function = None  # the step's settings may have changed
        # Saved as asked, not as resolved: "auto" means XLA on JAX and not on
        # PyTorch (torch.compile cannot differentiate R1's gradient again).
        self._jit_compile_asked = jit_compile
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(SEED_RECIPE.lr_d)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(SEED_RECIPE.lr_g)
        self.d_fake_optimizer = d_fake_optimizer
        self._make_trackers(r1=self.r1_gamma > 0)
        # The optimizers' slots are built now: inside the compiled step they
        # may only be updated, not created.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        if self.d_fake_optimizer is not None:
            self.d_fake_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        step_backend.attach_optimizers(self, [self.d_optimizer, self.g_optimizer, self.d_fake_optimizer])

    def get_compile_config(self):
        return compile_config(self) if getattr(self, "compiled", False) else None

    def compile_from_config(self, config):
        # Builds the optimizer variables, which loading then fills in.
        self.compile(**compile_arguments(config))

    # --- training -------------------------------------------------------------

    def sample_noise(self, n):
        return keras.random.normal((n, self.noise_dim), seed=self.seed_generator)

    def train_step(self, *args):
        # Keras calls this with a batch; on JAX with the model's state too,
        # which `backend.jax` maps onto the variables around the same step.
        return step_backend.train_step(self, self.adversarial_step, *args)

    def adversarial_step(self, data):
        """One round of the game on a batch of real digits: D step, G step,
        weight average, trackers. Which of these run is the step's `Phases`
        (D's warm-up, lazy R1: see `schedule`)."""
        real, labels = unpack_batch(data, self.num_classes)
        batch = ops.shape(real)[0]
        fake = ops.stop_gradient(self._G(self.sample_noise(batch), labels))
        d_logs = self._discriminator_step(real, fake, labels)
        if self._phases.train_generator:
            g_loss = self._generator_step(self.sample_noise(batch), labels)
            if self.ema_generator is not None:
                decay = self.schedule.ema_decay(self.ema_decay, self.step - self.generator_start)
                update_average(self.ema_generator, self.generator, decay)
        else:  # D warms up alone; G's loss is still reported, from D's pass
            g_loss = losses.generator_loss(d_logs["fake_logits"])
        self.step.assign_add(1)
        return self._track(d_logs, g_loss)

    def _discriminator_step(self, real, fake, labels=None):
        """D learns real -> 1, fake -> 0. With ``d_fake_optimizer`` (the
        original's two trainers) each half has its own gradient and
        optimizer, both taken at the same weights."""
        d_vars = self.discriminator.trainable_variables
        regularize = self._phases.regularize
        settings = dict(
            labels=labels,
            label_smoothing=self.label_smoothing,
            r1_gamma=self.r1_gamma if regularize else 0.0,
            r1_weight=self.schedule.r1_interval,
            input_gradient=step_backend.input_gradient,
        )
        losses_of = lambda r, f: lambda: losses.discriminator_losses(self._D, r, f, **settings)  # noqa: E731
        if self.d_fake_optimizer is None:
            (_, logs), grads = step_backend.value_and_grad(losses_of(real, fake), d_vars)
            step_backend.apply_gradients(self.d_optimizer, grads, d_vars)
            return logs
        (_, logs), real_grads = step_backend.value_and_grad(losses_of(real, None), d_vars)
        (_, fake_logs), fake_grads = step_backend.value_and_grad(losses_of(None, fake), d_vars)
        step_backend.apply_gradients(self.d_optimizer, real_grads, d_vars)
        step_backend.apply_gradients(self.d_fake_optimizer, fake_grads, d_vars)
        return {**logs, **fake_logs}

    def _generator_step(self, noise, labels=None):
        """G learns to make D say 1 on fresh digits."""
        g_vars = self.generator.trainable_variables

        if self.mode_seeking and labels is not None:
            labels = losses.paired_labels(labels)

        def loss_fn():
            fake = self._G(noise, labels)
            loss = losses.generator_loss(self._D(fake, labels))
            if self.mode_seeking:
                loss = loss + self.mode_seeking * losses.mode_seeking_loss(fake, noise)
            return loss, {}

        (loss, _), grads = step_backend.value_and_grad(loss_fn, g_vars)
        step_backend.apply_gradients(self.g_optimizer, grads, g_vars)
        return loss

    def _G(self, noise, labels):
        return self.generator(noise if labels is None else [noise, labels], training=True)

    def _D(self, images, labels):
        return self.discriminator(images if labels is None else [images, labels], training=True)

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


def unpack_batch(data, num_classes: int | None):
    """A batch is images, or (images, labels) for conditional models: the
    fakes of a step are drawn for the real digits' labels."""
    if not isinstance(data, (tuple, list)):
        data = (data,)
    if num_classes is None:
        return data[0], None
    if len(data) < 2 or data[1] is None:
        raise ValueError("a conditional GAN trains on (images, labels) batches.")
    return data[0], ops.cast(ops.reshape(data[1], (-1,)), "int32")

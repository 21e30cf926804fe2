"""Watching the adversarial game for its two classic failures.

1. **The discriminator wins**: it tells every real and every generated digit
   apart, its sigmoid saturates and the generator's gradient vanishes; g_loss
   climbs while the digits stop improving (the original design's first
   known problem).
2. **The generator collapses**: it draws the same few shapes whatever the
   noise (its second known problem). A conditional generator can also
   collapse within its classes: every 3 the same 3, while the ten classes
   still look varied side by side; given the real digits' labels, the
   monitor compares each class with real digits of that class.

`GameHealth` checks both every ``window`` steps and warns once per episode
(again only after the game recovered and relapsed).
"""

from __future__ import annotations

import sys

import keras
import numpy as np

from .sampling import balanced_labels, generator_inputs

from .mnist_data import to_float
from .evaluation import mean_pairwise_distance

# Real digits the monitor compares the generated ones with.
HEALTH_DIGITS = 512
# Generated digits per class behind the within-class check.
DIGITS_PER_CLASS = 8


def diversity(images: np.ndarray) -> float:
    """Mean pixel-space L2 distance between all pairs of ``images`` (0 for fewer than 2)."""
    return mean_pairwise_distance(to_float(images)) if len(images) > 1 else 0.0


class GameHealth(keras.callbacks.Callback):
    """Warn when the discriminator is winning or the generator collapses.

    Args:
        real_images: a few hundred real digits; their diversity is the
            yardstick for the generator's.
        window: steps between checks; D's figures are averaged over the
            window.
        acc_threshold: D "wins" when its accuracy on both real and fake
            digits exceeds this over a whole window, g_loss is above
            ``g_loss_threshold`` (D gives generated digits under e^-4 = 2%
            odds) and still rising, for ``patience`` windows in a row.
        diversity_threshold: the generator "collapses" when 64 digits from
            fixed noise are less diverse than this fraction of real digits ...
        real_labels: the classes of ``real_images``; with them, and a
            conditional GAN, the monitor also draws ``DIGITS_PER_CLASS``
            digits of each class from fixed noise and warns, naming the
            classes, when a class's digits are less diverse than
            ``class_threshold`` of real digits of that class.
        grace_steps: both checks start after this many generator steps: a
            freshly initialised generator draws near-identical grey squares
            that any discriminator rejects, so the first few hundred steps
            of every game look like failure.
        stop_on_failure: also end training, with ``self.message`` saying why.
        log: where warnings go (default: stderr).

    Every warning is kept in ``self.events`` as (step, kind, text).
    """

    def __init__(
        self,
        real_images: np.ndarray,
        window: int = 200,
        acc_threshold: float = 0.99,
        g_loss_threshold: float = 4.0,
        patience: int = 2,
        diversity_threshold: float = 0.3,
        grace_steps: int = 500,
        n: int = 64,
        seed: int = 0,
        stop_on_failure: bool = False,
        log=None,
        real_labels: np.ndarray | None = None,
        class_threshold: float = 0.5,
    ):
        super().__init__()
        if int(window) < 1:
            raise ValueError(f"window must be at least 1 step; got {window}.")
        rng = np.random.default_rng(seed)
        real = to_float(real_images)
        self.real_diversity = diversity(real[rng.choice(len(real), size=min(n, len(real)), replace=False)])
        # Each class's real diversity, for the classes with two real digits or more.
        self.class_diversity = {}
        if real_labels is not None:
            real_labels = np.asarray(real_labels).reshape(-1)
            for c in np.unique(real_labels):
                if (real_labels == c).sum() >= 2:
                    self.class_diversity[int(c)] = diversity(real[real_labels == c][:n])
        self.class_threshold = float(class_threshold)
        self.window = int(window)
        self.acc_threshold = float(acc_threshold)
        self.g_loss_threshold = float(g_loss_threshold)
        self.patience = int(patience)
        self._streak = 0
        self.diversity_threshold = float(diversity_threshold)
        self.grace_steps = int(grace_steps)
        self.n, self.seed = int(n), seed
        self.stop_on_failure = bool(stop_on_failure)
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.events: list[tuple[int, str, str]] = []
        self.message: str | None = None
        self._active = {"d_wins": False, "collapse": False, "class_collapse": False}

    def on_train_begin(self, logs=None):
        self.noise = np.random.default_rng(self.seed).standard_normal((self.n, self.model.noise_dim)).astype("float32")
        self._mark = None
        self._prev_g_loss = None

    def on_epoch_begin(self, epoch, logs=None):
        self._mark = (0, None)  # Keras resets the running means each epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        gan = self.model
        step = int(gan.step.numpy())
        g_steps = step - int(gan.generator_start.numpy())
        if g_steps <= 0 or step % self.window:
            return  # D trains alone during warm-up: winning is its job then
        count, before = self._mark or (0, None)
        now = {k: float(logs[k]) for k in ("d_acc_real", "d_acc_fake", "g_loss") if k in logs}
        self._mark = (batch + 1, now)
        if len(now) < 3:
            return
        # The logs hold means since the epoch began; undo that to get the
        # means over this window alone.
        t = batch + 1
        span = t - count
        win = now if before is None else {k: (now[k] * t - before[k] * count) / span for k in now}
        if g_steps >= self.grace_steps:
            self._check_discriminator(step, win)
            self._check_collapse(step)
            if self.model.num_classes is not None and self.class_diversity:
                self._check_class_collapse(step)

    def _check_discriminator(self, step, win):
        prev, self._prev_g_loss = self._prev_g_loss, win["g_loss"]
        certain = win["d_acc_real"] > self.acc_threshold and win["d_acc_fake"] > self.acc_threshold
        bad = certain and win["g_loss"] > self.g_loss_threshold and prev is not None and win["g_loss"] > prev
        self._streak = self._streak + 1 if bad else 0
        # Once D has won, a g_loss that merely stops rising is no recovery:
        # the episode ends only when D makes mistakes again.
        winning = self._streak >= self.patience or (self._active["d_wins"] and certain)
        self._report(
            "d_wins",
            winning,
            step,
            (
                f"step {step}: the discriminator is winning: over the last {self.window} steps it classified "
                f"{win['d_acc_real']:.1%} of real and {win['d_acc_fake']:.1%} of generated digits correctly, and "
                f"g_loss rose from {prev if prev is not None else float('nan'):.2f} to {win['g_loss']:.2f}; the "
                "generator gets almost no gradient. Try a lower lr_D or a higher lr_G, or label smoothing "
                "(the stable preset)."
            ),
        )

    def _check_collapse(self, step):
        classes = self.model.num_classes
        labels = None if classes is None else balanced_labels(len(self.noise), classes)
        digits = keras.ops.convert_to_numpy(
            self.model.generator(generator_inputs(self.model.generator, self.noise, labels), training=True)
        )
        ratio = diversity(digits) / max(self.real_diversity, 1e-12)
        self._report(
            "collapse",
            ratio < self.diversity_threshold,
            step,
            (
                f"step {step}: the generator is collapsing: {self.n} digits from different noise are only "
                f"{ratio:.0%} as diverse as real digits (threshold {self.diversity_threshold:.0%}). Look at the "
                "latest grid; lower lr_G, or restart from an earlier checkpoint."
            ),
        )

    def class_diversity_shares(self) -> dict[int, float]:
        """Each class's generated diversity as a share of its real one:
        ``DIGITS_PER_CLASS`` digits of the class from fixed noise."""
        classes = [c for c in self.class_diversity if c < self.model.num_classes]
        per = DIGITS_PER_CLASS
        noise = np.random.default_rng(self.seed + 1).standard_normal((per, self.model.noise_dim)).astype("float32")
        noise = np.tile(noise, (len(classes), 1))  # the same noises for every class
        labels = np.repeat(np.asarray(classes, "int32"), per)
        digits = keras.ops.convert_to_numpy(
            self.model.generator(generator_inputs(self.model.generator, noise, labels), training=True)
        )
        return {
            c: diversity(digits[i * per : (i + 1) * per]) / max(self.class_diversity[c], 1e-12)
            for i, c in enumerate(classes)
        }

    def _check_class_collapse(self, step):
        shares = self.class_diversity_shares()
        alike = {c: s for c, s in shares.items() if s < self.class_threshold}
        named = ", ".join(f"{c} {s:.0%}" for c, s in sorted(alike.items(), key=lambda cs: cs[1])[:10])
        more = f" and {len(alike) - 10} more" if len(alike) > 10 else ""
        self._report(
            "class_collapse",
            bool(alike),
            step,
            (
                f"step {step}: the generator draws some classes in one style: {DIGITS_PER_CLASS} digits of a "
                "class from different noise are only this diverse, as a share of real digits of that class: "
                f"{named}{more} (threshold {self.class_threshold:.0%}). Look at those rows of the latest grid; "
                "a class drawn in one style rarely recovers: train again with another --seed."
            ),
        )

    def _report(self, kind, failing, step, text):
        if failing and not self._active[kind]:
            self.events.append((step, kind, text))
            self.log("keras-mnist-gan health: " + text)
            if self.stop_on_failure:
                self.message = text
                self.model.stop_training = True
        self._active[kind] = failing

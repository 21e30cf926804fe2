"""Named training settings.

``seed`` is the original design's recipe, kept as it was: Adam with
lr_D 3e-4 (two D optimizers, one on real and one on fake digits), lr_G 1e-4,
Keras's default beta_1 0.9, batch 50, 300 discriminator warm-up steps.
``stable`` changes only training settings, never the architecture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Preset:
    lr_d: float = 3e-4
    lr_g: float = 1e-4
    beta_1: float = 0.9
    batch_size: int = 50
    warmup_steps: int = 300
    two_d_optimizers: bool = True
    label_smoothing: float = 0.0
    noise_dim: int = 100
    ema_decay: float | None = None
    r1_gamma: float = 0.0
    # Steps between R1 penalties (lazy regularisation: GAN.compile).
    r1_interval: int = 1
    # Class-conditional models (models.py): digits on request, trained on
    # (images, labels). The architecture otherwise stays the seed one.
    conditional: bool = False
    # Minibatch standard deviation in D (`MinibatchStddev`): its group size;
    # 0: none, as in the original design.
    minibatch_std: int = 0
    # Weight of the mode-seeking term in G's loss (`losses.mode_seeking_loss`);
    # 0: none.
    mode_seeking: float = 0.0

    def with_(self, **changes) -> "Preset":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self)

    def optimizers(self) -> dict:
        """Keyword arguments for `GAN.compile`."""
        import keras  # here, so that reading the presets (the CLI's --help) does not import Keras

        from .schedule import Schedule

        adam = lambda lr: keras.optimizers.Adam(lr, beta_1=self.beta_1)  # noqa: E731
        return {
            "d_optimizer": adam(self.lr_d),
            "g_optimizer": adam(self.lr_g),
            "d_fake_optimizer": adam(self.lr_d) if self.two_d_optimizers else None,
            "label_smoothing": self.label_smoothing,
            "r1_gamma": self.r1_gamma,
            "mode_seeking": self.mode_seeking,
            "schedule": Schedule(r1_interval=self.r1_interval),
        }


PRESETS = {
    "seed": Preset(),
    # Measured better than "seed" at the same step budget (docs/results.md):
    # Adam beta_1 0.5, the generator's learning rate twice the
    # discriminator's, one D optimizer (the original's two Adam optimizers
    # each take a full step: D effectively learns twice as fast) and
    # one-sided label smoothing 0.1, all to keep D from winning outright.
    "stable": Preset(lr_d=1e-4, lr_g=2e-4, beta_1=0.5, two_d_optimizers=False, label_smoothing=0.1),
    # The best recipe found (sweeps of 30+ settings, then trained with this
    # package: docs/results.md): the R1 gradient
    # penalty on real digits is what lifts the digits from strokes to
    # classifiable digits of every class. With R1 holding D back, rates 10x
    # those of "stable" learn faster without D winning (FID 13.7 against
    # 15.5-36.7 for lr_D 2e-4 / lr_G 4e-4 at 10,000 steps), and sampling
    # from an average of G's weights smooths the fast generator's swings.
    # Class-conditional (models.py): told which digit to draw, the same
    # image path learns several times faster, and sampled with random
    # classes it is an unconditional generator too. R1 every 16 steps
    # (lazy regularisation) costs a sixteenth of R1 every step, which
    # doubles the step on a CPU. Without the mode-seeking term, some seeds
    # draw every digit of a class alike (docs/results.md, "The default on
    # every seed"); weighted 0.05 it holds them varied at no extra pass.
    "quality": Preset(
        lr_d=1e-3,
        lr_g=2e-3,
        beta_1=0.5,
        two_d_optimizers=False,
        r1_gamma=1.0,
        r1_interval=16,
        ema_decay=0.999,
        conditional=True,
        mode_seeking=0.05,
    ),
}
DEFAULT_PRESET = "quality"
# The original design's recipe, whose settings are the defaults of the
# building blocks (`build_generator`'s noise, `make_dataset`'s batch, the
# warm-up callback's steps, `GAN.compile`'s rates).
SEED_RECIPE = PRESETS["seed"]


def closest_preset(preset: Preset) -> tuple[str, dict]:
    """The named preset ``preset`` differs least from, and those differences
    (``{"lr_d": 5e-4}``; empty when it is that preset)."""
    settings = preset.as_dict()

    def changes(name: str) -> dict:
        named = PRESETS[name].as_dict()
        return {k: v for k, v in settings.items() if named[k] != v}

    name = min(PRESETS, key=lambda n: (len(changes(n)), n != DEFAULT_PRESET))
    return name, changes(name)


# The folder `train` writes into, and the seed of its weights, data order
# and noise, unless told otherwise.
DEFAULT_RUN_DIR = "run"
DEFAULT_SEED = 0
# How long a run is unless told otherwise, in steps (warm-up included), the
# same whatever the size of the data: a run's length is what decides how
# good its digits are (docs/results.md, "The default on every seed").
DEFAULT_STEPS = 2500
# Steps between history rows, digit grids and quality figures.
DEFAULT_STEPS_PER_EPOCH = 500
DEFAULT_CHECKPOINT_EVERY = 500
# Digits behind each quality figure during training (val_fid, val_score,
# val_accuracy) and in each tuning trial.
DEFAULT_QUALITY_N = 1000
# Steps between quality figures during `train`; 0: only at the end of the
# run. A run that judges itself on the way spends that time not training
# (docs/results.md, "Training and sampling speed").
DEFAULT_QUALITY_EVERY = 0
# Digits in a run's grids (samples/step_*.png, samples.png, TensorBoard)
# and in `sample`'s default grid.
GRID_DIGITS = 64
# Columns of a conditional generator's default `sample` grid (and web
# page): one row per digit, 0 to 9.
GRID_COLS_PER_DIGIT = 10
# The fewest digits a Fréchet distance can be taken on: the evaluator's
# features are 128-d (evaluation.py), and fewer digits than that give a
# singular covariance.
MIN_FID_DIGITS = 129
# The largest batch `train` accepts: a step holds about 2 MB of activations
# and gradients per digit, so this stays within a few GB.
MAX_BATCH_SIZE = 1024
# Digits `evaluate` draws and compares with as many test digits.
DEFAULT_EVALUATE_N = 10_000
# keras-mnist-gan tune: steps per trial and the learning-rate ranges searched
# (lr_D on a log scale, and lr_G / lr_D).
DEFAULT_STEPS_PER_TRIAL = 1000
LR_D_RANGE = (1e-5, 1e-3)
LR_RATIO_RANGE = (0.1, 10.0)
# `tune --tune-beta-1`: Adam's beta_1 of all optimizers, one of these.
BETA_1_CHOICES = (0.5, 0.9)
TUNER_NAMES = ("random", "bayesian", "hyperband")  # keras-tuner's tuners (tuners.TUNERS)
DEFAULT_TUNER = "bayesian"
DEFAULT_MAX_TRIALS = 12
# Hyperband: a trial's full budget in rounds (keras-tuner's max_epochs).
DEFAULT_HYPERBAND_EPOCHS = 3
DEFAULT_TUNING_DIR = "runs/tuning"
DEFAULT_PROJECT_NAME = "lr_search"
# `train-evaluator`: epochs of the MNIST classifier behind `evaluate`.
DEFAULT_EVALUATOR_EPOCHS = 4
# The generator's first layer has 3136 x noise_dim weights and its
# convolutions noise_dim / 2 and / 4 filters: beyond this it no longer fits
# a laptop's memory or time.
MAX_NOISE_DIM = 1024

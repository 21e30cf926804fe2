import keras

from keras_mnist_gan.cli import build_parser
from keras_mnist_gan.presets import DEFAULT_PRESET, PRESETS


def test_seed_preset_is_the_original_recipe():
    seed = PRESETS["seed"]
    assert (seed.lr_d, seed.lr_g, seed.beta_1, seed.batch_size, seed.warmup_steps, seed.noise_dim) == (
        3e-4,
        1e-4,
        0.9,
        50,
        300,
        100,
    )
    opts = seed.optimizers()
    assert opts["d_fake_optimizer"] is not None and opts["label_smoothing"] == 0.0
    assert isinstance(opts["d_optimizer"], keras.optimizers.Adam)


def test_quality_preset_is_the_cli_default():
    assert DEFAULT_PRESET == "quality"
    assert build_parser().parse_args(["train"]).preset == "quality"
    q = PRESETS["quality"]
    assert q.r1_gamma > 0 and q.ema_decay is not None and q.optimizers()["r1_gamma"] == q.r1_gamma
    assert (q.batch_size, q.warmup_steps, q.noise_dim) == (50, 300, 100)  # the design's, unchanged


def test_stable_preset_and_flags_override():
    stable = PRESETS["stable"]
    assert stable.optimizers()["d_fake_optimizer"] is None
    changed = stable.with_(lr_d=5e-5, batch_size=None)
    assert changed.lr_d == 5e-5 and changed.batch_size == stable.batch_size
    assert float(stable.optimizers()["g_optimizer"].beta_1) == 0.5

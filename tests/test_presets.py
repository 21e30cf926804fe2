import keras

from keras_mnist_gan.cli import build_parser
from keras_mnist_gan.presets import DEFAULT_PRESET, PRESETS


def test_seed_preset_is_the_original_recipe():
    seed = PRESETS["seed"]
    assert (seed.lr_d, seed.lr_g, seed.beta_1, seed.batch_size, seed.warmup_steps, seed.noise_dim) == (
        3e-4, 1e-4, 0.9, 50, 300, 100)
    opts = seed.optimizers()
    assert opts["d_fake_optimizer"] is not None and opts["label_smoothing"] == 0.0
    assert isinstance(opts["d_optimizer"], keras.optimizers.Adam)


def test_cli_default_is_the_stable_preset_and_flags_override():
    assert DEFAULT_PRESET == "stable"
    assert build_parser().parse_args(["train"]).preset == "stable"
    stable = PRESETS["stable"]
    assert stable.optimizers()["d_fake_optimizer"] is None
    changed = stable.with_(lr_d=5e-5, batch_size=None)
    assert changed.lr_d == 5e-5 and changed.batch_size == stable.batch_size
    assert float(stable.optimizers()["g_optimizer"].beta_1) == 0.5

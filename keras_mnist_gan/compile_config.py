"""What `GAN.compile` was given, as a saved config and back (Keras's
``get_compile_config`` / ``compile_from_config``): the optimizers, the
losses' settings and the `Schedule`, so a loaded ``gan.keras`` resumes the
same game."""

from __future__ import annotations

import keras

from .schedule import Schedule

_OBJECTS = ("d_optimizer", "g_optimizer", "d_fake_optimizer", "schedule")


def compile_config(gan: keras.Model) -> dict:
    """The arguments ``gan.compile`` was called with, serialised."""
    config = {key: getattr(gan, key) for key in _OBJECTS}
    config = {
        key: None if obj is None else _portable(keras.saving.serialize_keras_object(obj)) for key, obj in config.items()
    }
    config.update(
        label_smoothing=gan.label_smoothing,
        r1_gamma=gan.r1_gamma,
        mode_seeking=gan.mode_seeking,
        jit_compile=gan._jit_compile_asked,
    )
    return config


def compile_arguments(config: dict) -> dict:
    """`compile_config`'s output (or an older file's) as ``compile``'s keyword arguments."""
    config = dict(config)
    for key in _OBJECTS:
        if config.get(key) is not None:
            config[key] = keras.saving.deserialize_keras_object(_portable(config[key]))
    if "r1_interval" in config:  # files saved before the schedule was an object
        config["schedule"] = Schedule(r1_interval=config.pop("r1_interval"))
    return config


def _portable(config: dict) -> dict:
    """An optimizer's config that loads on any backend. Keras records some
    built-in optimizers under their backend's module (PyTorch's Adam under
    Keras's private torch backend package), which would bring a PyTorch
    optimizer into a TensorFlow process; ``keras.optimizers.Adam`` is the
    same optimizer for whichever backend loads it."""
    module = str(config.get("module") or "")
    if module.startswith("keras.src.backend.") and hasattr(keras.optimizers, config.get("class_name", "")):
        config = {**config, "module": "keras.optimizers"}
    return config

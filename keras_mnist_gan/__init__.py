"""keras-mnist-gan: a GAN that draws MNIST digits, written the Keras 3 way.

The data path, module by module: `data` (files -> arrays) -> `pipeline`
(arrays -> tf.data) -> `models` + `gan` (GAN.fit) -> `saving` (.keras) ->
`images` (samples as PNG grids). `training` strings them together and `cli`
puts them on the command line.

The names below are imported on first use (PEP 562), so ``import
keras_mnist_gan.cli`` (the console script) does not import Keras or
TensorFlow: the CLI first sets up logging and checks the backend.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_EXPORTS = {
    "GAN": "gan", "generate": "gan",
    "BicubicResize": "layers",
    "CalibrateBatchNorm": "callbacks", "DiscriminatorWarmup": "callbacks", "SampleGrid": "callbacks",
    "DataError": "data", "load_mnist": "data",
    "build_discriminator": "models", "build_generator": "models",
    "make_dataset": "pipeline",
    "check_export": "export", "export_generator": "export", "write_site": "webpage",
    "ModelFileError": "saving", "load_gan": "saving", "load_generator": "saving", "save_model_atomic": "saving",
    "train": "training", "TrainingError": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))

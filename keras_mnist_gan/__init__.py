"""keras-mnist-gan: a GAN that draws MNIST digits, written the Keras 3 way.

The data path, module by module: `data` (files -> arrays) -> `pipeline`
(arrays -> batches) -> `models` + `gan` (GAN.fit) -> `saving` (.keras) ->
`sampling` (digits) -> `images` (PNG grids). `training` strings them
together and `cli` puts them on the command line.

The names below are imported on first use (PEP 562), so ``import
keras_mnist_gan.cli`` (the console script) does not import Keras or
TensorFlow: the CLI first sets up logging and checks the backend. The
classes a saved ``.keras`` file names (`GAN`, the layers) are registered
with Keras all the same as soon as Keras is imported, before or after this
package: ``import keras_mnist_gan`` then ``keras.models.load_model(...)``
works, the documented Keras way.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_EXPORTS = {
    "GAN": "gan",
    "Schedule": "schedule",
    "generate": "sampling",
    "BicubicResize": "layers",
    "CalibrateBatchNorm": "callbacks",
    "DiscriminatorWarmup": "callbacks",
    "SampleGrid": "callbacks",
    "DataError": "data",
    "load_mnist": "data",
    "build_discriminator": "models",
    "build_generator": "models",
    "portable_generator": "models",
    "make_dataset": "pipeline",
    "check_export": "export",
    "export_generator": "export",
    "write_site": "webpage",
    "ModelFileError": "saving",
    "load_gan": "saving",
    "load_generator": "saving",
    "save_model_atomic": "saving",
    "save_generator": "saving",
    "read_metadata": "saving",
    "train": "training",
    "RunConfig": "run_config",
    "TrainingError": "training",
}
# Every class a .keras file of this package names, by the module defining it.
_SERIALIZABLE = {
    "layers": ("BicubicResize", "StridedPointwiseConv2D"),
    "gan": ("GAN",),
    "schedule": ("Schedule",),
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


def _register_serializables() -> None:
    """Register a stand-in for each of `_SERIALIZABLE` under the name Keras
    looks up ("keras_mnist_gan>GAN"), unless the class itself is there: it
    imports its module when a file is loaded, not now. Importing the
    modules now would go round in a circle when Keras's import comes from
    one of them (``from keras_mnist_gan.models import build_generator`` as a
    first line: models imports Keras, which would import gan, which needs
    models). Importing the real class replaces its stand-in."""
    import keras

    registry = keras.saving.get_custom_objects()
    for module, names in _SERIALIZABLE.items():
        for name in names:
            registry.setdefault(f"{__name__}>{name}", _stand_in(module, name))


def _stand_in(module: str, name: str) -> type:
    def from_config(config, *args, **kwargs):
        real = getattr(importlib.import_module(f".{module}", __name__), name)
        return real.from_config(config, *args, **kwargs)

    return type(name, (), {"from_config": staticmethod(from_config), "__module__": f"{__name__}.{module}"})


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Imports `_SERIALIZABLE` right after Keras itself is imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_serializables()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in sys.modules:
    _register_serializables()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())

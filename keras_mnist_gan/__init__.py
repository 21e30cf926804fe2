"""keras-mnist-gan: a GAN that draws MNIST digits, written the Keras 3 way.

The data path, module by module: `data` (files -> arrays) -> `pipeline`
(arrays -> tf.data) -> `models` + `gan` (GAN.fit) -> `saving` (.keras) ->
`images` (samples as PNG grids). `training` strings them together and `cli`
puts them on the command line.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from .callbacks import CalibrateBatchNorm, DiscriminatorWarmup, SampleGrid  # noqa: E402
from .data import DataError, load_mnist  # noqa: E402
from .gan import GAN, generate  # noqa: E402
from .layers import BicubicResize  # noqa: E402
from .models import build_discriminator, build_generator  # noqa: E402
from .pipeline import make_dataset  # noqa: E402
from .saving import ModelFileError, load_gan, load_generator, save_model_atomic  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GAN", "BicubicResize", "CalibrateBatchNorm", "DataError", "DiscriminatorWarmup", "ModelFileError", "SampleGrid",
    "build_discriminator", "build_generator", "generate", "load_gan", "load_generator",
    "load_mnist", "make_dataset", "save_model_atomic",
]

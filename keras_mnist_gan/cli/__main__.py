"""``python -m keras_mnist_gan.cli``: the keras-mnist-gan command."""

import sys

from . import main

sys.exit(main())

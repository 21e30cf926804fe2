"""Entry point for a learning-rate search: the same as ``keras-mnist-gan tune``.

    python tuning/search.py --data mnist.npz --max-trials 12 \
        --steps-per-trial 1000 --directory tuning/results --reference

The search space (lr_D on a log scale from 1e-5 to 1e-3, lr_G/lr_D from 0.1
to 10, optionally Adam's beta_1) and the hypermodel live in
`keras_mnist_gan.hypermodel` (the search itself in `keras_mnist_gan.tuning`); run with ``--help`` for every option.
"""

import sys

from keras_mnist_gan.cli import main

if __name__ == "__main__":
    sys.exit(main(["tune", *sys.argv[1:]]))

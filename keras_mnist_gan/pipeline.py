"""Arrays of digits -> batches for `fit`, on every Keras backend.

A `keras.utils.PyDataset`: Keras feeds it to TensorFlow (through tf.data),
JAX and PyTorch alike. Batch ``i`` is a pure function of the seed and ``i``
(pass ``i // batches_per_pass`` shuffles the digits with its own generator),
so a resumed run starts at any batch without replaying the ones before.
"""

from __future__ import annotations

import keras
import numpy as np

from .mnist_data import DataError, to_float, validate_images, validate_labels
from .presets import SEED_RECIPE


class DigitBatches(keras.utils.PyDataset):
    """Batches of float32 images in [0, 1], shape (batch_size, 28, 28, 1),
    or ``(images, labels)`` with int32 labels when ``labels`` are given.

    Shuffled anew each pass over the digits (reproducibly, from ``seed``),
    the last partial batch of each pass dropped so every step sees a full
    batch. With ``repeat`` there is no end; give `fit` a
    ``steps_per_epoch``. ``skip_batches`` starts after that many batches of
    the same sequence: a resumed run sees the batches it would have seen had
    it not stopped.
    """

    def __init__(
        self,
        images: np.ndarray,
        batch_size: int = SEED_RECIPE.batch_size,
        seed: int | None = None,
        repeat: bool = True,
        skip_batches: int = 0,
        labels: np.ndarray | None = None,
    ):
        super().__init__()
        self.images = validate_images(images)
        self.labels = None if labels is None else validate_labels(labels, len(self.images))
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}.")
        if len(self.images) < self.batch_size:
            raise DataError(f"the dataset holds {len(self.images)} images, fewer than one batch of {self.batch_size}.")
        self.batches_per_pass = len(self.images) // self.batch_size
        self.seed = 0 if seed is None else int(seed)
        self.repeat = bool(repeat)
        self.skip_batches = int(skip_batches)
        self._pass, self._order = None, None

    @property
    def num_batches(self) -> int | None:
        return None if self.repeat else self.batches_per_pass - self.skip_batches

    def __getitem__(self, index: int):
        n_pass, i = divmod(int(index) + self.skip_batches, self.batches_per_pass)
        if n_pass != self._pass:
            self._pass = n_pass
            self._order = np.random.default_rng([self.seed, n_pass]).permutation(len(self.images))
        chosen = self._order[i * self.batch_size : (i + 1) * self.batch_size]
        batch = to_float(self.images[chosen], checked=True)
        return batch if self.labels is None else (batch, self.labels[chosen])


def make_dataset(
    images: np.ndarray,
    batch_size: int = SEED_RECIPE.batch_size,
    seed: int | None = None,
    repeat: bool = True,
    skip_batches: int = 0,
    labels: np.ndarray | None = None,
) -> DigitBatches:
    """The training batches of ``images`` (with ``labels``: ``(images,
    labels)`` batches, for a conditional GAN): see `DigitBatches`."""
    return DigitBatches(
        images, batch_size=batch_size, seed=seed, repeat=repeat, skip_batches=skip_batches, labels=labels
    )

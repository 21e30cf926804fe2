"""Arrays of digits -> a `tf.data.Dataset` of training batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .data import DataError, validate_images


def make_dataset(
    images: np.ndarray,
    batch_size: int = 50,
    seed: int | None = None,
    repeat: bool = True,
    skip_batches: int = 0,
) -> tf.data.Dataset:
    """Batches of float32 images in [0, 1], shape (batch_size, 28, 28, 1).

    Shuffled anew each pass (reproducibly, from ``seed``), last partial batch
    dropped so every step sees a full batch, prefetched so the next batch is
    ready when the step ends. With ``repeat`` the dataset never ends; give
    `fit` a ``steps_per_epoch``. ``skip_batches`` starts after that many
    batches of the same sequence: a resumed run sees the batches it would
    have seen had it not stopped.
    """
    images = validate_images(images)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive; got {batch_size}.")
    if len(images) < batch_size:
        raise DataError(f"the dataset holds {len(images)} images, fewer than one batch of {batch_size}.")
    ds = tf.data.Dataset.from_tensor_slices(images)
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    if skip_batches:
        ds = ds.skip(int(skip_batches))  # before the float conversion: cheap
    if images.dtype == np.uint8:
        # Convert a whole batch at once, after shuffling the compact uint8s.
        ds = ds.map(lambda x: tf.cast(x, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

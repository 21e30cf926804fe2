import gzip
import struct

import numpy as np
import pytest

from keras_mnist_gan import data as data_mod
from keras_mnist_gan.data import DataError, load_mnist, load_path, validate_images
from keras_mnist_gan.pipeline import make_dataset


def write_idx(path, array, gz=False):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.tobytes()
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(raw)


def write_idx_dir(directory, subset, gz):
    names = data_mod.IDX_NAMES
    suffix = ".gz" if gz else ""
    write_idx(directory / (names["x_train"] + suffix), subset.x_train[:120, ..., 0], gz)
    write_idx(directory / (names["y_train"] + suffix), subset.y_train[:120], gz)
    write_idx(directory / (names["x_test"] + suffix), subset.x_test[:30, ..., 0], gz)
    write_idx(directory / (names["y_test"] + suffix), subset.y_test[:30], gz)


def test_subset_is_real_mnist_with_labels(subset):
    assert subset.x_train.shape == (20000, 28, 28, 1) and subset.x_train.dtype == np.uint8
    assert subset.x_test.shape == (10000, 28, 28, 1)
    assert set(np.unique(subset.y_train)) == set(range(10))
    # Real digits: dark background, bright strokes, ~19% of pixels lit.
    lit = (subset.x_train > 127).mean()
    assert 0.1 < lit < 0.3


def test_npz_round_trip(tiny_npz, subset):
    d = load_path(tiny_npz)
    assert d.x_train.shape == (200, 28, 28, 1)
    np.testing.assert_array_equal(d.x_train, subset.x_train[:200])
    np.testing.assert_array_equal(d.y_test, subset.y_test[:150])


@pytest.mark.parametrize("gz", [False, True])
def test_idx_directory(tmp_path, subset, gz):
    write_idx_dir(tmp_path, subset, gz)
    d = load_path(tmp_path)
    np.testing.assert_array_equal(d.x_train, subset.x_train[:120])
    np.testing.assert_array_equal(d.y_train, subset.y_train[:120])
    assert d.x_test.shape == (30, 28, 28, 1)


def test_source_order_explicit_then_env_then_cache(tmp_path, tiny_npz, monkeypatch, subset):
    other = tmp_path / "other.npz"
    np.savez(other, x_train=subset.x_train[:70, ..., 0], x_test=subset.x_test[:10, ..., 0])
    monkeypatch.setenv("KERAS_MNIST_GAN_DATA", str(other))
    assert len(load_mnist(tiny_npz).x_train) == 200  # explicit path wins
    assert len(load_mnist().x_train) == 70  # then the variable
    monkeypatch.delenv("KERAS_MNIST_GAN_DATA")
    keras_home = tmp_path / "kh"
    (keras_home / "datasets").mkdir(parents=True)
    np.savez(
        keras_home / "datasets" / "mnist.npz", x_train=subset.x_train[:90, ..., 0], x_test=subset.x_test[:10, ..., 0]
    )
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert len(load_mnist().x_train) == 90  # then Keras's cache


def test_falls_back_to_subset_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_MNIST_GAN_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="KERAS_MNIST_GAN_DATA") as record:
        d = load_mnist(allow_download=False)
    assert len([w for w in record if issubclass(w.category, UserWarning)]) == 1
    assert len(d.x_train) == 20000 and "subset" in d.source


def test_bad_env_var_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_MNIST_GAN_DATA", str(tmp_path / "nope.npz"))
    with pytest.raises(DataError, match="KERAS_MNIST_GAN_DATA=.*no such file"):
        load_mnist()


def test_missing_file():
    with pytest.raises(DataError, match="no such file"):
        load_path("/nonexistent/mnist.npz")


def test_not_an_npz(tmp_path):
    p = tmp_path / "mnist.npz"
    p.write_text("hello")
    with pytest.raises(DataError, match="not an .npz"):
        load_path(p)


def test_truncated_npz(tmp_path, tiny_npz):
    p = tmp_path / "cut.npz"
    raw = tiny_npz.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        load_path(p)


def test_npz_without_images(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(DataError, match="needs x_train and x_test"):
        load_path(p)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((10, 32, 32), np.uint8), "28x28 single-channel.*32, 32"),
        (np.zeros((10, 28, 28, 3), np.uint8), "28x28 single-channel.*3\\)"),
        (np.zeros((0, 28, 28), np.uint8), "no images"),
        (np.full((4, 28, 28), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((4, 28, 28), -1, np.int64), r"\[0, 255\]"),
        (np.zeros((4, 28, 28), np.complex64), "dtype complex64"),
        (np.full((4, 28, 28), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images(array, match):
    with pytest.raises(DataError, match=match):
        validate_images(array)


def test_accepts_float_and_int_layouts():
    assert validate_images(np.zeros((3, 28, 28, 1), np.float64)).dtype == np.float32
    assert validate_images(np.full((3, 28, 28), 255, np.int32)).dtype == np.uint8


def test_idx_bad_magic(tmp_path, subset):
    write_idx_dir(tmp_path, subset, gz=False)
    (tmp_path / data_mod.IDX_NAMES["x_train"]).write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(DataError, match="not an IDX file"):
        load_path(tmp_path)


def test_idx_count_mismatch(tmp_path, subset):
    write_idx_dir(tmp_path, subset, gz=False)
    p = tmp_path / data_mod.IDX_NAMES["x_train"]
    p.write_bytes(p.read_bytes()[:-784])  # one image short of what the header says
    with pytest.raises(DataError, match="declares shape"):
        load_path(tmp_path)


def test_idx_labels_do_not_match_images(tmp_path, subset):
    write_idx_dir(tmp_path, subset, gz=False)
    write_idx(tmp_path / data_mod.IDX_NAMES["y_train"], subset.y_train[:100])
    with pytest.raises(DataError, match="120 train images but 100 train labels"):
        load_path(tmp_path)


def test_idx_truncated_gzip(tmp_path, subset):
    write_idx_dir(tmp_path, subset, gz=True)
    p = tmp_path / (data_mod.IDX_NAMES["x_train"] + ".gz")
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(DataError, match="cannot be read.*download complete"):
        load_path(tmp_path)


def test_idx_directory_missing_a_file(tmp_path, subset):
    write_idx_dir(tmp_path, subset, gz=False)
    (tmp_path / data_mod.IDX_NAMES["y_test"]).unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_path(tmp_path)


def test_pipeline_batches(tiny_images):
    ds = make_dataset(tiny_images, batch_size=64, seed=3, repeat=False)
    batches = [ds[i] for i in range(ds.num_batches)]
    assert len(batches) == 300 // 64  # remainder dropped
    b = batches[0]
    assert b.shape == (64, 28, 28, 1) and b.dtype == np.float32
    assert b.min() >= 0.0 and b.max() <= 1.0 and b.max() > 0.9


def test_pipeline_shuffle_is_seeded(tiny_images):
    first = lambda seed: make_dataset(tiny_images, 32, seed=seed)[0]  # noqa: E731
    np.testing.assert_array_equal(first(1), first(1))
    assert not np.array_equal(first(1), first(2))


def test_pipeline_skip_continues_the_same_sequence(tiny_images):
    """A resumed run's batches are those the run would have seen: across
    pass boundaries too, each pass shuffled differently."""
    full = make_dataset(tiny_images, 64, seed=5)
    per_pass = full.batches_per_pass
    sequence = [full[i] for i in range(3 * per_pass)]
    resumed = make_dataset(tiny_images, 64, seed=5, skip_batches=per_pass - 1)
    for i in range(2 * per_pass):
        np.testing.assert_array_equal(resumed[i], sequence[per_pass - 1 + i])
    assert not np.array_equal(sequence[0], sequence[per_pass])  # a new order each pass
    # every digit of a pass appears once (the dropped remainder aside)
    first_pass = np.concatenate(sequence[:per_pass])
    assert len({a.tobytes() for a in first_pass}) == per_pass * 64


def test_pipeline_rejects_less_than_a_batch(tiny_images):
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(tiny_images[:10], batch_size=50)

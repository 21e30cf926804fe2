"""Hard cases: special files as inputs, files that declare gigabytes,
failed and symlinked writes, output names, and huge digit counts.

Whatever could hang or exhaust memory if it regressed runs in a child
process with a time and address-space limit, or in a thread with a
timeout, so a regression fails the test instead of stalling the machine.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import threading
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

from keras_mnist_gan import data as data_mod
from keras_mnist_gan import saving
from keras_mnist_gan.cli import MAX_SAMPLE_DIGITS, main
from keras_mnist_gan.data import DataError, load_path
from keras_mnist_gan.evaluation import shipped_model
from keras_mnist_gan.sampling import generate
from keras_mnist_gan.images import IMAGE_FORMATS, grid, image_format, save_grid, write_atomic
from keras_mnist_gan.noise import draw_noise, noise_stream
from keras_mnist_gan.saving import ModelFileError, load_generator, save_model_atomic

unix_only = pytest.mark.skipif(
    not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"), reason="needs FIFOs and /dev/zero"
)

# load_mnist on one path in a child process limited to 2 GiB of address
# space: data.py alone (it needs only numpy), so the child starts fast.
ISOLATED = """
import importlib.util, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
spec = importlib.util.spec_from_file_location("data_under_test", sys.argv[1])
data = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = data
spec.loader.exec_module(data)
try:
    data.load_mnist(sys.argv[2] or None, allow_download=False)
except data.DataError as e:
    print(e)
    sys.exit(3)
"""


def load_isolated(path: str | os.PathLike = "", env: dict | None = None, timeout: float = 60) -> str:
    """The DataError message of loading ``path`` (or, with "", the usual
    search under ``env``), asserting it is a DataError and comes in time."""
    child_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    r = subprocess.run(
        [sys.executable, "-c", ISOLATED, data_mod.__file__, str(path)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 3, f"rc {r.returncode}: {r.stdout}{r.stderr[-3000:]}"
    return r.stdout.strip()


def call_guarded(fn, fifo: str, timeout: float = 30):
    """Run ``fn()`` in a thread; the exception it raised. If it is still
    blocked after ``timeout`` s (opening ``fifo``), open the FIFO's write end
    to release it, and fail."""
    result = {}

    def target():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
        t.join(10)
        pytest.fail(f"still blocked on the FIFO after {timeout} s")
    return result.get("error")


def idx_header(dims: tuple[int, ...], dtype_code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, dtype_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def write_idx_dir(directory, subset) -> None:
    names = data_mod.IDX_NAMES
    for key, x in (
        ("x_train", subset.x_train[:60, ..., 0]),
        ("y_train", subset.y_train[:60]),
        ("x_test", subset.x_test[:20, ..., 0]),
        ("y_test", subset.y_test[:20]),
    ):
        (directory / names[key]).write_bytes(idx_header(x.shape) + np.ascontiguousarray(x, np.uint8).tobytes())


def write_npz_bomb(path, images: int = (1 << 30) // 784 + 1000) -> None:
    """A real .npz (about 5 MB) whose x_train is ``images`` zero digits: over
    1 GiB uncompressed."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (images, 28, 28)})
    zeros = bytes(1 << 24)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("x_train.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            left = images * 784
            while left > 0:
                f.write(zeros[: min(left, len(zeros))])
                left -= len(zeros)
        z.writestr("x_test.npy", b"")


def write_keras_bomb(path, megabytes: int = 200) -> None:
    """A .keras-shaped zip (about 200 kB) whose config.json inflates to
    ``megabytes`` MB of spaces."""
    spaces = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("metadata.json", "{}")
        with z.open("config.json", "w", force_zip64=True) as f:
            for _ in range(megabytes):
                f.write(spaces)
        z.writestr("model.weights.h5", b"")


# --- 1. data: special files and declared sizes -------------------------------


@unix_only
def test_fifo_as_data_fails_fast(tmp_path):
    fifo = tmp_path / "mnist.npz"
    os.mkfifo(fifo)
    assert "not a regular file (a FIFO)" in load_isolated(fifo)
    err = call_guarded(lambda: load_path(fifo), str(fifo))
    assert isinstance(err, DataError) and "mnist.npz file or a directory of IDX files" in str(err)


@unix_only
def test_fifo_in_the_environment_variable_fails_fast(tmp_path):
    fifo = tmp_path / "mnist.npz"
    os.mkfifo(fifo)
    msg = load_isolated(env={data_mod.ENV_VAR: str(fifo), "KERAS_HOME": str(tmp_path)})
    assert msg.startswith(f"{data_mod.ENV_VAR}={fifo}:") and "not a regular file (a FIFO)" in msg


@unix_only
def test_fifo_inside_an_idx_directory_fails_fast(tmp_path, subset):
    write_idx_dir(tmp_path, subset)
    member = tmp_path / data_mod.IDX_NAMES["x_test"]
    member.unlink()
    os.mkfifo(member)
    msg = load_isolated(tmp_path)
    assert f"{member}: not a regular file (a FIFO)" in msg, "named as such, not reported missing"


@unix_only
def test_dev_zero_as_data_is_refused_not_read():
    assert "/dev/zero: not a regular file (a character device)" in load_isolated("/dev/zero")


@unix_only
def test_idx_member_linked_to_dev_zero_is_refused(tmp_path, subset):
    write_idx_dir(tmp_path, subset)
    member = tmp_path / data_mod.IDX_NAMES["x_train"]
    member.unlink()
    member.symlink_to("/dev/zero")
    assert "not a regular file (a character device)" in load_isolated(tmp_path)


def test_idx_header_declaring_a_huge_shape_is_refused_unread(tmp_path, subset):
    write_idx_dir(tmp_path, subset)
    (tmp_path / data_mod.IDX_NAMES["x_train"]).write_bytes(idx_header((2**31, 28, 28)) + bytes(784 * 3))
    with pytest.raises(DataError, match=r"declares shape \(2147483648, 28, 28\).*more than the 1,073,741,824 bytes"):
        load_path(tmp_path)


def test_idx_dimensions_whose_product_overflows_int64(tmp_path, subset):
    write_idx_dir(tmp_path, subset)
    (tmp_path / data_mod.IDX_NAMES["y_train"]).write_bytes(idx_header((2**32 - 1,) * 4) + bytes(10))
    with pytest.raises(DataError, match="more than the"):
        load_path(tmp_path)


@unix_only
def test_gzipped_idx_inflating_past_the_cap_is_refused_unread(tmp_path, subset):
    """1.1 GB of zero digits in a 1 MB .gz, header and all consistent: the
    header alone says too big, and the child (2 GiB limit) never reads it."""
    write_idx_dir(tmp_path, subset)
    block = gzip.compress(bytes(784 * 20_000), compresslevel=9)
    blocks = 70  # 1,097,600,000 bytes > MAX_DATA_BYTES
    target = tmp_path / (data_mod.IDX_NAMES["x_train"] + ".gz")
    (tmp_path / data_mod.IDX_NAMES["x_train"]).unlink()
    with open(target, "wb") as f:  # concatenated gzip members read as one stream
        f.write(gzip.compress(idx_header((20_000 * blocks, 28, 28))))
        for _ in range(blocks):
            f.write(block)
    assert target.stat().st_size < 2 << 20
    assert "declares shape (1400000, 28, 28)" in load_isolated(tmp_path)


def test_idx_with_trailing_bytes_is_refused(tmp_path, subset):
    write_idx_dir(tmp_path, subset)
    p = tmp_path / data_mod.IDX_NAMES["x_test"]
    p.write_bytes(p.read_bytes() + b"junk")
    with pytest.raises(DataError, match="holds more"):
        load_path(tmp_path)


@unix_only
def test_npz_whose_arrays_declare_more_than_the_cap(tmp_path):
    bomb = tmp_path / "bomb.npz"
    write_npz_bomb(bomb)
    assert bomb.stat().st_size < 16 << 20
    assert "more than the 1,024 MiB this tool reads" in load_isolated(bomb)


@unix_only
def test_npz_whose_npy_header_declares_more_than_the_member_holds(tmp_path, subset):
    """A small member whose header claims 10 million digits: refused from the
    header, before numpy allocates 7.8 GB for it."""
    p = tmp_path / "liar.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**7, 28, 28)})
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("x_train.npy", header.getvalue() + bytes(784 * 5))
        buf = io.BytesIO()
        np.save(buf, subset.x_test[:5, ..., 0])
        z.writestr("x_test.npy", buf.getvalue())
    assert "x_train.npy declares shape (10000000, 28, 28)" in load_isolated(p)


def test_data_caps_are_one_constant():
    assert data_mod.MAX_DATA_BYTES == 1 << 30


# --- 2. .keras files that declare too much ------------------------------------


def test_keras_file_whose_config_inflates_to_200_mb(tmp_path):
    bomb = tmp_path / "bomb.keras"
    write_keras_bomb(bomb)
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError, match=r"bomb.keras: member config.json declares 200 MiB uncompressed"):
        load_generator(bomb)


def test_keras_file_whose_members_declare_more_than_a_model_needs(monkeypatch):
    # The real cap is 1 GiB; a lower one shows the check on a real file fast.
    monkeypatch.setattr(saving, "MAX_MODEL_BYTES", 100_000)
    with pytest.raises(ModelFileError, match=r"generator.keras: members declare .* \(model.weights.h5: "):
        load_generator(shipped_model("generator.keras"))


@unix_only
def test_fifo_as_model_fails_fast(tmp_path):
    fifo = tmp_path / "generator.keras"
    os.mkfifo(fifo)
    err = call_guarded(lambda: load_generator(fifo), str(fifo))
    assert isinstance(err, ModelFileError) and "not a regular file (a FIFO)" in str(err)


# --- 3. failed writes leave nothing; links are replaced, not followed ---------


def test_failed_grid_write_leaves_no_temp_file_and_keeps_the_old_image(tmp_path, monkeypatch, tiny_images):
    out = tmp_path / "digits.png"
    out.write_bytes(b"the old grid")

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"half a PNG")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="(?i)no space left"):
        save_grid(tiny_images[:4], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.png"]
    assert out.read_bytes() == b"the old grid"


def test_failed_atomic_write_leaves_no_temp_file(tmp_path):
    def broken(f):
        f.write(b"partial")
        raise ValueError("encoder failed")

    with pytest.raises(ValueError, match="encoder failed"):
        write_atomic(tmp_path / "figures.json", broken)
    assert list(tmp_path.iterdir()) == []


def test_grid_written_over_a_symlink_replaces_the_link(tmp_path, tiny_images):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious.png"
    precious.write_bytes(b"not yours")
    link = tmp_path / "digits.png"
    link.symlink_to(precious)
    save_grid(tiny_images[:4], link)
    assert precious.read_bytes() == b"not yours"
    assert not link.is_symlink() and Image.open(link).format == "PNG"


def test_link_planted_at_the_temp_name_is_not_followed(tmp_path, tiny_images):
    precious = tmp_path / "precious"
    precious.write_bytes(b"not yours")
    (tmp_path / f".digits.png.tmp-{os.getpid()}").symlink_to(precious)
    save_grid(tiny_images[:4], tmp_path / "digits.png")
    assert precious.read_bytes() == b"not yours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.png", "precious"]


def test_model_saved_over_a_symlink_replaces_the_link(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    precious = tmp_path / "precious.keras"
    precious.write_bytes(b"not yours")
    link = tmp_path / "model.keras"
    link.symlink_to(precious)
    planted = tmp_path / f".model.tmp-{os.getpid()}.keras"
    planted.symlink_to(tmp_path / "also_precious")
    save_model_atomic(model, link)
    assert precious.read_bytes() == b"not yours"
    assert not (tmp_path / "also_precious").exists()
    assert not link.is_symlink() and zipfile.is_zipfile(link)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "precious.keras"]


# --- 4. the output's format is the one its extension names --------------------


@pytest.mark.parametrize("ext", sorted(IMAGE_FORMATS))
def test_grid_is_written_in_the_format_its_extension_names(tmp_path, tiny_images, ext):
    out = save_grid(tiny_images[:9], tmp_path / f"digits{ext.upper()}")
    assert Image.open(out).format == IMAGE_FORMATS[ext]


@pytest.mark.parametrize(
    "name, words", [("digits.txt", "cannot write .txt images"), ("digits", "has no image extension")]
)
def test_other_extensions_are_refused_with_the_list(name, words):
    with pytest.raises(ValueError, match=words) as e:
        image_format(name)
    assert ".png, .jpg, .jpeg, .gif" in str(e.value)


def test_sample_writes_jpeg_for_jpg(tmp_path, capsys):
    out = tmp_path / "digits.jpg"
    assert main(["sample", "-n", "4", "--seed", "0", "--out", str(out)]) == 0
    assert Image.open(out).format == "JPEG"


def test_sample_refuses_txt_before_loading_the_model(tmp_path, monkeypatch, capsys):
    def no_loading(*a, **k):
        raise AssertionError("loaded the model before checking --out")

    monkeypatch.setattr(saving, "load_generator", no_loading)
    assert main(["sample", "--out", str(tmp_path / "digits.txt")]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "cannot write .txt images" in last and ".png, .jpg" in last
    assert list(tmp_path.iterdir()) == []


def test_sample_npy_is_written_under_the_name_given(tmp_path, capsys):
    npy = tmp_path / "d.NPY"
    assert main(["sample", "-n", "3", "--out", str(tmp_path / "d.png"), "--npy", str(npy)]) == 0
    assert np.load(npy).shape == (3, 28, 28, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.NPY", "d.png"]


# --- 5. digit counts: bounded up front, generated in chunks -------------------


@pytest.mark.parametrize("argv", [["sample", "-n"], ["evaluate", "--model", "g.keras", "-n"], ["sample", "--cols"]])
def test_digit_counts_are_bounded_up_front(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv + [str(MAX_SAMPLE_DIGITS + 1)])
    assert e.value.code == 2
    assert f"must be at most {MAX_SAMPLE_DIGITS}" in capsys.readouterr().err


def test_generate_in_chunks_gives_the_same_digits(monkeypatch):
    g = load_generator(shipped_model("unconditional_generator.keras"))
    noise = draw_noise(noise_stream(3), 1100, int(g.input_shape[-1]))
    whole = g.predict(noise, batch_size=100, verbose=0)
    sizes = []
    real_predict = g.predict

    def spy(x, *a, **k):
        sizes.append(len(x))
        return real_predict(x, *a, **k)

    monkeypatch.setattr(g, "predict", spy)
    chunked = generate(g, 1100, seed=3, batch_size=100, chunk=250)
    assert sizes == [200] * 5 + [100], "chunks of whole batches"
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    assert chunked.dtype == np.float32 and chunked.shape == (1100, 28, 28, 1)


def test_grid_uses_no_more_columns_than_digits(tiny_images):
    assert grid(tiny_images[:3], ncols=MAX_SAMPLE_DIGITS).shape == grid(tiny_images[:3], ncols=3).shape

"""Saving models safely, and loading them back with clear errors."""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from pathlib import Path

import keras

from .data import file_kind
from . import layers as _layers  # noqa: F401  (registers the custom layers, so files load)
from .gan import GAN

# What a .keras file of this package may declare, checked before Keras reads
# it: Keras reads config.json and metadata.json whole into memory, and a few
# hundred kB of deflated spaces can declare gigabytes. This package's configs
# are tens of kB and its models a few MB.
MAX_CONFIG_BYTES = 16 << 20  # each .json member
MAX_MODEL_BYTES = 1 << 30  # all members together


class ModelFileError(ValueError):
    """A model file is missing, damaged, or not one this package made."""


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> str:
    """``model.save(path)``, but through a temporary file and a rename, so an
    interrupted save never leaves a broken ``.keras`` where a good one was;
    a failed one (a full disk) says so in one line about ``path``."""
    from .outputs import check_file_target, remove_stale_temporaries, temp_name, write_error

    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"model files must end in .keras; got {path}.")
    check_file_target(path)
    directory = os.path.dirname(os.path.abspath(path))
    stem = os.path.basename(path)[:-6]
    remove_stale_temporaries(directory, stem)
    tmp = os.path.join(directory, temp_name(stem) + ".keras")
    try:
        if os.path.lexists(tmp):  # a stale one, or a link planted to be written through
            os.remove(tmp)
        model.save(tmp)
        os.replace(tmp, path)  # replaces a symlink at ``path``, never writes through it
    except OSError as e:
        raise write_error(path, e) from None
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


def missing_path_error(path: str | os.PathLike) -> str:
    """Why ``path``, which does not exist as far as ``stat`` can tell, is
    missing: a symbolic-link loop, a dangling link, or plain absence (the
    loaders would say "no such file" for all three)."""
    path = os.fspath(path)
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return (
                f"{path}: is a symbolic-link loop (it never reaches a file); point the link at a file or give "
                "another path."
            )
    if os.path.islink(path):
        return f"{path}: no such file (a symbolic link to {os.readlink(path)}, which does not exist)."
    return f"{path}: no such file."


def _load(path: str | os.PathLike, what: str) -> keras.Model:
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelFileError(missing_path_error(p))
    if p.is_dir():
        raise ModelFileError(f"{p}: is a directory; expected a {what} .keras file.")
    mode = p.stat().st_mode
    if not stat.S_ISREG(mode):  # a FIFO would block the open below, a device never end
        raise ModelFileError(f"{p}: not a regular file ({file_kind(mode)}); expected a {what} .keras file.")
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"{p}: not a .keras file (not a zip archive; truncated or another format?).")
    try:
        with zipfile.ZipFile(p) as z:
            _check_member_sizes(z.infolist(), p)  # before testzip, which inflates every member
            bad = z.testzip()
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ModelFileError(f"{p}: damaged .keras file ({e}).") from None
    if bad is not None or "config.json" not in names:
        raise ModelFileError(f"{p}: damaged or incomplete .keras file (member {bad or 'config.json'}).")
    try:
        return keras.models.load_model(p)
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{p}: cannot be loaded as a {what} ({type(e).__name__}: {msg[:300]}).") from None


def _check_member_sizes(members: list[zipfile.ZipInfo], p: Path) -> None:
    """Refuse archives whose declared uncompressed sizes no model of this
    package comes near (see MAX_CONFIG_BYTES, MAX_MODEL_BYTES)."""
    for info in members:
        if info.filename.endswith(".json") and info.file_size > MAX_CONFIG_BYTES:
            raise ModelFileError(
                f"{p}: member {info.filename} declares {info.file_size / 2**20:,.0f} MiB uncompressed, more than "
                f"the {MAX_CONFIG_BYTES / 2**20:,.0f} MiB a model's configuration needs; refusing to read it."
            )
    total = sum(info.file_size for info in members)
    if total > MAX_MODEL_BYTES:
        largest = max(members, key=lambda info: info.file_size)
        raise ModelFileError(
            f"{p}: members declare {total / 2**20:,.0f} MiB uncompressed ({largest.filename}: "
            f"{largest.file_size / 2**20:,.0f} MiB), more than the {MAX_MODEL_BYTES / 2**20:,.0f} MiB "
            "any model of this package needs; refusing to read it."
        )


def load_gan(path: str | os.PathLike) -> GAN:
    """Load a `GAN` saved with ``gan.save(...)``, compiled, ready to ``fit`` on."""
    model = _load(path, "GAN")
    if not isinstance(model, GAN):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a keras_mnist_gan GAN.")
    return model


def load_generator(path: str | os.PathLike) -> keras.Model:
    """Load a generator for sampling, from a generator or a whole-GAN file."""
    model = _load(path, "generator")
    if isinstance(model, GAN):
        return model.sampler
    check_generator(model, path)
    return model


def check_generator(model: keras.Model, where: str | os.PathLike = "model") -> None:
    try:
        in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    except Exception:
        raise ModelFileError(
            f"{where}: holds a {type(model).__name__} with no fixed input/output shape, not a generator."
        ) from None
    if len(in_shape) != 2 or out_shape[1:] != (28, 28, 1):
        raise ModelFileError(
            f"{where}: not a digit generator: it maps {in_shape} to {out_shape}, "
            "but a generator maps (batch, noise_dim) noise to (batch, 28, 28, 1) images."
        )

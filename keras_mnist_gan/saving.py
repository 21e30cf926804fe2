"""Saving models safely, and loading them back with clear errors."""

from __future__ import annotations

import errno
import json
import os
import stat
import zipfile
from pathlib import Path

import keras

from .mnist_data import file_kind
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


# The key of this package's record in a .keras file's metadata.json (which
# Keras writes with its version and the date, and never reads back).
METADATA_KEY = "keras_mnist_gan"


def save_model_atomic(model: keras.Model, path: str | os.PathLike, metadata: dict | None = None) -> str:
    """``model.save(path)``, but through a temporary file and a rename, so an
    interrupted save never leaves a broken ``.keras`` where a good one was;
    a failed one (a full disk) says so in one line about ``path``.

    ``metadata`` (JSON-able): recorded in the file's ``metadata.json`` under
    ``"keras_mnist_gan"`` (`read_metadata`); Keras's loader ignores it."""
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
        if metadata is not None:
            _add_metadata(tmp, metadata)
        os.replace(tmp, path)  # replaces a symlink at ``path``, never writes through it
    except OSError as e:
        raise write_error(path, e) from None
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


def save_generator(generator: keras.Model, path: str | os.PathLike, metadata: dict | None = None) -> str:
    """Write ``generator`` for sampling: its copy in Keras's built-in layers
    (`models.portable_generator`), which loads with `keras.saving.load_model`
    without this package, on any backend; ``metadata`` as in
    `save_model_atomic`. Every generator file the package writes goes
    through here (a run's generator.keras, tune's best_generator.keras)."""
    from .models import portable_generator

    return save_model_atomic(portable_generator(generator), path, metadata=metadata)


def _add_metadata(path: str, metadata: dict) -> None:
    """Rewrite the archive at ``path`` (a temporary of ours) with
    ``metadata`` added to its metadata.json; the other members as they were."""
    text = json.dumps(metadata, allow_nan=False)  # refused before anything is rewritten
    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in members:
            if info.filename == "metadata.json":
                record = json.loads(data)
                record[METADATA_KEY] = json.loads(text)
                data = json.dumps(record, indent=2).encode()
            z.writestr(info, data)


def read_metadata(path: str | os.PathLike) -> dict:
    """A .keras file's metadata.json: Keras's ``keras_version`` and
    ``date_saved``, and this package's record under ``"keras_mnist_gan"``
    when the file has one. Raises `ModelFileError` for a missing, damaged
    or non-model file."""
    p = _check_model_file(path, "model")
    try:
        with zipfile.ZipFile(p) as z:
            members = z.infolist()
            names = {info.filename for info in members}
            if "config.json" not in names:
                raise ModelFileError(f"{p}: not a .keras file (a zip archive without config.json).")
            _check_member_sizes(members, p)
            text = z.read("metadata.json") if "metadata.json" in names else b"{}"
        record = json.loads(text)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ModelFileError(f"{p}: damaged .keras file ({type(e).__name__}: {str(e)[:200]}).") from None
    if not isinstance(record, dict):
        raise ModelFileError(f"{p}: damaged .keras file (its metadata.json is not a JSON object).")
    return record


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


def _check_model_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path, if it is a regular file that is a zip archive."""
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
    return p


def _load(path: str | os.PathLike, what: str) -> keras.Model:
    p = _check_model_file(path, what)
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

"""What the command line prints besides its own lines: nothing, by default.

TensorFlow 2.20+ logs from C++ through absl before any Python code can
configure it ("oneDNN custom operations are on", "Could not find cuda
drivers", a ``cuInit`` error on machines without a GPU); since absl took
over, ``TF_CPP_MIN_LOG_LEVEL`` no longer silences these. So the CLI, before
it imports TensorFlow, routes the process's stderr through a pipe and drops
the lines that have the shape of those native log lines; everything else
(warnings, errors, tracebacks) passes unchanged. ``--verbose`` skips this.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import warnings

# "I0000 00:00:1795816452.353464    2223 port.cc:153] ..." (absl), the older
# "2025-09-17 14:44:05.157831: I external/...] ..." (TSL), and absl's notice
# and TensorFlow's CPU-instructions line that come with them, and the LiteRT
# interpreter's note on its CPU delegate (export --format litert).
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)"
)

BACKEND_PACKAGES = {
    "tensorflow": "tensorflow",
    "jax": "jax",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}


class BackendError(RuntimeError):
    """KERAS_BACKEND names a backend that is unknown or not installed."""


def configured_backend() -> tuple[str, str]:
    """The backend Keras will pick, and where it is set, read as Keras reads
    it: ``$KERAS_BACKEND``, else ``keras.json`` in ``$KERAS_HOME`` (default
    ``~/.keras``), else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    config = os.path.join(home, "keras.json")
    try:
        with open(config) as f:
            name = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        name = None
    return (name, config) if isinstance(name, str) and name else ("tensorflow", "the default")


def check_backend() -> str:
    """The Keras backend this process will use; a `BackendError` (one line)
    if it is unknown or its package is missing, found before Keras is
    imported (Keras itself would fail with a ModuleNotFoundError traceback)."""
    name, where = configured_backend()
    if where == "KERAS_BACKEND":
        setting, fix = f"KERAS_BACKEND={name}", "unset KERAS_BACKEND to use TensorFlow"
    else:
        setting, fix = f"{where} names the backend {name!r}", "set KERAS_BACKEND=tensorflow to use TensorFlow"
    if name not in BACKEND_PACKAGES:
        raise BackendError(f"{setting}, which is not a Keras backend (one of {', '.join(BACKEND_PACKAGES)}); {fix}.")
    package = BACKEND_PACKAGES[name]
    if importlib.util.find_spec(package) is None:
        raise BackendError(f"{setting}, but {package} is not installed: `pip install {package}`, or {fix}.")
    return name


def quiet_native_logs() -> None:
    """Drop TensorFlow's native log lines from this process's stderr (see
    the module doc), and its Python-side INFO/WARNING logs and warnings from
    other packages. Call before TensorFlow is imported; idempotent."""
    if getattr(quiet_native_logs, "_done", False):
        return
    quiet_native_logs._done = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"keras_mnist_gan(\.|$)")
    # Our own warnings are notes for the user: one line, without the
    # file, line number and source line Python adds for developers.
    warnings.formatwarning = lambda message, category, *rest, **kw: f"keras-mnist-gan: note: {message}\n"
    # matplotlib says "building the font cache" when that takes a few seconds (a busy machine): not ours to show.
    for name in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        sys.stderr.flush()
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:  # no usable fd 2 (embedded interpreters): leave stderr alone
        return

    def forward() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(read_end, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [ln + b"\n" for ln in lines if not NATIVE_LOG_LINE.match(ln)]
            if kept:
                os.write(real, b"".join(kept))
        if pending and not NATIVE_LOG_LINE.match(pending):
            os.write(real, pending)

    pump = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    pump.start()

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last write end: the pump sees EOF
        pump.join(timeout=2.0)

    atexit.register(restore)

"""A run's folder (``--out``): what belongs to it, who may write it, and
how a stopped run is picked up again.

Three rules keep a run folder safe:

- one process at a time: `RunLock` (an ``flock`` on ``OUT/.lock``, released
  by the kernel however the process ends);
- nothing is written through a symbolic link, which could point outside
  the folder: a folder holding links among the run's file names is refused,
  and whole files are written to a temporary name and renamed;
- a folder is a run's only if its config.json carries the mark train
  writes there (`MARK`); files under a run's names in any other folder are
  the user's, and neither a run nor --restart writes or deletes there. A
  folder holding a different run is an error, never overwritten.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from dataclasses import asdict

from .outputs import foreign, remove_stale_temporaries, write_atomic

RUN_FILES = ("gan.keras", "generator.keras", "history.csv", "samples.png", "curves.png", "progress.gif")
RUN_DIRS = ("samples", "tensorboard")
CONFIG = "config.json"
LOCK = ".lock"
_HINT = "use --restart to replace it (its files are deleted) or choose another --out."


class TrainingError(RuntimeError):
    """Training could not go on (for example a loss became NaN)."""


def write_text_atomic(path: str, text: str) -> None:
    """Whole-file text writes: a kill leaves the old file or the new one,
    and a symbolic link at ``path`` is replaced, not followed."""
    write_atomic(path, lambda f: f.write(text.encode()))


class RunLock:
    """Hold ``OUT/.lock`` while a process trains in ``OUT``.

    A second process on the same folder gets a `TrainingError` naming the
    first one's PID. The kernel drops the lock when the holder exits, even
    when it is killed, so a stale lock never blocks a later run.
    """

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, LOCK)
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        refuse_links(self.out_dir)
        ours = _owned(self.out_dir)
        if ours:  # not even the lock file goes into a folder of the user's files
            _read_run_config(self.out_dir, ours)
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            return self
        try:
            # O_NOFOLLOW: a link planted at .lock is an error, not a way out of --out.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as e:
            raise TrainingError(
                f"{self.path}: cannot take the run's lock ({e.strerror}); choose another --out."
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise TrainingError(
                f"{self.out_dir}: another process (PID {holder}) is training there; "
                "wait for it to finish or choose another --out."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (removing it would race)
            self._fd = None


def _owned(out_dir: str) -> list[str]:
    names = RUN_FILES + RUN_DIRS + (CONFIG,)
    return [n for n in names if os.path.lexists(os.path.join(out_dir, n))]


def refuse_links(out_dir: str) -> None:
    """A run file or folder that is a symbolic link could make a write land
    outside ``out_dir``: refuse the folder instead."""
    for name in _owned(out_dir):
        path = os.path.join(out_dir, name)
        if os.path.islink(path):
            raise TrainingError(
                f"{path} is a symbolic link; keras-mnist-gan does not write through links "
                "(the file it points to may lie outside --out): remove it or choose another --out."
            )


def _run_dir_file(rel: str) -> bool:
    """Files a run writes inside samples/ (the grids) and tensorboard/ (the
    event files of `visuals.TensorBoardLogger`)."""
    return bool(re.fullmatch(r"\.?step_\d+\.png(\.tmp-\d+)?|events\.out\.tfevents\.[^/]+", rel))


def _refuse_foreign_in_run_dirs(out_dir: str) -> None:
    """--restart deletes samples/ and tensorboard/ whole: refuse, deleting
    nothing, when they hold a file the run did not write (the rule of
    `keras_mnist_gan.outputs`)."""
    for name in RUN_DIRS:
        folder = os.path.join(out_dir, name)
        if os.path.isdir(folder):
            others = foreign(folder, _run_dir_file)
            if others:
                raise TrainingError(
                    f"{os.path.join(folder, others[0])} is not a file of the run, and --restart deletes "
                    f"{folder} whole; nothing was deleted: move it away first."
                )


MARK = {"written_by": "keras-mnist-gan"}


def _not_ours(out_dir: str, ours: list[str], why: str) -> TrainingError:
    first = os.path.join(out_dir, CONFIG if CONFIG in ours else ours[0])
    more = f" and {len(ours) - 1} more" if len(ours) > 1 else ""
    return TrainingError(
        f"{out_dir} holds files keras-mnist-gan did not write ({first}{more}: {why}); nothing was deleted: "
        "move them away or choose another --out."
    )


def _read_run_config(out_dir: str, ours: list[str]) -> dict:
    """The run's settings; a `TrainingError` unless ``out_dir/config.json``
    is one train wrote (it carries `MARK`). Without it, files under the
    run's names are the user's, and neither a resume nor --restart touches
    them."""
    cfg_path = os.path.join(out_dir, CONFIG)
    if not os.path.isfile(cfg_path):
        raise _not_ours(out_dir, ours, "no run's config.json beside them")
    try:
        with open(cfg_path) as f:
            saved = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise _not_ours(out_dir, ours, f"config.json unreadable: {e}") from None
    if not isinstance(saved, dict) or any(saved.get(k) != v for k, v in MARK.items()):
        older = isinstance(saved, dict) and isinstance(saved.get("preset"), dict) and "seed" in saved
        raise _not_ours(out_dir, ours, "a run of an older version" if older else "config.json is not a run's settings")
    if not isinstance(saved.get("preset", {}), dict):
        raise TrainingError(f'{cfg_path}: not a run\'s settings (its "preset" is not a mapping); {_HINT}')
    return saved


def prepare(out_dir: str, identity: dict, resume: bool | None) -> bool:
    """Decide whether to resume the run in ``out_dir``; clear it for a
    restart. Raises `TrainingError` when it holds a different run, or files
    that are no run's."""
    refuse_links(out_dir)
    ours = _owned(out_dir)
    checkpoint = os.path.join(out_dir, "gan.keras")
    if not ours:
        if resume:
            raise TrainingError(
                f"{out_dir}: there is no run to resume (no gan.keras); leave out --resume to start one."
            )
        return False
    saved = _read_run_config(out_dir, ours)
    if resume is False:
        _refuse_foreign_in_run_dirs(out_dir)
        for name in ours:
            path = os.path.join(out_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        return False
    # A setting added to Preset after the run was written is absent from
    # its config.json; that run trained with the setting's default.
    from .presets import Preset

    saved = {**saved, "preset": {**asdict(Preset()), **saved.get("preset", {})}}
    there, now = _flat(saved), _flat(identity)
    differ = [k for k in now if there.get(k) != now[k]]
    if differ:
        detail = "; ".join(_difference(k, there.get(k), now[k]) for k in differ)
        raise TrainingError(f"{out_dir} holds a different run ({detail}); {_HINT}")
    _check_history(os.path.join(out_dir, "history.csv"))
    if not os.path.isfile(checkpoint):
        if resume:
            raise TrainingError(f"{out_dir}: the run has no checkpoint (gan.keras) yet; use --restart.")
        return False
    return True


def _difference(key: str, there, now) -> str:
    if key == "data":  # the digits' fingerprints (MnistData.record): say so, and keep the line short
        return f"other data (digits with sha256 {str(there)[:12]}... there, {str(now)[:12]}... now)"
    return f"{key} {there!r} there, {now!r} now"


def _check_history(path: str) -> None:
    """The run goes on appending to history.csv and reads it back at its end
    (the curves): refuse one this tool did not write now, not after the
    training."""
    if not os.path.isfile(path):
        return
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingError(f"{path}: unreadable ({e}); {_HINT}") from None
    if lines and lines[0].split(",")[0] != "step":
        raise TrainingError(f"{path}: not a run's history (its header does not begin with step); {_HINT}")
    for number, line in enumerate(lines[1:], start=2):
        try:
            if line:
                fields = line.split(",")
                int(float(fields[0]))
                [float(x) for x in fields[1:]]
        except ValueError:
            raise TrainingError(f"{path}: line {number} is not a history row ({line[:40]!r}); {_HINT}") from None


def _flat(settings: dict) -> dict:
    """{"preset": {"lr_d": ...}} -> {"lr_d": ...}: name the setting that differs."""
    out = {}
    for key, value in settings.items():
        if key in ("steps", "steps_per_epoch", *MARK):
            continue  # the budget may grow: that is how a run is extended
        out.update(value if isinstance(value, dict) else {key: value})
    return out


def write_config(out_dir: str, settings: dict) -> None:
    """config.json, with the mark by which `prepare` knows the folder for a run's."""
    write_text_atomic(os.path.join(out_dir, CONFIG), json.dumps({**MARK, **settings}, indent=2))


def forget_after(out_dir: str, step: int) -> float:
    """Drop history rows and grids later than the checkpoint (the resumed
    run redoes those steps and writes them again), and temporary files of a
    save that was killed half-way. Returns the last kept row's ``wall_s``
    (0 if none): the time the run had taken before."""
    history = os.path.join(out_dir, "history.csv")
    seconds = 0.0
    if os.path.isfile(history):
        with open(history) as f:
            lines = f.read().splitlines()
        keep = lines[:1] + [ln for ln in lines[1:] if ln and int(float(ln.split(",")[0])) <= step]
        write_text_atomic(history, "\n".join(keep) + "\n")
        columns = keep[0].split(",") if keep else []
        if "wall_s" in columns and len(keep) > 1:
            try:
                seconds = float(keep[-1].split(",")[columns.index("wall_s")])
            except (ValueError, IndexError):
                seconds = 0.0
    for frame in run_frames(os.path.join(out_dir, "samples")):
        if int(os.path.basename(frame)[5:-4]) > step:
            os.remove(frame)
    # Only names of our own temporaries' pattern: the user's own files stay.
    for name in RUN_FILES + (CONFIG, "gan", "generator"):  # "gan": save_model_atomic's .gan.tmp-PID.keras
        remove_stale_temporaries(out_dir, name)
    return seconds


def run_frames(samples_dir: str) -> list[str]:
    """The run's grids in step order: the regular files named
    ``step_<step>.png`` that `callbacks.SampleGrid` writes. Anything else
    there (step_best.png, a symbolic link that may point anywhere) is not
    the run's, so it is neither read into the GIF nor deleted by a resume."""
    frames = {}
    for path in glob.glob(os.path.join(samples_dir, "step_*.png")):
        m = re.fullmatch(r"step_(\d+)\.png", os.path.basename(path))
        if m and not os.path.islink(path) and os.path.isfile(path):
            frames[int(m.group(1))] = path
    return [frames[step] for step in sorted(frames)]


def run_class_names(model_path: str | os.PathLike, num_classes: int | None) -> list[str] | None:
    """The class names of the run a model file belongs to: those the run's
    config.json beside it holds (a run on a folder of images with one
    subfolder per class), if there are ``num_classes`` of them; else None
    (the classes are known by their numbers).

    The one place that knows where class names are kept: `sample --digit
    NAME` and the web page's digit selector read them through it.
    """
    if not num_classes:
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(model_path))), CONFIG)
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > 1 << 20:  # a run's config is a few kB
            return None
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return None
    names = saved.get("class_names") if isinstance(saved, dict) else None
    if not isinstance(names, list) or len(names) != num_classes or not all(isinstance(n, str) for n in names):
        return None
    return names

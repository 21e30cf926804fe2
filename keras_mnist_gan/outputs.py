"""Writing where the user points ``--out``: never lose a file this tool did not write.

One rule for every command that writes into a place that may already exist
(``export --out``, ``web --out``, ``sample --out``, and train's run folder,
whose files rundir.py knows by name inside a folder its marked config.json
makes a run's, since a run rewrites them as it goes):

- A file target (g.onnx, digits.png) replaces only a regular file or a
  symbolic link (the link is replaced, never followed). A folder, a device or
  a FIFO there is refused.
- A folder target (a SavedModel, a site) replaces an earlier folder only if
  everything in it was written by this tool and is still as written: the
  manifest (`MANIFEST`) written into every folder the tool makes records
  each file's size and SHA-256, as pip's RECORD does. A file the manifest
  does not list, or one whose content differs from what it records (edited,
  or a planted list naming it), is the user's: the write is refused with one
  line naming the first such file, and nothing is deleted. A manifest that
  lists names without hashes vouches for nothing.
- The new version is built in a temporary ``.NAME.tmp-PID-XXXX`` beside the
  target and renamed into place, so an interrupted write leaves the old
  version or none. Where the target cannot be renamed ('.', a mount point, a
  folder whose parent is read-only) the files are moved in one by one.
  Temporaries of ours whose process is gone (killed) are removed by the next
  write to the same target.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .interrupts import raise_if_stopped
from .manifest import MANIFEST, file_record, matches, read_manifest, write_manifest

_TMP = ".tmp-"


class OutputError(ValueError):
    """A target this tool refuses to write over, named in one line."""


class WriteError(OSError):
    """Writing an output failed: the message names the user's path, never a
    temporary one; ``errno`` is kept so callers can tell a full disk."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.errno = code

    def __str__(self) -> str:
        return str(self.args[0])


def _name(target: str | os.PathLike) -> str:
    # '.' and 'a/..' have no name of their own: use the folder's real one.
    return os.path.basename(os.path.abspath(target)) or "root"


def _temp_pattern(name: str) -> re.Pattern:
    """Our temporaries for ``name``: ``.NAME.tmp-PID`` with an optional
    ``-XXXX`` or ``.ext`` after it (see `temp_name`, `staging`)."""
    return re.compile(rf"\.{re.escape(name)}{re.escape(_TMP)}(\d+)(?:[-.].*)?\Z", re.S)


def temp_name(name: str) -> str:
    """The temporary name this process writes ``name`` under, beside it."""
    return f".{name}{_TMP}{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a number we cannot ask about: leave it
    return True


def remove_stale_temporaries(directory: str | os.PathLike, name: str) -> None:
    """Remove temporaries for ``name`` in ``directory`` left by processes that
    are gone (a kill -9, a power cut). Only names of our own pattern; a
    temporary of a process still running (this one, another writer) stays."""
    pattern = _temp_pattern(name)
    try:
        found = list(os.scandir(directory))
    except OSError:
        return
    for entry in found:
        m = pattern.match(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)


def write_error(path: str | os.PathLike, e: OSError) -> WriteError:
    """``e``, raised while writing ``path`` (perhaps through a temporary
    file), as one line about ``path`` and what to do."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    problems = {
        errno.ENOENT: f"its folder {folder} does not exist; create it first or choose another path.",
        errno.ENOTDIR: f"{folder} is not a folder; choose another path.",
        errno.EISDIR: "is a folder; give a file name.",
        errno.ENOSPC: "no space left on the device while writing it; free some space and run again.",
        errno.EDQUOT: "disk quota exceeded while writing it; free some space and run again.",
        errno.EACCES: f"cannot write into {folder} (permission denied); choose another path.",
        errno.EPERM: f"cannot write into {folder} (not permitted); choose another path.",
        errno.EROFS: f"{folder} is on a read-only file system; choose another path.",
        errno.ELOOP: "is a symbolic-link loop; remove it or choose another path.",
    }
    text = problems.get(e.errno, f"cannot write it ({e.strerror or e}).")
    return WriteError(f"{path}: {text}", e.errno)


def _kind(mode: int) -> str:
    return {
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFSOCK: "a socket",
    }.get(stat.S_IFMT(mode), "not a regular file")


def check_file_target(path: str | os.PathLike, parent_must_exist: bool = True) -> None:
    """Refuse (`OutputError`) to write the file ``path`` over anything but a
    regular file or a link; with ``parent_must_exist``, also a path whose
    folder is missing (said before any work, not as a temporary file's error)."""
    shown = os.fspath(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise write_error(path, e) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"{shown} is a folder; give a file name (a folder is never replaced by a file).")
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OutputError(f"{shown} is {_kind(mode)}, not a file keras-mnist-gan wrote; choose another path.")
    folder = os.path.dirname(os.path.abspath(shown))
    if parent_must_exist and not os.path.isdir(folder):
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise OutputError(f"{shown}: its folder {folder} {what}; create it first or choose another path.")


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> str:
    """Create ``path`` with ``write(file)``, through a temporary file beside it
    and a rename; returns the path.

    An interrupted or failed write (a full disk, an encoder error) leaves
    neither a half-written file at ``path`` nor the temporary one, and fails
    with one line about ``path`` (`write_error`), not the temporary
    name. A symlink at ``path`` is replaced by the new file, never written
    through; a folder or device there is refused (`check_file_target`).
    The temporary file is created exclusively, so no link planted under its
    name is followed either.
    """
    path = os.fspath(path)
    check_file_target(path)
    directory, name = os.path.split(os.path.abspath(path))
    remove_stale_temporaries(directory, name)  # left by a killed writer of the same file
    tmp = os.path.join(directory, temp_name(name))
    try:
        if os.path.lexists(tmp):  # left by a killed process that had our PID
            os.remove(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:
        raise write_error(path, e) from None
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


def entries(folder: str | os.PathLike, skip: str | None = None) -> list[str]:
    """What ``folder`` holds, as sorted relative paths: files, links (not
    followed), other non-folders, and empty folders (with a trailing '/').
    Top-level temporaries of ours for ``skip`` (a target's name) are left out."""
    pattern = _temp_pattern(skip) if skip else None

    def walk(path: str, prefix: str) -> list[str]:
        found: list[str] = []
        with os.scandir(path) as it:
            for e in sorted(it, key=lambda e: e.name):
                if pattern and not prefix and pattern.match(e.name):
                    continue
                rel = prefix + e.name
                if e.is_dir(follow_symlinks=False):
                    found.extend(walk(e.path, rel + "/") or [rel + "/"])
                else:
                    found.append(rel)
        return found

    return walk(os.fspath(folder), "")


def _nothing(rel: str) -> bool:
    return False


def foreign(folder: str | os.PathLike, known: Callable[[str], bool] = _nothing) -> list[str]:
    """The entries of ``folder`` this tool did not write, or that changed
    since: not in its manifest, or not matching the size and hash recorded
    there. ``known`` names entries that are ours by name (a run's grids and
    event files, which a run writes as it goes)."""
    recorded = read_manifest(folder)
    others = []
    for rel in entries(folder, skip=_name(folder)):
        if rel == MANIFEST and recorded or known(rel):
            continue
        if rel not in recorded or not matches(file_record(os.path.join(folder, rel.rstrip("/"))), recorded[rel]):
            others.append(rel)
    return sorted(others, key=lambda rel: rel == MANIFEST)  # name the user's own file first


def check_folder(
    folder: str | os.PathLike, known: Callable[[str], bool] = _nothing, what: str = "a folder", flag: str = "--out"
) -> None:
    """Refuse (`OutputError`) a target folder that is not a folder, or holds
    anything this tool did not write (the first such file is named)."""
    shown = os.fspath(folder)
    if os.path.islink(shown):
        raise OutputError(
            f"{shown} is a symbolic link; keras-mnist-gan does not write through links: choose another {flag}."
        )
    if not os.path.lexists(shown):
        return
    if not os.path.isdir(shown):
        raise OutputError(f"{shown} exists and is not a folder; choose another {flag}.")
    others = foreign(shown, known)
    if others:
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        changed = " (changed since keras-mnist-gan wrote it)" if others[0] in read_manifest(shown) else ""
        raise OutputError(
            f"{shown} is not {what} keras-mnist-gan wrote: it holds other files "
            f"({os.path.join(shown, others[0])}{changed}{more}); nothing was deleted: move them away "
            f"or choose another {flag}."
        )


@contextlib.contextmanager
def staging(target: str | os.PathLike, inside: bool = False) -> Iterator[Path]:
    """A fresh temporary folder beside ``target`` (inside it, with
    ``inside``), removed on the way out however the block ends; stale ones
    of ours for the same target are removed first."""
    name = _name(target)
    where = os.path.abspath(target) if inside else os.path.dirname(os.path.abspath(target))
    remove_stale_temporaries(where, name)
    work = Path(tempfile.mkdtemp(prefix=temp_name(name) + "-", dir=where))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def install_file(target: str | os.PathLike, build: Callable[[Path], None]) -> str:
    """Write the file ``target`` with ``build(staged)`` (which creates
    ``staged``) and move it into place; returns the path."""
    check_file_target(target, parent_must_exist=False)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with staging(target) as work:
        staged = work / _name(target)
        build(staged)
        raise_if_stopped()  # a stop swallowed inside build() still leaves nothing new
        os.replace(staged, target)  # replaces a link at ``target``, never writes through it
    return os.fspath(target)


def _renamable(target: str) -> bool:
    """Whether the folder ``target`` may be moved aside whole: not the
    working directory or one above it (renaming '.' fails, and moving the
    cwd away would leave the user's shell in a deleted folder), not a mount
    point, and in a folder we may write."""
    full, cwd = os.path.realpath(target), os.path.realpath(os.getcwd())
    if cwd == full or cwd.startswith(full.rstrip(os.sep) + os.sep) or os.path.ismount(full):
        return False
    return os.access(os.path.dirname(full), os.W_OK | os.X_OK)


def write_folder(
    target: str | os.PathLike,
    build: Callable[[Path], None],
    known: Callable[[str], bool] = _nothing,
    what: str = "a folder",
    flag: str = "--out",
) -> list[str]:
    """Write the folder ``target`` with ``build(staged)`` (which creates the
    folder ``staged``), replacing an earlier one this tool wrote (see
    `check_folder`); returns what it holds now, as relative paths."""
    target = os.fspath(target)
    check_folder(target, known, what, flag)
    in_place = os.path.isdir(target) and not _renamable(target)
    if not in_place:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with staging(target, inside=in_place) as work:
        staged = work / "new"
        build(staged)
        raise_if_stopped()  # a stop swallowed inside build() still leaves nothing new
        files = {rel: file_record(staged / rel.rstrip("/")) for rel in entries(staged)}
        write_manifest(staged, files)
        if in_place:
            _merge(staged, target)
        elif os.path.lexists(target):
            os.rename(target, work / "old")  # deleted with ``work``: it held only our files
            try:
                os.rename(staged, target)
            except BaseException:
                os.rename(work / "old", target)  # the old version back, never none
                raise
        else:
            os.rename(staged, target)
    return sorted(set(files) | {MANIFEST})


def _merge(staged: Path, target: str) -> None:
    """Move ``staged``'s files into ``target`` one by one and remove our old
    ones it no longer has. The manifest first lists old and new files alike,
    so a merge stopped half-way still leaves a folder recognised as ours."""
    recorded = read_manifest(target)
    old = [rel for rel in entries(target, skip=_name(target)) if rel != MANIFEST]
    new = [rel for rel in entries(staged) if rel != MANIFEST]
    # Until the merge ends, the old and the new version of a file both count as ours.
    merged = {rel: recorded.get(rel, {}) for rel in old}
    for rel, rec in read_manifest(staged).items():
        merged[rel] = {**rec, "or": [merged[rel]]} if rel in merged else rec
    write_manifest(target, merged)
    for rel in new:
        dst = os.path.join(target, rel)
        if rel.endswith("/"):
            os.makedirs(dst, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(staged / rel, dst)
    for rel in sorted(set(old) - set(new), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(target, rel)) if rel.endswith("/") else os.remove(os.path.join(target, rel))
        parent = os.path.dirname(rel.rstrip("/"))
        while parent:  # folders it emptied go too (rmdir leaves a folder that still holds something)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(target, parent))
            parent = os.path.dirname(parent)
    os.replace(staged / MANIFEST, os.path.join(target, MANIFEST))

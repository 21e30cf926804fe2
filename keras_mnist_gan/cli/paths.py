"""The paths a command reads and writes: checked before any work, sized, and a full disk explained."""

from __future__ import annotations

import os


def _writable_dir(path: str) -> None:
    """Fail early, before minutes of training, if results cannot be written."""
    probe_dir = path
    while probe_dir and not os.path.exists(probe_dir):
        probe_dir = os.path.dirname(probe_dir)
    probe_dir = probe_dir or "."
    if not os.path.isdir(probe_dir):
        raise OSError(f"{path}: {probe_dir} exists and is not a directory.")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise OSError(f"{path}: cannot write into {os.path.abspath(probe_dir)} (permission denied).")


def _check_input(path: str | None, flag: str) -> None:
    """A symbolic-link loop or a dangling link reads as "no such file" to the
    loaders: say what it is."""
    import errno

    if not path:
        return
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP or os.path.islink(path):
            from ..saving import missing_path_error

            raise ValueError(f"{flag} {missing_path_error(path)}") from None


def _check_output_file(path: str, flag: str) -> None:
    """Before any work: a file output's folder must exist (it is not
    created), and no folder or device may stand where the file goes."""
    from ..outputs import OutputError, check_file_target

    try:
        check_file_target(path)
    except OutputError as e:
        raise ValueError(f"{flag} {e}") from None
    _writable_dir(os.path.dirname(path) or ".")


def _size(path: str) -> str:
    files = [path] if os.path.isfile(path) else [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    return f"{sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB"


def _full_disk(e: OSError, out: str) -> OSError:
    """A full disk in the middle of a run: what was being written, and that
    the last checkpoint is intact (every file is written beside its old
    version and renamed, so a failed write leaves the old one)."""
    import errno

    from ..outputs import WriteError, write_error

    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return e
    what = str(e) if isinstance(e, WriteError) else str(write_error(e.filename or out, e))
    checkpoint = os.path.join(out, "gan.keras")
    kept = (
        f"the last checkpoint, {checkpoint}, is intact: free some space and run the same command to resume"
        if os.path.isfile(checkpoint)
        else "no checkpoint had been saved yet"
    )
    return WriteError(f"{what.rstrip('.').removesuffix('; free some space and run again')}; {kept}.", e.errno)

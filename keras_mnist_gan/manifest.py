"""The manifest every folder the tool writes holds (`MANIFEST`): each file's
size and SHA-256, as pip's RECORD does, so that a later write recognises
its own files by content and never takes the user's for them."""

from __future__ import annotations

import json
import os
import stat

MANIFEST = ".keras-mnist-gan-files.json"


def file_record(path: str | os.PathLike) -> dict | None:
    """What the manifest records of the entry at ``path``: a regular file's
    size and SHA-256; {} for a folder; None for anything else (a link, a
    device), which the tool never writes into a folder."""
    import hashlib

    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return {}
    if not stat.S_ISREG(st.st_mode):
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return {"bytes": st.st_size, "sha256": h.hexdigest()}


def read_manifest(folder: str | os.PathLike) -> dict[str, dict]:
    """The entries our manifest in ``folder`` records, with their size and
    hash; empty when there is none, it is not one of ours, or it lists names
    without hashes."""
    path = os.path.join(folder, MANIFEST)
    if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 1 << 24:
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {rel: rec for rel, rec in files.items() if isinstance(rec, dict)}


def matches(found: dict | None, rec: dict) -> bool:
    """Whether an entry found as ``found`` (`file_record`) is the one ``rec``
    records (or, mid-merge, one of the versions it lists under "or")."""
    earlier = rec.get("or") if isinstance(rec.get("or"), list) else []
    versions = [{k: v for k, v in rec.items() if k != "or"}, *earlier]
    return found is not None and found in versions


def write_manifest(folder: str | os.PathLike, files: dict[str, dict]) -> None:
    listed = {rel: files[rel] for rel in sorted(files) if rel != MANIFEST}
    text = json.dumps({"written_by": "keras-mnist-gan", "files": listed}, indent=1) + "\n"
    tmp = os.path.join(folder, f".{MANIFEST}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(folder, MANIFEST))

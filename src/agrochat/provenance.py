"""What a results file read and what produced it: the ``"provenance"`` entry of every results JSON.

:func:`provenance` returns the split read, the model folder's hash, the git commit, the machine, the UTC date
and the command line. Reading the official test split is announced on stderr, once per results file, so a run
that reads it cannot pass unnoticed (test rows are read once per shipped model, behind ``--split test``)."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from agrochat.errors import ResourceNotFoundError

REPO = Path(__file__).resolve().parents[2]
# documentation beside the weights (the model card quotes the evaluation, so it is written after it): not hashed
UNHASHED_SUFFIXES = (".md",)


def model_hash(path: str | Path | None) -> str | None:
    """sha256 over the model folder's files (relative path and bytes of each, sorted by path; ``*.md`` left out);
    ``None`` for no folder. The same files give the same hash wherever the folder lies."""
    if path is None:
        return None
    root = Path(path)
    if not root.is_dir():
        raise ResourceNotFoundError(f"{root}: no such model folder")
    h = hashlib.sha256()
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix not in UNHASHED_SUFFIXES]
    for p in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the code that runs, or ``None`` (no git, not a checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def machine(device=None) -> dict:
    """Platform, CPU count, torch version and the device the model ran on (default: cuda if present, else cpu)."""
    try:
        import torch
    except ImportError:
        torch = None
    if device is None:
        device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and torch is not None and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(device)})"
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__ if torch is not None else None,
        "device": device,
    }


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed (an absolute program path, e.g. a virtualenv's ``agrochat``, shortened to its name)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).is_absolute():
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def provenance(
    split: str | None,
    model: str | Path | None = None,
    rows: int | None = None,
    data: str | Path | None = None,
    device=None,
) -> dict:
    """The ``"provenance"`` entry of a results file.

    ``split``: the split read (``"validation"``, ``"test"``, ...; ``None``: no benchmark rows); ``model``: the model
    folder (hashed); ``rows``: how many rows of the split were read; ``data``: where they were read from. With
    ``split == "test"``, prints "reading the official test split (n rows) for <hash[:12]>" to stderr."""
    sha = model_hash(model)
    if split == "test":
        print(
            f"reading the official test split ({rows if rows is not None else '?'} rows) for "
            f"{sha[:12] if sha else 'a model with no folder'}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "split": split,
        "rows": rows,
        "data": str(data) if data is not None else None,
        "model": str(model) if model is not None else None,
        "model_sha256": sha,
        "git_commit": git_commit(),
        "machine": machine(device),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
    }

"""FASTA reading that streams (bounded memory) and says what is wrong and where."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agrochat.errors import InputError


class FastaError(InputError):
    """A FASTA file is malformed (the message names file and line)."""


@dataclass
class Record:
    id: str
    sequence: str
    line: int  # line of the header


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)  # newline=None: \r\n and \r become \n


def iter_fasta(path: str | Path, allow_duplicates: bool = False) -> Iterator[Record]:
    """Yield records one by one (see :func:`_iter_fasta`); unreadable bytes become :class:`FastaError`."""
    try:
        yield from _iter_fasta(Path(path), allow_duplicates)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as e:
        raise FastaError(f"{path}: not a readable text FASTA file ({e.__class__.__name__}: {e})") from None


def _iter_fasta(path: Path, allow_duplicates: bool) -> Iterator[Record]:
    """Yield records one by one. Plain or gzip; Windows line endings are fine.

    Errors (:class:`FastaError`, naming file and line): sequence text before the first header, an empty
    record, a duplicate id (unless ``allow_duplicates``), an empty file.
    """
    if not path.is_file():
        raise FastaError(f"{path}: no such file")
    seen: set[str] = set()
    rid, start, parts = None, 0, []
    n = 0
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith(">"):
                if rid is not None:
                    n += 1
                    yield _finish(path, rid, start, parts)
                rid = line[1:].strip().split()[0] if line[1:].strip() else f"record{n + 1}"
                if rid in seen and not allow_duplicates:
                    raise FastaError(f"{path}:{lineno}: duplicate id {rid!r}")
                seen.add(rid)
                start, parts = lineno, []
            elif rid is None:
                raise FastaError(f"{path}:{lineno}: sequence before the first '>' header (not FASTA?)")
            else:
                parts.append(line)
    if rid is not None:
        n += 1
        yield _finish(path, rid, start, parts)
    if n == 0:
        raise FastaError(f"{path}: no FASTA records")


def _finish(path: Path, rid: str, line: int, parts: list[str]) -> Record:
    if not parts:
        raise FastaError(f"{path}:{line}: record {rid!r} has no sequence")
    return Record(rid, "".join(parts), line)


def read_fasta(path: str | Path) -> list[Record]:
    return list(iter_fasta(path))

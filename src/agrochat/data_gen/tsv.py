"""Line-numbered TSV reading with column, sequence and number checks."""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import BadInputError, BadRowLog, MissingSourceError

_NON_ACGT = re.compile(r"[^ACGT]")
NA_VALUES = frozenset({"NA", "NaN", "nan", "#N/A"})


def open_text(path: str | Path):
    """Open a plain or gzip-compressed text file."""
    path = Path(path)
    if not path.exists():
        raise MissingSourceError(f"source file not found: {path}")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_tsv(
    path: str | Path, required: Sequence[str], log: BadRowLog, comment: str | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each data line of a tab-separated file with a header.

    Lines starting with ``comment`` are skipped (but counted for line numbers). A header that lacks a
    ``required`` column is reported through ``log`` (raises, or skips the whole file); a row with the wrong
    number of fields is reported and skipped.
    """
    with open_text(path) as fh:
        header: list[str] | None = None
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if comment and line.startswith(comment):
                continue
            if header is None:
                header = line.split("\t")
                missing = [c for c in required if c not in header]
                if missing:
                    log.bad(
                        path,
                        lineno,
                        f"missing columns: {', '.join(missing)} (header has: {', '.join(header)})",
                    )
                    return
                continue
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                log.bad(
                    path,
                    lineno,
                    f"wrong field count: expected {len(header)} tab-separated fields, got {len(fields)}",
                )
                continue
            yield lineno, dict(zip(header, fields, strict=True))
        if header is None:
            log.bad(path, None, "empty file: no header line")


def clean_sequence(value: str, path: str | Path, line: int, log: BadRowLog) -> str | None:
    """Upper-case a DNA sequence and check it is non-empty ACGT; ``None`` (after reporting) if not."""
    seq = value.strip().upper()
    if not seq:
        log.bad(path, line, "empty sequence")
        return None
    bad = _NON_ACGT.search(seq)
    if bad:
        log.bad(
            path, line, f"non-ACGT characters in sequence: {bad.group(0)!r} at position {bad.start() + 1}"
        )
        return None
    return seq


def parse_label(
    value: str, column: str, path: str | Path, line: int, log: BadRowLog, allow_na: bool = False
) -> tuple[bool, float | None]:
    """Parse a numeric cell. Returns ``(ok, value)``; ``(True, None)`` for an allowed NA.

    ``ok`` is False when the cell was bad (empty, not a number, infinite); the caller skips the row.
    """
    text = value.strip()
    if allow_na and text in NA_VALUES:
        return True, None
    if not text:
        log.bad(path, line, f"empty label in column {column!r}")
        return False, None
    try:
        number = float(text)
    except ValueError:
        log.bad(path, line, f"label is not a number in column {column!r}: {text!r}")
        return False, None
    if not math.isfinite(number):
        if allow_na:
            return True, None
        log.bad(path, line, f"label is not finite in column {column!r}: {text!r}")
        return False, None
    return True, number


__all__ = ["BadInputError", "clean_sequence", "open_text", "parse_label", "read_tsv"]

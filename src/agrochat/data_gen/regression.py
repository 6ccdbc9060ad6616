"""Plain (non-chat) regression rows for a direct regression training stage.

``load_regression_rows(data_dir, split)`` returns one dict per (sequence, task key)::

    {"id": str, "sequence": str, "key": str, "target": float, "baseline": float | None,
     "group": str, "split": str}

``data_dir`` may be a build output directory (reads ``regression/<split>.jsonl`` written by the build) or a
source data directory (the rows are computed from the sources with the same leak removal and split rules,
so they match the conversations of a build from that directory).
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from pathlib import Path

from agrochat.errors import ConfigError

from .collect import collect_measurements
from .errors import BadRowLog, NoSplitRowsError
from .paths import resolve_data_dir
from .sources import Measurement

SPLIT_NAMES = ("train", "validation", "test")


def grouped_lines(rows: list[Measurement], split: str) -> list[dict]:
    """On-disk form: one line per sequence with all its measurements (keeps multi-tissue rows compact)."""
    by_seq: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in rows:
        if m.split == split:
            by_seq[(m.sequence, m.group)].append(m)
    out = []
    for (seq, group), ms in sorted(by_seq.items()):
        out.append(
            {
                "sequence": seq,
                "group": group,
                "split": split,
                "measurements": [
                    {"id": f"{m.key}|{m.name}", "key": m.key, "target": m.value, "baseline": m.baseline}
                    for m in sorted(ms, key=lambda x: (x.key, x.name))
                ],
            }
        )
    return out


def write_regression(rows: list[Measurement], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLIT_NAMES:
        with open(out_dir / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for line in grouped_lines(rows, split):
                fh.write(json.dumps(line) + "\n")


def _expand(line: dict) -> list[dict]:
    return [
        {
            "id": m["id"],
            "sequence": line["sequence"],
            "key": m["key"],
            "target": m["target"],
            "baseline": m["baseline"],
            "group": line["group"],
            "split": line["split"],
        }
        for m in line["measurements"]
    ]


@functools.lru_cache(maxsize=3)
def _source_lines(data_dir: str, split: str, on_bad: str) -> tuple[dict, ...]:
    """Grouped rows of one split computed from a source directory; kept, since every key asks again (the
    sources are read-only inputs)."""
    rows, _ = collect_measurements(Path(data_dir), BadRowLog(on_bad=on_bad))
    return tuple(grouped_lines(rows, split))


def load_regression_rows(
    data_dir: str | Path | None = None,
    split: str = "train",
    keys: list[str] | None = None,
    on_bad: str = "error",
) -> list[dict]:
    """Regression rows of one split, optionally only for some task ``keys`` (see the module docstring)."""
    if split not in SPLIT_NAMES:
        raise ConfigError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
    wanted = set(keys) if keys else None
    built = Path(data_dir) / "regression" / f"{split}.jsonl" if data_dir is not None else None
    if built is not None and built.exists():
        out = []
        with open(built, encoding="utf-8") as fh:
            for text in fh:
                out.extend(r for r in _expand(json.loads(text)) if wanted is None or r["key"] in wanted)
        return out
    out = []
    for line in _source_lines(str(resolve_data_dir(data_dir)), split, on_bad):
        out.extend(r for r in _expand(line) if wanted is None or r["key"] in wanted)
    return out


def rows_by_key(
    data_dir: str | Path | None, split: str, keys: list[str], required: bool = True
) -> dict[str, list[dict]]:
    """Rows of ``split`` per key of ``keys`` (in that order). A key without rows there raises
    :class:`NoSplitRowsError` (``required``) or is left out (then only no rows for any key raises)."""
    by_key: dict[str, list[dict]] = {k: [] for k in keys}
    for r in load_regression_rows(data_dir, split, keys=keys):
        by_key[r["key"]].append(r)
    empty = [k for k, rs in by_key.items() if not rs]
    if empty and (required or len(empty) == len(by_key)):
        where = data_dir if data_dir is not None else "the source data"
        raise NoSplitRowsError(
            f"{', '.join(empty)}: no {split} rows in {where} (that dataset has no {split} split); "
            f"choose another --key or --split"
        )
    return {k: rs for k, rs in by_key.items() if rs}

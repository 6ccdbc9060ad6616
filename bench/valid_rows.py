"""The written validation rows of phrasing sets: 1 row in 7 by a hash of file name and id, the rule
``agrochat train-decoder planner --phrasings`` keeps apart (``chat/phrasings.py`` ``written_examples``).

    python bench/valid_rows.py runs/valid_rows.jsonl bench/phrasings/{dev,train_a,train_b}.jsonl
    agrochat eval --intents runs/valid_rows.jsonl --baseline-planner runs/other-planner
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path


def valid_rows(paths: list[str], valid_every: int = 7) -> list[dict]:
    rows = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            row = json.loads(line) if line.strip() else None
            if row and zlib.crc32(f"{Path(path).name}:{row.get('id')}".encode()) % valid_every == 0:
                rows.append(row)
    return rows


if __name__ == "__main__":
    out, *paths = sys.argv[1:]
    rows = valid_rows(paths)
    Path(out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} validation rows -> {out}")

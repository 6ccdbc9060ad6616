"""Where the source data and the shipped fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

from ..domain.paths import MOTIFS_DIR
from .errors import MissingSourceError

PACKAGE_DIR = Path(__file__).resolve().parent
FIXTURES_DIR = PACKAGE_DIR / "fixtures"
MINI_DATA_DIR = FIXTURES_DIR / "mini_data"
DATA_ENV = "AGROCHAT_DATA_DIR"


def data_dir_candidates() -> list[Path]:
    """Places searched for the shared source data, in order."""
    out = []
    if os.environ.get(DATA_ENV):
        out.append(Path(os.environ[DATA_ENV]))
    out.append(Path.cwd().parent / "shared" / "data")
    out.append(PACKAGE_DIR.parents[3] / "shared" / "data")
    out.append(Path("/work/shared/data"))
    return out


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the source data directory.

    An explicit ``data_dir`` must exist. Otherwise ``$AGROCHAT_DATA_DIR``, ``../shared/data`` relative to the
    working directory and to the repository, then ``/work/shared/data`` are tried.
    """
    if data_dir is not None:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise MissingSourceError(f"data directory not found: {path}")
        return path.resolve()
    for cand in data_dir_candidates():
        if (cand / "promoters").is_dir() or (cand / "terminators").is_dir():
            return cand.resolve()
    tried = ", ".join(str(c) for c in data_dir_candidates())
    raise MissingSourceError(f"no source data directory found (tried {tried}); pass --data-dir")


def motif_file(data_dir: Path | None, name: str) -> Path:
    """A MEME file from ``<data_dir>/promoters/jores2021_motifs`` if present, else the shipped copy."""
    if data_dir is not None:
        cand = Path(data_dir) / "promoters" / "jores2021_motifs" / name
        if cand.exists():
            return cand
    return MOTIFS_DIR / name

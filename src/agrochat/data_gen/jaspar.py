"""The JASPAR CORE plant motifs as a MEME file, built once from the database pyjaspar ships.

JASPAR (Rauluseviciute et al., Nucleic Acids Res. 2024, doi:10.1093/nar/gkad1059; CC BY 4.0) is the open
database of curated transcription-factor binding profiles. The file written here is the one agrochat ships
(``domain/resources/motifs/JASPAR2026_CORE_plants.meme``) and names region matches with: each motif as
``MOTIF <matrix id> <name>`` with its letter-probability matrix, from the counts with a pseudocount of 0.25 per
base (MEME's convention for converted count matrices is to add a small pseudocount; the scanners add their own).

    agrochat data jaspar --out src/agrochat/domain/resources/motifs/JASPAR2026_CORE_plants.meme
"""

from __future__ import annotations

from pathlib import Path

from agrochat.errors import ResourceNotFoundError

BASES = "ACGT"
PSEUDOCOUNT = 0.25


def plant_motifs(release: str = "JASPAR2026") -> list:
    """The latest version of every CORE plant profile of ``release`` (Bio.motifs objects from pyjaspar)."""
    try:
        from pyjaspar import jaspardb
    except ImportError as e:
        raise ResourceNotFoundError(
            "building the JASPAR motif file needs pyjaspar: pip install 'agrochat[motifs]'"
        ) from e
    db = jaspardb(release=release)
    return db.fetch_motifs(collection="CORE", tax_group=["plants"])


def meme_text(motifs: list, release: str) -> str:
    """MEME minimal format (version 4) for ``motifs``: ``MOTIF <matrix id> <name>|<family>``, the matrix, its
    URL; ``release`` is named in the file's first comment-free line after the header (MEME has no comments)."""
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {BASES}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        "A 0.25 C 0.25 G 0.25 T 0.25",
        "",
    ]
    del release  # the release is recorded beside the file (SOURCE.md) and in its name
    for m in sorted(motifs, key=lambda m: m.matrix_id):
        counts = [[float(m.counts[b][i]) for b in BASES] for i in range(len(m))]
        family = "/".join(m.tf_family or []) or "unknown family"
        name = f"{m.name}|{family}".replace(" ", "_")
        lines.append(f"MOTIF {m.matrix_id} {name}")
        nsites = int(round(sum(counts[0]))) if counts else 0
        lines.append(f"letter-probability matrix: alength= 4 w= {len(m)} nsites= {nsites} E= 0")
        for row in counts:
            total = sum(row) + 4 * PSEUDOCOUNT
            lines.append(" ".join(f"{(c + PSEUDOCOUNT) / total:.6f}" for c in row))
        lines.append(f"URL https://jaspar.elixir.no/matrix/{m.matrix_id}/")
        lines.append("")
    return "\n".join(lines)


def write_jaspar_meme(out: str | Path, release: str = "JASPAR2026") -> tuple[Path, int]:
    """Write the CORE plant profiles of ``release`` to ``out``; returns the path and the number of motifs."""
    motifs = plant_motifs(release)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(meme_text(motifs, release))
    return out, len(motifs)

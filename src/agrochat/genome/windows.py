"""The model's windows in a genome, strand-aware, and the same windows with a variant applied.

Coordinates are 1-based and inclusive, on the forward strand, as in GFF and VCF.

- **Core promoter**: -165..+5 around the annotated TSS (the first transcribed base is +1; there is no 0): the
  170-bp window of the promoter data (Jores et al. 2021, whose promoters span -165..+5). Forward strand, TSS at
  ``s``: ``s-165 .. s+4``; reverse strand, TSS at the transcript's end ``e``: ``e-4 .. e+165``, reverse-complemented.
- **Terminator**: 170 nt centred on the poly(A) cleavage site (Gorjifard et al. 2024: terminators "centred on the
  primary or secondary poly(A) cleavage site"), the annotated 3' end taken as the site: 85 bases before the site,
  the site (0-based index 85 of the window, as :func:`agrochat.domain.motifs.terminator_rel` counts) and 84 after.

A variant is applied to a region around the window and the window is cut again around its anchor (TSS or
cleavage site), so an indel upstream of the anchor moves the window's far end, never the anchor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agrochat.errors import InputError

PROMOTER = "promoter"
TERMINATOR = "terminator"
KINDS = (PROMOTER, TERMINATOR)
# bases before the anchor, bases from the anchor on (anchor included), per window kind
SPAN = {PROMOTER: (165, 5), TERMINATOR: (85, 85)}
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


class RefMismatch(InputError):
    """A variant's reference allele is not the genome's bases at its position."""


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class Feature:
    """An annotated transcript (or gene): where it starts and ends on the forward strand, and its strand."""

    id: str
    gene_id: str
    chrom: str
    start: int
    end: int
    strand: str

    def __post_init__(self) -> None:
        if self.strand not in ("+", "-"):
            raise InputError(f"{self.id}: strand must be + or -, not {self.strand!r}")
        if not 1 <= self.start <= self.end:
            raise InputError(f"{self.id}: bad coordinates {self.start}..{self.end}")


@dataclass(frozen=True)
class Window:
    """A model window of ``feature``: ``kind``, its span ``start..end`` and its ``anchor`` (TSS or 3' end) on the
    forward strand; the sequence is read 5'->3' on the feature's strand."""

    feature: Feature
    kind: str
    start: int
    end: int
    anchor: int

    @property
    def strand(self) -> str:
        return self.feature.strand

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def window(feature: Feature, kind: str) -> Window:
    """The ``kind`` window of ``feature``."""
    if kind not in KINDS:
        raise InputError(f"window kind must be one of {KINDS}, not {kind!r}")
    plus = feature.strand == "+"
    if kind == PROMOTER:
        anchor = feature.start if plus else feature.end
    else:
        anchor = feature.end if plus else feature.start
    start, end = _span(kind, feature.strand, anchor)
    return Window(feature, kind, start, end, anchor)


def _span(kind: str, strand: str, anchor: int) -> tuple[int, int]:
    before, from_anchor = SPAN[kind]
    if strand == "+":
        return anchor - before, anchor + from_anchor - 1
    return anchor - from_anchor + 1, anchor + before


def oriented(seq: str, strand: str) -> str:
    """A forward-strand stretch read 5'->3' on ``strand``."""
    return seq if strand == "+" else reverse_complement(seq)


@dataclass(frozen=True)
class Variant:
    """One allele of a VCF record: ``ref`` at ``pos`` replaced by ``alt`` (forward strand, 1-based)."""

    chrom: str
    pos: int
    ref: str
    alt: str

    @property
    def end(self) -> int:
        """Last reference base the variant covers."""
        return self.pos + len(self.ref) - 1

    @property
    def name(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt}"

    def overlaps(self, w: Window) -> bool:
        return w.feature.chrom == self.chrom and self.pos <= w.end and self.end >= w.start


Fetch = Callable[[str, int, int], str]
"""``fetch(chrom, start, end)``: the forward-strand bases ``start..end`` (1-based, inclusive)."""


def alt_window(w: Window, v: Variant, fetch: Fetch) -> str:
    """The sequence of window ``w`` (oriented) in a genome carrying ``v``: the variant applied to the region
    around the window, the window cut again around its anchor. The anchor moves with an indel before it (forward
    strand); a variant that covers the anchor keeps it at the same offset within the allele, or on the allele's last
    base when the allele is shorter."""
    if not v.overlaps(w):
        raise InputError(f"{v.name} does not overlap the {w.kind} window of {w.feature.id}")
    margin = max(len(v.ref), len(v.alt)) + 1
    lo = min(w.start, v.pos) - margin
    hi = max(w.end, v.end) + margin
    region = fetch(w.feature.chrom, lo, hi)
    at = v.pos - lo  # 0-based offset of the variant in the region
    if region[at : at + len(v.ref)].upper() != v.ref.upper():
        raise RefMismatch(
            f"{v.name}: the reference allele does not match the genome ({region[at : at + len(v.ref)]!r})"
        )
    alt_region = region[:at] + v.alt + region[at + len(v.ref) :]
    shift = len(v.alt) - len(v.ref)
    anchor = w.anchor - lo  # 0-based offset of the anchor in the reference region
    if w.anchor > v.end:
        anchor += shift
    elif w.anchor >= v.pos:  # the variant covers the anchor
        anchor = at + min(w.anchor - v.pos, max(len(v.alt) - 1, 0)) if v.alt else at
    start, end = _span(w.kind, w.strand, anchor)  # 0-based offsets now
    return oriented(alt_region[start : end + 1], w.strand)

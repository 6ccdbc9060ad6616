"""Variant specs: parse them, check them against the sequence, and apply them.

Grammar (several edits separated by commas, semicolons or spaces; they are applied together):

- ``G-30A``: a substitution at a coordinate relative to the TSS (promoters; no position 0, ``-1`` is the base
  just upstream of the TSS, ``+1`` the TSS) or to the cleavage site (terminators; 0 is the central base). The
  sign makes the coordinate relative.
- ``G140A``: a substitution at a 1-based position in the sequence (no sign).
- ``ko:TATA`` (or ``knockout:TATA``): destroy a motif the annotator finds in this sequence (``TATA``, ``Inr``,
  ``BREu``, ``BREd``, ``TCT``, ``Ypatch``, ``TF_45``, ``AATAAA``, ``AATAAA-like``): its bases are replaced by random
  bases, several times, and the effects averaged (see :func:`knockouts`).
- ``ins:TATA@-30``: write the motif's consensus over the bases centred at that coordinate (or 1-based position
  without sign); the length stays the same.

Every bad spec (wrong reference base, position outside the sequence, unknown or absent motif) raises
:class:`VariantError` with a one-line message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from agrochat.domain.explain import element_mentions
from agrochat.domain.motifs import (
    CPE_NAMES,
    PAS_CANONICAL,
    PAS_VARIANT,
    Annotation,
    MotifHit,
    default_scanner,
    promoter_index,
    promoter_rel,
    terminator_rel,
)
from agrochat.errors import InputError

BASES = "ACGT"
_SUB = re.compile(r"^([ACGT])([+-]?)(\d+)([ACGT])$")
_KO = re.compile(r"^(?:ko|knockout):([A-Za-z0-9_-]+)$", re.I)
_INS = re.compile(r"^(?:ins|insert):([A-Za-z0-9_-]+)@([+-]?)(\d+)$", re.I)
_ALIASES = {
    "tata": "TATA",
    "tata box": "TATA",
    "inr": "Inr",
    "initiator": "Inr",
    "breu": "BREu",
    "bred": "BREd",
    "tct": "TCT",
    "ypatch": "Ypatch",
    "y patch": "Ypatch",
    "y-patch": "Ypatch",
    "aataaa": PAS_CANONICAL,
    "aataaa-like": PAS_VARIANT,
    "pas": PAS_CANONICAL,
}


class VariantError(InputError):
    """A variant spec that does not fit the sequence (the message is one line)."""


@dataclass(frozen=True)
class Substitution:
    index: int  # 0-based position in the sequence
    ref: str
    alt: str
    label: str  # as written by the user ("G-30A")


@dataclass(frozen=True)
class Knockout:
    hit: MotifHit
    label: str


@dataclass(frozen=True)
class Insertion:
    name: str
    start: int  # 0-based first base written
    bases: str
    label: str


Edit = Substitution | Knockout | Insertion


def motif_name(word: str) -> str:
    """The annotator's name for a motif word (``tata`` -> ``TATA``, ``tf_45`` -> ``TF_45``); unknown words raise."""
    w = word.strip().lower()
    if w in _ALIASES:
        return _ALIASES[w]
    m = re.fullmatch(r"tf_?(\d+)", w)
    if m:
        return f"TF_{int(m.group(1))}"
    raise VariantError(
        f"unknown motif {word!r}: use TATA, Inr, BREu, BREd, TCT, Ypatch, TF_<n> (1-72) or AATAAA"
    )


def coordinate(sign: str, number: str, length: int, kind: str) -> int:
    """0-based index of a spec coordinate: signed = relative to the TSS / cleavage site, unsigned = 1-based."""
    n = int(number)
    if sign:
        rel = n if sign == "+" else -n
        if kind == "promoter":
            if rel == 0:
                raise VariantError(
                    "promoter coordinates have no position 0 (-1 is just upstream of the TSS, +1 the TSS)"
                )
            index = promoter_index(rel, length)
        else:
            index = rel + length // 2
        where = f"{rel:+d}"
        lo, hi = _rel_range(length, kind)
        if not 0 <= index < length:
            raise VariantError(f"position {where} is outside the sequence (it spans {lo:+d} to {hi:+d})")
        return index
    if not 1 <= n <= length:
        raise VariantError(f"position {n} is outside the sequence (1 to {length})")
    return n - 1


def _rel_range(length: int, kind: str) -> tuple[int, int]:
    rel = promoter_rel if kind == "promoter" else terminator_rel
    return rel(0, length), rel(length - 1, length)


def parse(
    spec: str, sequence: str, kind: str = "promoter", annotation: Annotation | None = None
) -> list[Edit]:
    """Edits of ``spec`` checked against ``sequence`` (normalised, upper case)."""
    tokens = [t for t in re.split(r"[,;\s]+", spec.strip()) if t]
    if not tokens:
        raise VariantError("empty variant spec: write e.g. G-30A, A140G, ko:TATA or ins:TATA@-30")
    edits: list[Edit] = []
    for tok in tokens:
        edits.append(_parse_one(tok, sequence, kind, annotation))
    taken: dict[int, str] = {}
    for e in edits:
        span = (
            range(e.index, e.index + 1)
            if isinstance(e, Substitution)
            else range(e.hit.start, e.hit.end)
            if isinstance(e, Knockout)
            else range(e.start, e.start + len(e.bases))
        )
        for i in span:
            if i in taken:
                raise VariantError(f"{e.label} and {taken[i]} change the same base (position {i + 1})")
            taken[i] = e.label
    return edits


def _found(names) -> str:
    """What the annotator found, for an error message: the named elements, then at most three profiles."""
    names = sorted(names)
    named = [n for n in names if not n.startswith("TF_")]
    profiles = [n for n in names if n.startswith("TF_")]
    shown = named + profiles[:3]
    n = len(profiles) - 3
    more = f" and {n} more profile{'s' if n > 1 else ''}" if n > 0 else ""
    return ", ".join(shown) + more if shown else "none"


def _parse_one(tok: str, seq: str, kind: str, annotation: Annotation | None) -> Edit:
    m = _SUB.match(tok)
    if m:
        ref, sign, num, alt = m.groups()
        i = coordinate(sign, num, len(seq), kind)
        if seq[i] != ref:
            raise VariantError(f"{tok}: the reference base at {sign}{num} is {seq[i]}, not {ref}")
        if ref == alt:
            raise VariantError(f"{tok}: reference and alternative base are the same")
        return Substitution(i, ref, alt, tok)
    m = _KO.match(tok)
    if m:
        name = motif_name(m.group(1))
        ann = annotation or default_scanner().annotate(seq, kind)
        hit = ann.get(name)
        if hit is None:
            found = _found(ann.names())
            raise VariantError(f"{tok}: the annotator finds no {name} in this sequence (found: {found})")
        return Knockout(hit, tok)
    m = _INS.match(tok)
    if m:
        name, sign, num = m.groups()
        name = motif_name(name)
        bases = consensus(name)
        centre = coordinate(sign, num, len(seq), kind)
        start = centre - (len(bases) - 1) // 2
        if start < 0 or start + len(bases) > len(seq):
            raise VariantError(f"{tok}: a {len(bases)}-bp {name} centred there does not fit in the sequence")
        return Insertion(name, start, bases, tok)
    raise VariantError(
        f"cannot read variant {tok!r}: write a substitution like G-30A (relative to the TSS) or A140G (1-based), "
        "ko:TATA to knock out a motif, or ins:TATA@-30 to insert one"
    )


def consensus(name: str) -> str:
    """The most likely base at each column of a motif's PWM (AATAAA for the poly(A) signals)."""
    if name in (PAS_CANONICAL, PAS_VARIANT):
        return PAS_CANONICAL
    sc = default_scanner()
    pwm = sc.cpe.get(name) or next((p for p in sc.tfs if p.name == name), None)
    if pwm is None:
        raise VariantError(f"unknown motif {name!r}")
    return "".join(BASES[j] for j in pwm.matrix.argmax(axis=1))


def apply(sequence: str, edits: list[Edit], rng: np.random.Generator | None = None) -> str:
    """``sequence`` with every edit applied; knockouts draw their random bases from ``rng`` (a different base
    from the original at every position, so each draw destroys the motif)."""
    rng = rng or np.random.default_rng(0)
    s = list(sequence)
    for e in edits:
        if isinstance(e, Substitution):
            s[e.index] = e.alt
        elif isinstance(e, Insertion):
            s[e.start : e.start + len(e.bases)] = e.bases
        else:
            for i in range(e.hit.start, e.hit.end):
                s[i] = rng.choice([b for b in BASES if b != sequence[i]])
    return "".join(s)


def knockout_edits(annotation: Annotation) -> list[Knockout]:
    """One knockout per motif the annotator found (core elements first)."""
    order = {n: i for i, n in enumerate(CPE_NAMES)}
    hits = sorted(annotation.hits, key=lambda h: (order.get(h.name, len(order)), h.start))
    return [Knockout(h, f"ko:{h.name}") for h in hits]


def describe(edit: Edit, kind: str, length: int) -> str:
    """A plain-language description of one edit."""
    rel = promoter_rel if kind == "promoter" else terminator_rel
    anchor = "TSS" if kind == "promoter" else "cleavage site"
    if isinstance(edit, Substitution):
        return f"{edit.ref}->{edit.alt} at {rel(edit.index, length):+d} (base {edit.index + 1})"
    if isinstance(edit, Insertion):
        centre = edit.start + (len(edit.bases) - 1) // 2
        return f"{edit.name} ({edit.bases}) written over the bases centred at {rel(centre, length):+d} relative to the {anchor}"
    h = edit.hit
    return f"{h.name} knocked out (bases {h.start + 1}-{h.end}, centred at {h.rel_pos:+d})"


# substitutions in words: (ref, position, alt) group names; ref may be missing (then read from the sequence)
SUB_IN_WORDS = [
    re.compile(
        r"\b(?P<ref>[ACGT])\s*(?:>|->|→|to)\s*(?P<alt>[ACGT])\s+at\s+(?:(?:position|pos\.?)\s*)?(?P<pos>[+-]?\d{1,4})\b",
        re.I,
    ),
    re.compile(
        r"\b(?:position|pos\.?|base)\s+(?P<pos>[+-]?\d{1,4})\s*(?:\((?P<ref>[ACGT])\))?\s*"
        r"(?:(?:went|goes|changed|changes|mutated|is\s+changed)\s+)?"
        r"(?:from\s+(?P<ref2>[ACGT])\s+)?(?:to|for|into|->|>)\s+(?:an?\s+)?(?P<alt>[ACGT])\b",
        re.I,
    ),
    re.compile(
        r"\bthe\s+(?P<ref>[ACGT])\s+at\s+(?:position\s+)?(?P<pos>[+-]?\d{1,4})\s+(?:to|into|for|with|by)\s+"
        r"(?:an?\s+)?(?P<alt>[ACGT])\b",
        re.I,
    ),
    re.compile(
        r"\bposition\s+(?P<pos>[+-]?\d{1,4})\s+(?:was|were|is|became|becomes)\s+(?:an?\s+)?(?P<alt>[ACGT])\b",
        re.I,
    ),
    # "C at 150 -> T", "C at pos 150 to T"
    re.compile(
        r"\b(?P<ref>[ACGT])\s+at\s+(?:(?:position|pos\.?)\s*)?(?P<pos>[+-]?\d{1,4})\s*(?:->|>|→)\s*(?P<alt>[ACGT])\b",
        re.I,
    ),
    # HGVS-like: "85A>G", "c.85A>G", "-50 A>G", "+3 T->C"
    re.compile(
        r"(?<![\w.])(?:[cgn]\.)?(?P<pos>[+-]?\d{1,4})\s*(?P<ref>[ACGT])\s*(?:>|->|→)\s*(?P<alt>[ACGT])\b",
        re.I,
    ),
    # "A85>G", "A85→G"
    re.compile(r"\b(?P<ref>[ACGT])(?P<pos>[+-]?\d{1,4})\s*(?:>|->|→)\s*(?P<alt>[ACGT])\b", re.I),
    # a SNP written ref/alt: "snp C/T at position 40", "C/T at -40"
    re.compile(
        r"\b(?P<ref>[ACGT])\s*/\s*(?P<alt>[ACGT])\s+(?:snp\s+|snv\s+)?at\s+(?:position\s+)?(?P<pos>[+-]?\d{1,4})\b",
        re.I,
    ),
    # "replace position 60 with T", "set base 12 to A"
    re.compile(
        r"\b(?:position|pos\.?|base)\s+(?P<pos>[+-]?\d{1,4})\s+with\s+(?:an?\s+)?(?P<alt>[ACGT])\b", re.I
    ),
    # "what does a G at -30 do" (the alternative base; the reference read from the sequence)
    re.compile(
        r"\ban?\s+(?P<alt>[ACGT])\s+(?:at|in)\s+(?:position\s+)?(?P<pos>[+-]?\d{1,4})\b"
        r"(?![\'’])(?!\s*(?:to|into|for|with|by)\s)",
        re.I,
    ),
]
_REPLACE_IN_WORDS = re.compile(  # "AATAAA -> AAGAAA", "change TATAAA to TAGAAA"
    r"\b(?P<a>[ACGT]{4,20})\s*(?:->|→|>|\bto\b|\binto\b)\s*(?P<b>[ACGT]{4,20})\b", re.I
)


def worded_substitutions(text: str, sequence: str, kind: str) -> list[str]:
    """Substitutions written in words ("position 120 from A to G", "the A at 121 to G", "C>T at -30",
    "what if position 100 was a T"), as spec tokens; a missing reference base is read from ``sequence``."""
    out = []
    for pattern in SUB_IN_WORDS:
        for m in pattern.finditer(text):
            g = m.groupdict()
            pos, alt = g["pos"], g["alt"].upper()
            ref = (g.get("ref") or g.get("ref2") or "").upper()
            if not ref and sequence:
                try:
                    ref = sequence[
                        coordinate(pos[:1] if pos[:1] in "+-" else "", pos.lstrip("+-"), len(sequence), kind)
                    ]
                except VariantError:
                    continue
            if ref and ref != alt:
                out.append(f"{ref}{pos}{alt}")
    return list(dict.fromkeys(out))


def names_a_substitution(text: str) -> bool:
    """Whether ``text`` writes a substitution in words or as a rewritten run of bases (no sequence needed)."""
    return any(p.search(text) for p in SUB_IN_WORDS) or any(True for _ in _rewrites(text))


def _rewrites(text: str):
    """(run, new run) of every run of bases rewritten as one of the same length, upper case."""
    for m in _REPLACE_IN_WORDS.finditer(text):
        a, b = m.group("a").upper(), m.group("b").upper()
        if len(a) == len(b):
            yield a, b


def replaced_runs(text: str, sequence: str) -> tuple[list[str], list[str]]:
    """Runs of bases rewritten as runs of the same length ("AATAAA -> AAGAAA"): the substitutions (1-based
    positions) at every place ``sequence`` holds the first run, and the first runs themselves."""
    subs, runs = [], []
    for a, b in _rewrites(text):
        if a == b:
            continue
        runs.append(a)
        start = sequence.find(a)
        while start >= 0:
            subs += [f"{x}{start + i + 1}{y}" for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
            start = sequence.find(a, start + len(a))
    return list(dict.fromkeys(subs)), runs


_SUB_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])([ACGT][+-]?\d{1,4}[ACGT])(?![A-Za-z0-9])")
_AT_POS = re.compile(r"\bat (?:position )?([+-]?\d{1,4})\b")


def variant_spec_from_text(text: str, sequence: str = "", kind: str = "promoter") -> str:
    """A variant spec (see :mod:`agrochat.chat.variants`) from a chat message: substitutions written like G-30A
    or in words (:func:`~agrochat.chat.variants.worded_substitutions`; ``sequence`` gives a reference base the words leave out), and
    motif names (TATA box, Inr, Y patch, TF_45, AATAAA) to knock out, or to insert when the message says
    insert/add ... at a position. Empty when the message names no edit."""
    replaced, runs = replaced_runs(text, sequence.upper())
    rest = _REPLACE_IN_WORDS.sub(" ", text) if runs else text
    tokens = replaced + (_SUB_IN_TEXT.findall(rest) or worded_substitutions(rest, sequence.upper(), kind))
    low = rest.lower()
    for name in element_mentions(rest):
        at = _AT_POS.search(low)
        if re.search(r"\b(insert|add|introduc)\w*", low) and at:
            tokens.append(f"ins:{name}@{at.group(1)}")
        else:
            tokens.append(f"ko:{name}")
    return " ".join(tokens)


__all__ = [
    "variant_spec_from_text",
    "Edit",
    "Insertion",
    "Knockout",
    "SUB_IN_WORDS",
    "Substitution",
    "VariantError",
    "apply",
    "consensus",
    "coordinate",
    "describe",
    "knockout_edits",
    "motif_name",
    "parse",
    "worded_substitutions",
]

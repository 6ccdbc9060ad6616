"""Explanations built only from facts that hold for the sequence (never from its label).

Facts used: motifs the annotator finds (and where), the element's measured average effect in the matching
condition (Supp. Table 4), the TATA position window, the documented GC-content direction per system, and for
terminators the poly(A) signal scan and the GC correlation reported in ``terminators/SOURCE.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agrochat.errors import ConfigError

from . import tasks as T
from .effects import MotifEffects
from .motifs import CPE_NAMES, PAS_CANONICAL, PAS_VARIANT, Annotation, MotifHit

# Documented facts (promoters/SOURCE.md, terminators/SOURCE.md)
TATA_WINDOW = (-59, -23)  # TATA boxes work best when centred at index 107-143, about -59..-23
GC_PROMOTER = {
    "leaf": "In tobacco leaves, promoters with higher GC content tend to be weaker.",
    "proto": "In maize protoplasts, GC content has almost no effect on promoter strength.",
}
GC_TERMINATOR = (
    "On the test set, GC content alone correlates with terminator strength at r = -0.27 in tobacco "
    "leaves (higher GC, weaker terminator) and only r = -0.05 in maize protoplasts."
)
TERMINATOR_DETERMINANTS = (
    "Gorjifard et al. (2024) found terminator strength to be determined by GC content, "
    "polyadenylation motifs and cleavage probability."
)
CAVEAT = "These are library-wide average effects, not a decomposition of this sequence's own value."
DISPLAY = {
    "TATA": "TATA box",
    "Inr": "Inr (initiator)",
    "TCT": "TCT motif",
    "Ypatch": "Y patch",
    "BREu": "BREu",
    "BREd": "BREd",
    PAS_CANONICAL: "AATAAA",
    PAS_VARIANT: "AATAAA-like",
}
# Regex that finds every motif mention in an explanation (used by tests and the paraphrase check).
MENTION_RE = re.compile(r"\bTF_\d+\b|TATA box|\bInr\b|TCT motif|Y patch|\bBREu\b|\bBREd\b|AATAAA(?:-like)?")
MENTION_TO_NAME = {
    "TATA box": "TATA",
    "Inr": "Inr",
    "TCT motif": "TCT",
    "Y patch": "Ypatch",
    "BREu": "BREu",
    "BREd": "BREd",
    "AATAAA": PAS_CANONICAL,
    "AATAAA-like": PAS_VARIANT,
}


def mention_name(mention: str) -> str:
    """Annotator motif name for a mention found by :data:`MENTION_RE`."""
    return MENTION_TO_NAME.get(mention, mention)


@dataclass(frozen=True)
class Fact:
    """One statement in an explanation: a motif present/absent (with position) or a GC statement."""

    kind: str
    name: str
    present: bool = True
    rel_pos: int | None = None


@dataclass
class Explanation:
    text: str
    facts: list[Fact] = field(default_factory=list)

    def motifs(self, present: bool = True) -> set[str]:
        return {f.name for f in self.facts if f.kind == "motif" and f.present == present}


@dataclass
class ExplainConfig:
    """Explanation settings.

    Attributes:
        max_tfs: at most this many TF clusters are named (the significant ones with the largest |effect|).
        include_caveat: end with the "average effects" caveat sentence.
    """

    max_tfs: int = 3
    include_caveat: bool = True

    def __post_init__(self) -> None:
        if self.max_tfs < 0:
            raise ConfigError("max_tfs must be >= 0")


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def _pos(rel: int) -> str:
    return f"{rel:+d}"


def _effect_clause(effects: MotifEffects, name: str, cond: str | None, cond_text: str) -> str:
    e = effects.effect(name, cond)
    if e is None:
        return ""
    sig = "" if e.significant else "; not significant at the paper's p < 0.0005 threshold"
    return (
        f" Across the library, promoters with this element were on average {abs(e.mean):.2f} log2 units "
        f"{'stronger' if e.mean >= 0 else 'weaker'} in {cond_text}{sig}."
    )


def _tf_label(hit: MotifHit) -> str:
    return f"TF_{hit.name.split('_')[1]} ({hit.family})"


def explain_promoter(
    ann: Annotation,
    key: str,
    effects: MotifEffects,
    gc_median: float | None = None,
    config: ExplainConfig | None = None,
) -> Explanation:
    config = config or ExplainConfig()
    cond = T.effect_condition(key)
    cond_text = T.condition_short(cond) if cond else "this system"
    parts: list[str] = []
    facts: list[Fact] = []
    tata = ann.get("TATA")
    if tata:
        inside = TATA_WINDOW[0] <= tata.rel_pos <= TATA_WINDOW[1]
        where = "inside" if inside else "outside"
        parts.append(
            f"It has a TATA box (relative PWM score {tata.score:.2f}) centred at {_pos(tata.rel_pos)} "
            f"relative to the TSS, {where} the {TATA_WINDOW[0]}..{TATA_WINDOW[1]} window where TATA boxes "
            f"work best." + _effect_clause(effects, "TATA", cond, cond_text)
        )
        facts.append(Fact("motif", "TATA", True, tata.rel_pos))
    else:
        e = effects.effect("TATA", cond)
        extra = f" (on average {_signed(e.mean)} log2 units in {cond_text})" if e else ""
        parts.append(
            "I find no TATA box (no match with relative PWM score of at least 0.85), so it lacks the "
            f"core element with the largest measured effect{extra}."
        )
        facts.append(Fact("motif", "TATA", False))
    for name in ("BREu", "BREd", "Inr", "TCT", "Ypatch"):
        hit = ann.get(name)
        if not hit:
            continue
        where = {
            "BREu": "directly upstream of the TATA box",
            "BREd": "directly downstream of the TATA box",
        }.get(name, f"centred at {_pos(hit.rel_pos)}")
        article = "An" if DISPLAY[name][0] in "AEIOU" else "A"
        parts.append(
            f"{article} {DISPLAY[name]} sits {where} (score {hit.score:.2f})."
            + _effect_clause(effects, name, cond, cond_text)
        )
        facts.append(Fact("motif", name, True, hit.rel_pos))
    tf_hits = [h for h in ann.hits if h.name not in CPE_NAMES]
    ranked = []
    for h in tf_hits:
        e = effects.effect(h.name, cond)
        if e is not None and e.significant:
            ranked.append((abs(e.mean), h.name, h, e))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    if tf_hits:
        sentence = f"{len(tf_hits)} of the 72 plant TF-cluster motifs match somewhere on either strand."
        named = ranked[: config.max_tfs]
        if named:
            items = []
            for _, _, h, e in named:
                item = (
                    f"{_tf_label(h)} at {_pos(h.rel_pos)} ({h.strand} strand; {_signed(e.mean)} on average)"
                )
                diff = effects.upstream_minus_downstream(h.name, cond)
                if tata and h.rel_pos < tata.rel_pos and diff is not None and diff > 0:
                    item += (
                        f", upstream of the TATA box (this cluster's sites were on average {_signed(diff)} more "
                        "activating upstream than downstream of a TATA box)"
                    )
                items.append(item)
                facts.append(Fact("motif", h.name, True, h.rel_pos))
            sentence += (
                " Those with the largest significant average effects in this system: "
                + "; ".join(items)
                + "."
            )
        parts.append(sentence)
    gc_pct = round(ann.gc * 100)
    ref = f" (median of training promoters: {round(gc_median * 100)}%)" if gc_median is not None else ""
    system = cond.split("_")[0] if cond else "leaf"
    parts.append(f"Its GC content is {gc_pct}%{ref}. {GC_PROMOTER[system]}")
    facts.append(Fact("gc", "GC", True))
    if config.include_caveat:
        parts.append(CAVEAT)
    return Explanation(" ".join(parts), facts)


def explain_terminator(
    ann: Annotation, key: str, gc_median: float | None = None, config: ExplainConfig | None = None
) -> Explanation:
    config = config or ExplainConfig()
    parts: list[str] = []
    facts: list[Fact] = []
    canon = [h for h in ann.hits if h.name == PAS_CANONICAL]
    variants = [h for h in ann.hits if h.name == PAS_VARIANT]
    if canon:
        pos = ", ".join(_pos(h.rel_pos) for h in canon)
        parts.append(
            f"It contains the canonical poly(A) signal AATAAA (AAUAAA in the RNA), centred at {pos} "
            "relative to the cleavage site at the centre of the sequence."
        )
        facts.append(Fact("motif", PAS_CANONICAL, True, canon[0].rel_pos))
    if variants:
        pos = ", ".join(_pos(h.rel_pos) for h in variants[:3])
        more = f" and {len(variants) - 3} more" if len(variants) > 3 else ""
        noun = (
            "hexamers (one mismatch from the canonical signal) sit"
            if len(variants) > 1
            else "hexamer (one mismatch from the canonical signal) sits"
        )
        parts.append(f"AATAAA-like {noun} in the near-upstream region, centred at {pos}{more}.")
        facts.append(Fact("motif", PAS_VARIANT, True, variants[0].rel_pos))
    if not canon and not variants:
        parts.append(
            "I find no AATAAA poly(A) signal anywhere and no AATAAA-like hexamer in the -40..-5 region "
            "upstream of the cleavage site."
        )
        facts.append(Fact("motif", PAS_CANONICAL, False))
        facts.append(Fact("motif", PAS_VARIANT, False))
    parts.append(TERMINATOR_DETERMINANTS)
    gc_pct = round(ann.gc * 100)
    ref = f" (median of training terminators: {round(gc_median * 100)}%)" if gc_median is not None else ""
    parts.append(f"Its GC content is {gc_pct}%{ref}. {GC_TERMINATOR}")
    facts.append(Fact("gc", "GC", True))
    return Explanation(" ".join(parts), facts)


def explain(
    ann: Annotation,
    key: str,
    effects: MotifEffects,
    gc_median: float | None = None,
    config: ExplainConfig | None = None,
) -> Explanation:
    """Explanation for a sequence under a task key (promoter or terminator rules by ``ann.kind``)."""
    if ann.kind == "terminator":
        return explain_terminator(ann, key, gc_median, config)
    return explain_promoter(ann, key, effects, gc_median, config)


# How users name the elements in a question (case-insensitive) -> the annotator's name
_ELEMENT_WORDS = [
    (re.compile(r"\btata[- ]?(?:box)?\b", re.I), "TATA"),
    (re.compile(r"\b(?:inr|initiator)\b", re.I), "Inr"),
    (re.compile(r"\btct(?: motif)?\b", re.I), "TCT"),
    (re.compile(r"\by[- ]?patch\b", re.I), "Ypatch"),
    (re.compile(r"\bbreu\b", re.I), "BREu"),
    (re.compile(r"\bbred\b", re.I), "BREd"),
    (re.compile(r"\baataaa\b(?!-like)|\bpoly-?a(?:denylation)? signal\b", re.I), PAS_CANONICAL),
    (re.compile(r"\baataaa-like\b", re.I), PAS_VARIANT),
]
_TF_WORD = re.compile(r"\bTF[_ ]?(\d{1,2})\b", re.I)


def element_mentions(text: str) -> list[str]:
    """Annotator names of the elements a question names ("what does a TATA box do?" -> ``["TATA"]``), in order
    of appearance, each once."""
    found = [(m.start(), name) for rx, name in _ELEMENT_WORDS for m in rx.finditer(text)]
    found += [(m.start(), f"TF_{int(m.group(1))}") for m in _TF_WORD.finditer(text)]
    out: list[str] = []
    for _, name in sorted(found):
        if name not in out:
            out.append(name)
    return out


def describe_element(name: str, effects: MotifEffects) -> str | None:
    """What the measured library says about an element, with its source; None for an element it does not
    cover. Promoter elements: the average effect in the two benchmark conditions (Supp. Table 4); the
    poly-A signal: the terminator study's determinants."""
    if name == PAS_CANONICAL:
        return f"AATAAA is the canonical polyadenylation signal of terminators. {TERMINATOR_DETERMINANTS}"
    label = DISPLAY.get(name) or (f"{name} ({effects.family(name)})" if effects.family(name) else name)
    kind = "a core promoter element" if name in CPE_NAMES else "a transcription-factor binding-site cluster"
    parts = []
    for cond, where in (("leaf_withENH_dark", "tobacco leaves"), ("proto_withENH_dark", "maize protoplasts")):
        e = effects.effect(name, cond)
        if e is not None:
            sig = "" if e.significant else " (not significant at p < 0.0005)"
            parts.append(f"{_signed(e.mean)} log2 in {where}{sig}")
    if not parts:
        return None
    text = (
        f"{'The ' if name in CPE_NAMES else ''}{label} is {kind}. In the Jores et al. 2021 promoter library (with the 35S enhancer, dark), "
        f"promoters with it differed on average from those without it by {' and '.join(parts)}."
    )
    if name == "TATA":
        lo, hi = TATA_WINDOW
        text += f" It works best centred about {lo} to {hi} bp relative to the transcription start site."
    return text

"""The words of an explanation: the regions the attribution marks, each named once with the profiles under it.

Pure wording over computed results (:mod:`agrochat.chat.interpret`); no model here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agrochat.domain import tasks as T
from agrochat.domain.effects import MotifEffects
from agrochat.domain.explain import GC_TERMINATOR
from agrochat.domain.motifs import CPE_NAMES

from .interpret import MotifMatch, Region

METHOD_WORDS = {  # method: (name, how)
    "ism": ("in-silico mutagenesis", "every base changed to each of the other three"),
    "deeplift_shap": ("DeepLIFT/SHAP", "attributions against 20 dinucleotide-shuffled references"),
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _with_p(m: MotifMatch) -> str:
    if m.p_value is None:
        return m.name
    p = f"p = {m.p_value:.1g}"
    return f"{m.name[:-1]}; {p})" if m.name.endswith(")") else f"{m.name} ({p})"


def match_words(matches: Sequence[MotifMatch], limit: int = 3) -> str:
    """``the TATA box (p = 4e-05), ATMYB31 (MYB; JASPAR MA1738.1; p = 2e-05) and 2 more``."""
    shown = [_with_p(m) for m in matches[:limit]]
    if matches and matches[0].element in CPE_NAMES:  # "the TATA box"; profiles keep their bare names
        shown[0] = "the " + shown[0]
    more = len(matches) - limit
    if more > 0:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def region_words(r: Region, number: int | None = None) -> str:
    """One region in a sentence: where, its bases, what shuffling them does, what matches it."""
    name = f"Region {number}, b" if number else "B"
    verb = "lowers" if r.effect > 0 else "raises"
    within = "" if abs(r.effect) > r.spread else "; within the spread of the shuffles"
    matches = f"; it matches {match_words(r.matches)}" if r.matches else "; no known motif matches it"
    return (
        f"{name}ases {r.rel_start:+d} to {r.rel_end:+d} ({r.sequence}): shuffling them {verb} the prediction by "
        f"{abs(r.effect):.2f} (±{r.spread:.2f}{within}){matches}."
    )


def explain_text(
    ref_text: str,
    key_words: str,
    regions: Sequence[Region],
    attribution: np.ndarray,
    effects: MotifEffects,
    key: str,
    method: str = "ism",
    top: int = 3,
    lead: bool = True,
) -> str:
    """The explanation of one prediction: ``lead`` (the prediction), the regions (largest effect first, at most
    ``top``), then the library's average effect of the Jores elements that match them (labelled)."""
    kind = "terminator" if key.startswith(T.TERMINATOR) else "promoter"
    anchor = "the TSS" if kind == "promoter" else "the cleavage site"
    parts = [f"For {key_words} I predict {ref_text}."] if lead else []
    name, how = METHOD_WORDS.get(method, (method, "attributions"))
    if not regions:
        peak = int(np.argmax(np.abs(attribution))) if len(attribution) else 0
        parts.append(
            f"{_cap(name)} ({how}) marks no region that stands out from the rest of the sequence (seqlets at "
            "p < 0.01); "
            f"the single base that matters most is base {peak + 1}."
        )
    else:
        shown = list(regions[:top])
        n = len(regions)
        which = (
            "one region"
            if n == 1
            else f"{n} regions" + (f", the {len(shown)} largest here" if n > top else "")
        )
        parts.append(
            f"{_cap(name)} ({how}; positions relative to {anchor}) shows the prediction rests on {which}."
        )
        parts += [region_words(r, i + 1 if len(shown) > 1 else None) for i, r in enumerate(shown)]
    if kind == "terminator":
        parts.append(f"What the library says on average: {GC_TERMINATOR}")
        return " ".join(parts)
    cond = T.effect_condition(key)
    lib, seen = [], set()
    for r in regions[:top]:
        for m in r.matches:
            if m.element is None or m.element in seen:
                continue
            seen.add(m.element)
            e = effects.effect(m.element, cond) if cond else None
            if e is not None:
                lib.append(f"{m.name} {e.mean:+.2f}{'' if e.significant else ' (not significant)'}")
    if lib:
        parts.append(
            f"What the library says on average (Jores et al. 2021, promoters with vs without the element, "
            f"{T.condition_short(cond)}, log2): " + ", ".join(lib) + "."
        )
    return " ".join(parts)


__all__ = ["METHOD_WORDS", "explain_text", "match_words", "region_words"]

"""The model's own evidence: variant effects, motif knockouts and the explanation built from them.

A *variant effect* is the model's prediction for the edited sequence minus its prediction for the original.
Its uncertainty combines the two predictions' standard deviations (``hypot``; the predictions are not
independent, so this errs on the wide side) with, for knockouts, the spread over the random replacements. An
effect "exceeds its uncertainty" when ``|delta| > uncertainty``.

A *motif knockout* replaces every base of a motif the annotator found by a different random base,
``replicates`` times (seeded), and averages the predicted change: the motif's *contribution* to this prediction
is ``original - mean(knocked out)`` (positive: the motif raises the prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agrochat.domain import tasks as T
from agrochat.domain.effects import MotifEffects
from agrochat.domain.explain import DISPLAY, GC_TERMINATOR
from agrochat.domain.motifs import Annotation

from . import variants as V

# (sequences, key) -> (values, stds, ood flags, ood reasons), one per sequence
Scorer = Callable[[Sequence[str], str], tuple[np.ndarray, np.ndarray, list[bool], list[str]]]


@dataclass
class VariantEffect:
    """The predicted effect of one set of edits on one task/tissue key."""

    label: str  # the spec as given ("G-30A", "ko:TATA", "sequence 2")
    description: str  # in words
    key: str
    ref_value: float
    ref_std: float
    alt_value: float  # mean over the random replacements for knockouts
    alt_std: float
    delta: float  # alt - ref
    uncertainty: float
    replicates: int
    alt_sequence: str  # the (first) edited sequence
    ood: bool = False
    ood_reason: str = ""

    @property
    def exceeds(self) -> bool:
        """Whether the change is larger than its uncertainty."""
        return abs(self.delta) > self.uncertainty

    @property
    def contribution(self) -> float:
        """What the edited bases add to the original prediction (``-delta``; for a knockout, the motif's own
        contribution)."""
        return -self.delta

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "description": self.description,
            "key": self.key,
            "ref_value": round(self.ref_value, 4),
            "ref_std": round(self.ref_std, 4),
            "alt_value": round(self.alt_value, 4),
            "alt_std": round(self.alt_std, 4),
            "delta": round(self.delta, 4),
            "uncertainty": round(self.uncertainty, 4),
            "exceeds": self.exceeds,
            "replicates": self.replicates,
            "alt_sequence": self.alt_sequence,
            "ood": self.ood,
            "ood_reason": self.ood_reason,
        }


def kind_of(key: str) -> str:
    return "terminator" if key.startswith(T.TERMINATOR) else "promoter"


def variant_effects(
    score: Scorer,
    sequence: str,
    key: str,
    edit_sets: Sequence[tuple[str, list[V.Edit]]],
    replicates: int = 5,
    seed: int = 0,
) -> list[VariantEffect]:
    """One :class:`VariantEffect` per ``(label, edits)``; every edited sequence is scored in one batch.
    Edit sets with a knockout are drawn ``replicates`` times."""
    rng = np.random.default_rng(seed)
    kind = kind_of(key)
    alts: list[list[str]] = []
    for _, edits in edit_sets:
        n = replicates if any(isinstance(e, V.Knockout) for e in edits) else 1
        alts.append([V.apply(sequence, edits, rng) for _ in range(n)])
    flat = [sequence] + [s for group in alts for s in group]
    values, stds, ood, reasons = score(flat, key)
    ref, ref_std = float(values[0]), float(stds[0])
    out, i = [], 1
    for (label, edits), group in zip(edit_sets, alts, strict=True):
        v, s = values[i : i + len(group)], stds[i : i + len(group)]
        spread = float(v.std()) if len(group) > 1 else 0.0
        alt, alt_std = float(v.mean()), float(s.mean())
        flags = [j for j in range(i, i + len(group)) if ood[j]]
        out.append(
            VariantEffect(
                label=label,
                description="; ".join(V.describe(e, kind, len(sequence)) for e in edits),
                key=key,
                ref_value=ref,
                ref_std=ref_std,
                alt_value=alt,
                alt_std=alt_std,
                delta=alt - ref,
                uncertainty=float(np.sqrt(ref_std**2 + alt_std**2 + spread**2)),
                replicates=len(group),
                alt_sequence=group[0],
                ood=bool(flags),
                ood_reason=reasons[flags[0]] if flags else "",
            )
        )
        i += len(group)
    return out


def motif_knockouts(
    score: Scorer, sequence: str, key: str, annotation: Annotation, replicates: int = 5, seed: int = 0
) -> list[tuple[V.Knockout, VariantEffect]]:
    """Every annotated motif knocked out, ranked by the size of its contribution to this prediction."""
    kos = V.knockout_edits(annotation)
    effects = variant_effects(score, sequence, key, [(k.label, [k]) for k in kos], replicates, seed)
    pairs = list(zip(kos, effects, strict=True))
    pairs.sort(key=lambda p: -abs(p[1].delta))
    return pairs


def motif_label(name: str, family: str) -> str:
    """A readable motif name: core elements by their name, TF clusters with their family."""
    if name.startswith("TF_"):
        return f"{name} ({family})"
    return DISPLAY.get(name, name)


def explain_text(
    ref_text: str,
    key_words: str,
    knockouts: list[tuple[V.Knockout, VariantEffect]],
    effects: MotifEffects,
    key: str,
    top: int = 4,
    lead: bool = True,
) -> str:
    """The explanation of one prediction from the model's knockouts, then (labelled) the library averages.
    ``lead``: start with the prediction itself ("For ... I predict ...")."""
    kind = kind_of(key)
    anchor = "the TSS" if kind == "promoter" else "the cleavage site"
    parts = [f"For {key_words} I predict {ref_text}."] if lead else []
    if not knockouts:
        parts.append(
            "The motif annotator finds no known element in this sequence, so there is no motif to knock out; "
            "in-silico mutagenesis (ask why, or `agrochat explain`) shows which bases move the prediction."
        )
        if kind == "terminator":
            parts.append(f"What the library says on average: {GC_TERMINATOR}")
        return " ".join(parts)
    ranked = knockouts[:top]
    items = []
    for n, (ko, eff) in enumerate(ranked):
        h = ko.hit
        size = eff.contribution
        verdict = "" if eff.exceeds else " (within its uncertainty)"
        shared = [
            motif_label(o.hit.name, o.hit.family)
            for o, _ in ranked[:n]
            if o.hit.start < h.end and h.start < o.hit.end
        ]
        if shared:
            verdict += f" (it overlaps the {', '.join(shared)}, so their knockouts share bases)"
        items.append(
            f"the {motif_label(h.name, h.family)} at {h.rel_pos:+d} contributes about {size:+.2f}: destroying it "
            f"{'drops' if size > 0 else 'raises'} the prediction to {eff.alt_value:.2f} (±{eff.uncertainty:.2f})"
            f"{verdict}"
        )
    parts.append(
        f"{'By' if lead else 'Why, by'} the model's own knockouts (each motif's bases replaced by random bases, {ranked[0][1].replicates} "
        f"times; positions relative to {anchor}), " + "; ".join(items) + "."
    )
    if len(knockouts) > top:
        parts.append(f"{len(knockouts) - top} more annotated motifs change it less.")
    cond = T.effect_condition(key)
    lib, disagree = [], []
    for ko, eff in ranked:
        e = effects.effect(ko.hit.name, cond) if cond else None
        if e is None:
            continue
        label = motif_label(ko.hit.name, ko.hit.family)
        lib.append(f"{label} {e.mean:+.2f}{'' if e.significant else ' (not significant)'}")
        if e.significant and abs(e.mean) > 0.3 and np.sign(e.mean) != np.sign(eff.contribution):
            disagree.append(label)
        elif e.significant and abs(e.mean) > 0.5 and abs(eff.contribution) < 0.1 * abs(e.mean):
            disagree.append(label)
    if lib:
        parts.append(
            f"What the library says on average (Jores et al. 2021, promoters with vs without the element, "
            f"{T.condition_short(cond)}, log2): " + ", ".join(lib) + "."
        )
    if disagree:
        parts.append(
            "The model and the library disagree on "
            + ", ".join(disagree)
            + ": in this sequence the model gives it a different direction or much less weight than the "
            "library average."
        )
    return " ".join(parts)


__all__ = ["Scorer", "VariantEffect", "explain_text", "motif_knockouts", "motif_label", "variant_effects"]

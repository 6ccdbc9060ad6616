"""Variant effects: the model's prediction for edited sequences (substitutions, motif knockouts, insertions).

A *variant effect* is the model's prediction for the edited sequence minus its prediction for the original.
Its uncertainty combines the two predictions' standard deviations (``hypot``; the predictions are not
independent, so this errs on the wide side) with, for knockouts, the spread over the random replacements. An
effect "exceeds its uncertainty" when ``|delta| > uncertainty``.

A *motif knockout* (``ko:TATA``) replaces every base of a motif the annotator found by a different random base,
``replicates`` times (seeded), and averages the predicted change: the motif's *contribution* to this prediction
is ``original - mean(knocked out)`` (positive: the motif raises the prediction). Explanations come from
:mod:`agrochat.chat.interpret` (attribution, regions, motif matches).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from agrochat.domain import tasks as T

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


__all__ = ["Scorer", "VariantEffect", "kind_of", "variant_effects"]

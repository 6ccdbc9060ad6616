"""What the assistant returns: predictions, mutagenesis results and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Prediction:
    """One calibrated number for one sequence under one task/tissue key."""

    id: str
    sequence: str
    key: str
    value: float
    uncertainty: float  # standard deviation the head predicts (calibrated; widened when ood)
    unit: str
    percentile: float
    level: str
    text: str  # the number rendered as it appears in answers
    explanation: str = ""
    motifs: list[dict] = field(default_factory=list)
    attribution: np.ndarray | None = None  # per-base effect from in-silico mutagenesis (explain())
    ood: bool = False  # the sequence is unlike what the model learned for this key (its interval is widened)
    ood_reason: str = ""  # why, in words ("" when ood is False)
    interval68: tuple[float, float] | None = None
    """(low, high) holding 68 % of the predictive distribution: value ± uncertainty for most keys; from a
    point mass at the floor plus a continuous part for keys whose measurements pile up at a floor."""
    interval95: tuple[float, float] | None = None  # the same at 95 % (value ± 1.96 uncertainty when Gaussian)
    p_floor: float | None = None  # chance that the measurement is exactly at the key's floor (keys with one)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attribution"] = (
            None if self.attribution is None else [round(float(x), 5) for x in self.attribution]
        )
        for name in ("interval68", "interval95"):  # JSON arrays, as they come back from a server
            d[name] = None if d[name] is None else [float(x) for x in d[name]]
        return d


@dataclass
class Mutagenesis:
    """The model's evidence for one prediction: every single-base substitution's effect, the per-base
    attribution and the regions it marks (:mod:`agrochat.chat.interpret`)."""

    prediction: Prediction
    effects: np.ndarray  # (L, 4) predicted change per position and base (A, C, G, T); 0 for the reference
    per_base: np.ndarray  # (L,) mean change over the three substitutions (negative: the base helps)
    attribution: (
        np.ndarray
    )  # (L,) attribution of the observed base by ``method`` (positive: it raises the value)
    regions: list = field(default_factory=list)
    """:class:`~agrochat.chat.interpret.Region` s, largest effect first, each with the profiles matching it."""
    method: str = "ism"  # the attribution the regions and the answer use
    text: str = ""  # the explanation: the regions, then (labelled) the library averages
    plot_path: str | None = None
    heatmap_path: str | None = None

    def to_dict(self) -> dict:
        """The record of ``agrochat explain --json``: the prediction, the text, the regions (1-based positions)
        and the per-base attribution."""
        return {
            "prediction": self.prediction.to_dict(),
            "explanation": self.text,
            "attribution_method": self.method,
            "regions": [r.to_dict() for r in self.regions],
            "attribution": [round(float(x), 5) for x in self.attribution],
        }

    def to_tsv(self, path) -> None:
        """Per-base effects: 1-based position, coordinate relative to the TSS (cleavage site for terminators),
        reference base, predicted change for A/C/G/T (0 for the reference), their mean over the substitutions
        and the attribution of the observed base."""
        from agrochat.domain.motifs import promoter_rel, terminator_rel

        seq = self.prediction.sequence
        rel = terminator_rel if self.prediction.key.startswith("terminator") else promoter_rel
        with open(path, "w") as fh:
            fh.write("position\trelative\tref\tA\tC\tG\tT\tmean_change\tattribution\n")
            for i, b in enumerate(seq):
                e = self.effects[i]
                fh.write(
                    f"{i + 1}\t{rel(i, len(seq))}\t{b}\t"
                    + "\t".join(f"{x:.5f}" for x in e)
                    + f"\t{self.per_base[i]:.5f}\t{self.attribution[i]:.5f}\n"
                )


@dataclass
class Answer:
    text: str
    predictions: list[Prediction] = field(default_factory=list)
    key: str | None = None
    intent: object = None
    """The :class:`~agrochat.chat.dialogue.Intent` the answer carried out (operation, keys, sequences)."""
    evidence: object = None
    """The :class:`~agrochat.domain.evidence.Evidence` the answer was worded from."""
    written_by: str = "template"
    """``decoder`` when the decoder's writer wrote the answer and it passed the check, else ``template``."""
    problems: tuple = ()
    """Why the writer's answer was replaced by the plain rendering (what it named that is not in the evidence)."""

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
    uncertainty: float  # standard deviation of the Gaussian the head predicts
    unit: str
    percentile: float
    level: str
    text: str  # the number rendered as it appears in answers
    explanation: str = ""
    motifs: list[dict] = field(default_factory=list)
    attribution: np.ndarray | None = None  # per-base effect from in-silico mutagenesis (explain())
    ood: bool = False  # the sequence is unlike what the model learned for this key (its interval is widened)
    ood_reason: str = ""  # why, in words ("" when ood is False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attribution"] = (
            None if self.attribution is None else [round(float(x), 5) for x in self.attribution]
        )
        return d


@dataclass
class Mutagenesis:
    """In-silico mutagenesis: effect of every single-base substitution on the prediction."""

    prediction: Prediction
    effects: (
        np.ndarray
    )  # (L, 4) predicted value change per position and base (A, C, G, T); 0 for the reference
    per_base: np.ndarray  # (L,) mean change over the three substitutions (negative: the base helps)
    windows: list[dict]  # top windows: start, end (0-based, exclusive), rel_start, score, motifs overlapped
    plot_path: str | None = None


@dataclass
class Answer:
    text: str
    predictions: list[Prediction] = field(default_factory=list)
    key: str | None = None
    intent: object = None
    """The :class:`~agrochat.chat.dialogue.Intent` the answer carried out (operation, keys, sequences)."""

"""Is a sequence unlike anything the model learned? Three checks against the training sequences of its family.

A :class:`OodReference` is fitted once, at the end of training, on the training sequences of each sequence
family (``promoter``: promoter strength, natural/synthetic promoters and tissue expression; ``terminator``), and
saved in the checkpoint (``ood.json``). A sequence is flagged when any check fails:

- **length**: shorter than ``min_length_ratio`` x or longer than ``max_length_ratio`` x the training lengths;
- **composition**: its mean per-base log-likelihood ratio under a 5th-order Markov chain of the training
  sequences (against uniform bases) is below the ``markov_quantile`` of the training sequences' own scores, or
  its GC content is outside the training range (``quantile`` to ``1 - quantile``);
- **encoder space**: the Mahalanobis distance of its mean-pooled encoder states from the training mean (with a
  shrunk covariance) is above the ``1 - quantile`` of the training distances.

Thresholds are quantiles of the training sequences themselves, so about ``quantile`` of in-distribution
sequences fail each check (the model card reports the flagged share of the official test sets). Composition
alone cannot tell every random sequence from a natural one: GC-rich natural promoters look much like uniform
random DNA at 170 bp, so a random sequence is flagged only part of the time (measured in the model card).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

ORDER = 5
_IDX = {"A": 0, "C": 1, "G": 2, "T": 3}
FILE_NAME = "ood.json"


def family_of(key: str) -> str:
    """The sequence family of a task/tissue key."""
    return "terminator" if key.startswith("terminator_strength/") else "promoter"


def _kmer_codes(seq: str, order: int = ORDER) -> tuple[np.ndarray, np.ndarray]:
    """(context code, next base) pairs of every N-free (order+1)-mer. Context code in [0, 4**order)."""
    x = np.array([_IDX.get(c, -1) for c in seq], dtype=np.int64)
    if len(x) <= order:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    win = np.lib.stride_tricks.sliding_window_view(x, order + 1)  # (n, order+1)
    win = win[(win >= 0).all(1)]
    ctx = (win[:, :order] * (4 ** np.arange(order - 1, -1, -1))).sum(1)
    return ctx, win[:, order]


def gc_fraction(seq: str) -> float:
    acgt = sum(seq.count(b) for b in "ACGT")
    return (seq.count("G") + seq.count("C")) / acgt if acgt else 0.0


@dataclass
class FamilyReference:
    """Training statistics of one sequence family."""

    n: int
    min_length: int
    max_length: int
    gc_range: list[float]
    markov_log_prob: list[list[float]]  # (4**ORDER, 4) log P(next | context)
    markov_threshold: float
    embed_mean: list[float]
    embed_precision: list[list[float]]  # inverse of the shrunk covariance
    embed_threshold: float

    def markov_score(self, seq: str) -> float:
        """Mean per-base log-likelihood ratio (nats) against uniform bases; nan without a full (ORDER+1)-mer."""
        table = self._table  # (4**order, 4)
        ctx, nxt = _kmer_codes(seq, round(math.log(len(table), 4)))
        if not len(ctx):
            return float("nan")
        lp = table[ctx, nxt]
        return float(lp.mean() + math.log(4))

    def embed_distance(self, feats: np.ndarray) -> np.ndarray:
        """Mahalanobis distances of pooled encoder states (N, H)."""
        d = feats - self._arrays[0]
        return np.sqrt(np.einsum("nh,hk,nk->n", d, self._arrays[1], d).clip(min=0))

    @cached_property
    def _table(self) -> np.ndarray:
        return np.asarray(self.markov_log_prob)

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(embed_mean, embed_precision) as arrays, converted once (set the fields before the first use)."""
        return np.asarray(self.embed_mean), np.asarray(self.embed_precision)


@dataclass
class OodCheck:
    ood: bool
    reason: str = ""


@dataclass
class OodReference:
    """Per-family references and the rule parameters; see the module docstring."""

    families: dict[str, FamilyReference] = field(default_factory=dict)
    quantile: float = 0.005
    markov_quantile: float = 0.01
    min_length_ratio: float = 0.8
    max_length_ratio: float = 1.25

    @classmethod
    def fit(
        cls,
        sequences: dict[str, list[str]],
        features: dict[str, np.ndarray],
        quantile: float = 0.005,
        markov_quantile: float = 0.01,
        shrinkage: float = 0.1,
    ) -> OodReference:
        """Fit from training sequences and their pooled encoder states (N, H) per family."""
        fams = {}
        for fam, seqs in sequences.items():
            counts = np.ones((4**ORDER, 4))  # add-one pseudocounts
            for s in seqs:
                ctx, nxt = _kmer_codes(s)
                np.add.at(counts, (ctx, nxt), 1)
            log_prob = np.log(counts / counts.sum(1, keepdims=True))
            ref = FamilyReference(
                len(seqs), min(map(len, seqs)), max(map(len, seqs)), [], log_prob.tolist(), 0.0, [], [], 0.0
            )
            scores = np.array([ref.markov_score(s) for s in seqs])
            gc = np.array([gc_fraction(s) for s in seqs])
            ref.gc_range = [float(np.quantile(gc, quantile)), float(np.quantile(gc, 1 - quantile))]
            ref.markov_threshold = float(np.nanquantile(scores, markov_quantile))
            x = np.asarray(features[fam], dtype=np.float64)
            mean = x.mean(0)
            cov = np.cov(x, rowvar=False)
            cov = (1 - shrinkage) * cov + shrinkage * np.eye(len(mean)) * np.trace(cov) / len(mean)
            ref.embed_mean, ref.embed_precision = mean.tolist(), np.linalg.inv(cov).tolist()
            ref.embed_threshold = float(np.quantile(ref.embed_distance(x), 1 - quantile))
            fams[fam] = ref
        return cls(fams, quantile, markov_quantile)

    def check(self, seq: str, key: str, feats: np.ndarray | None) -> OodCheck:
        """Flag ``seq`` (normalised) for ``key``; ``feats``: its pooled encoder states (H,) or None to skip."""
        fam = family_of(key)
        ref = self.families.get(fam)
        if ref is None:
            return OodCheck(False)
        noun = f"{fam}s"
        reasons = []
        lo, hi = ref.min_length, ref.max_length
        span = f"{lo} bp" if lo == hi else f"{lo}-{hi} bp"
        if len(seq) < self.min_length_ratio * lo or len(seq) > self.max_length_ratio * hi:
            reasons.append(f"its length ({len(seq)} bp) is far from the {span} of the training {noun}")
        gc = gc_fraction(seq)
        if not ref.gc_range[0] <= gc <= ref.gc_range[1]:
            reasons.append(
                f"its GC content ({gc:.0%}) is outside the range of the training {noun} "
                f"({ref.gc_range[0]:.0%}-{ref.gc_range[1]:.0%})"
            )
        score = ref.markov_score(seq)
        if not math.isnan(score) and score < ref.markov_threshold:
            reasons.append(
                f"its base composition is unlike the training {noun} (k-mer log-likelihood "
                f"{score:.3f} < {ref.markov_threshold:.3f} nats per base)"
            )
        if feats is not None:
            dist = float(ref.embed_distance(np.asarray(feats, dtype=np.float64)[None])[0])
            if dist > ref.embed_threshold:
                reasons.append(
                    f"the encoder places it far from the training {noun} (distance {dist:.1f} > "
                    f"{ref.embed_threshold:.1f})"
                )
        return OodCheck(bool(reasons), "; ".join(reasons))

    # ---- persistence -----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """As JSON, every float to 8 significant digits (beyond float32's precision; a third of the size)."""
        Path(path).write_text(json.dumps(_rounded(asdict(self))))

    @classmethod
    def load(cls, path: str | Path) -> OodReference:
        data = json.loads(Path(path).read_text())
        fams = {k: FamilyReference(**v) for k, v in data.pop("families").items()}
        return cls(fams, **data)


def _rounded(obj):
    """``obj`` with every float rounded to 8 significant digits (lists and dicts walked)."""
    if isinstance(obj, float):
        return float(f"{obj:.8g}")
    if isinstance(obj, list):
        return [_rounded(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def fit_reference(
    pairs: list[tuple[str, str]],
    features,
    max_per_family: int = 8000,
    batch_size: int = 256,
    seed: int = 0,
    quantile: float = 0.005,
) -> OodReference:
    """Fit from training ``(sequence, key)`` pairs; ``features(seqs) -> (N, H)`` gives pooled encoder states.
    At most ``max_per_family`` distinct sequences per family are used (a deterministic sample)."""
    by_family: dict[str, list[str]] = {}
    for seq, key in pairs:
        by_family.setdefault(family_of(key), []).append(seq)
    rng = np.random.default_rng(seed)
    seqs, feats = {}, {}
    for fam, items in sorted(by_family.items()):
        uniq = sorted(set(items))
        if len(uniq) > max_per_family:
            uniq = [uniq[i] for i in np.sort(rng.choice(len(uniq), max_per_family, replace=False))]
        if len(uniq) < 10:  # too few to estimate anything
            continue
        seqs[fam] = uniq
        feats[fam] = np.concatenate(
            [
                np.asarray(features(uniq[i : i + batch_size]), dtype=np.float64)
                for i in range(0, len(uniq), batch_size)
            ]
        )
    return OodReference.fit(seqs, feats, quantile=quantile)

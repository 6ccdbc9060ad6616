"""In-silico evolution: single-base substitutions chosen by the model toward a goal (Jores et al. 2021 did this
with their CNN).

Each round scores every single substitution of every sequence in the beam (one batched forward per key) at
positions not yet changed and not kept, and keeps the ``beam`` best by the objective. A round is taken only if
it improves the objective, so the predicted objective rises monotonically and the result differs from the start
in at most ``max_mutations`` positions. With keys on both sides ("strong in maize protoplasts, weak in tobacco
leaf") the objective is their difference, and no raised key may fall below its start nor a lowered one rise. Ties are broken by a seeded shuffle, so a design is deterministic given
its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .attribution import Scorer
from .variants import BASES, VariantError

GOALS = ("stronger", "weaker", "target")


@dataclass
class DesignConfig:
    """What to design.

    Attributes:
        up: keys whose predicted value should rise (goal ``stronger``; several are summed).
        down: keys whose predicted value should fall (goal ``weaker``, or the other side of a cross-system goal:
            "strong in maize protoplasts, weak in tobacco leaf" is ``up=(proto,), down=(leaf,)``).
        target: with exactly one key in ``up``, bring its value close to this number instead of maximising.
        max_mutations: at most this many substituted positions (K).
        beam: sequences kept per round (1 = greedy).
        keep: 0-based positions that must not change.
        seed: tie-breaking seed.
    """

    up: tuple[str, ...] = ()
    down: tuple[str, ...] = ()
    target: float | None = None
    max_mutations: int = 5
    beam: int = 1
    keep: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        self.up, self.down, self.keep = tuple(self.up), tuple(self.down), tuple(self.keep)
        if not self.up and not self.down:
            raise VariantError("a design needs at least one key to raise or lower")
        if set(self.up) & set(self.down):
            raise VariantError("a key cannot be both raised and lowered")
        if self.target is not None and (len(self.up) != 1 or self.down):
            raise VariantError("a target value needs exactly one key")
        if not 1 <= self.max_mutations <= 50:
            raise VariantError(f"max_mutations must be 1-50, got {self.max_mutations}")
        if not 1 <= self.beam <= 16:
            raise VariantError(f"beam must be 1-16, got {self.beam}")

    @property
    def keys(self) -> tuple[str, ...]:
        return self.up + self.down

    def objective(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Higher is better; ``values[key]`` is (N,)."""
        if self.target is not None:
            return -np.abs(values[self.up[0]] - self.target)
        total = sum(values[k] for k in self.up) if self.up else 0.0
        return total - (sum(values[k] for k in self.down) if self.down else 0.0)


@dataclass
class DesignStep:
    """The design after one more substitution (round 0: the start)."""

    round: int
    sequence: str
    mutations: tuple[str, ...]  # 1-based "A57G" labels, cumulative
    values: dict[str, float]
    stds: dict[str, float]
    objective: float
    ood: bool = False
    ood_reason: str = ""

    def to_dict(self) -> dict:
        return {
            "round": self.round,
            "mutations": list(self.mutations),
            "values": {k: round(v, 4) for k, v in self.values.items()},
            "uncertainties": {k: round(v, 4) for k, v in self.stds.items()},
            "objective": round(self.objective, 4),
            "ood": self.ood,
            "ood_reason": self.ood_reason,
            "sequence": self.sequence,
        }


@dataclass
class DesignResult:
    config: DesignConfig
    steps: list[DesignStep] = field(default_factory=list)  # the best path, round 0 first
    stopped: str = ""  # why it stopped before max_mutations ("" when it used them all)

    @property
    def start(self) -> DesignStep:
        return self.steps[0]

    @property
    def best(self) -> DesignStep:
        return self.steps[-1]


@dataclass
class _State:
    sequence: str
    changed: frozenset[int]
    mutations: tuple[str, ...]
    objective: float
    history: tuple[DesignStep, ...]


def _step(rnd, seq, muts, vals, stds, obj, oods, reasons, i, keys) -> DesignStep:
    flagged = [k for k in keys if oods[k][i]]
    return DesignStep(
        rnd,
        seq,
        muts,
        {k: float(vals[k][i]) for k in keys},
        {k: float(stds[k][i]) for k in keys},
        float(obj[i]),
        bool(flagged),
        reasons[flagged[0]][i] if flagged else "",
    )


def _keeps_sides(config: DesignConfig, vals: dict[str, np.ndarray], j: int, first: DesignStep) -> bool:
    """With keys on both sides (strong here, weak there), no raised key may fall below its start and no lowered
    key rise above it, so the difference grows from the right ends."""
    if not (config.up and config.down) or config.target is not None:
        return True
    return all(vals[k][j] >= first.values[k] for k in config.up) and all(
        vals[k][j] <= first.values[k] for k in config.down
    )


def _score_all(score: Scorer, seqs: Sequence[str], keys: Sequence[str]):
    vals, stds, oods, reasons = {}, {}, {}, {}
    for k in keys:
        vals[k], stds[k], oods[k], reasons[k] = score(seqs, k)
    return vals, stds, oods, reasons


def design(score: Scorer, sequence: str, config: DesignConfig, progress: bool = False) -> DesignResult:
    """Greedy (``beam=1``) or beam search over single substitutions; see the module docstring."""
    keep = set(config.keep)
    if any(not 0 <= i < len(sequence) for i in keep):
        raise VariantError(f"a kept position is outside the sequence (1 to {len(sequence)})")
    rng = np.random.default_rng(config.seed)
    keys = config.keys
    vals, stds, oods, reasons = _score_all(score, [sequence], keys)
    obj = config.objective(vals)
    first = _step(0, sequence, (), vals, stds, obj, oods, reasons, 0, keys)
    beam = [_State(sequence, frozenset(), (), float(obj[0]), (first,))]
    result = DesignResult(config)
    rounds = range(1, config.max_mutations + 1)
    if progress:
        from tqdm import tqdm

        rounds = tqdm(rounds, desc="design", unit="round")
    for rnd in rounds:
        cands: list[tuple[int, str, int, str]] = []  # (beam index, sequence, position, label)
        for b, st in enumerate(beam):
            s = st.sequence
            for i, ref in enumerate(s):
                if i in keep or i in st.changed:
                    continue
                for alt in BASES:
                    if alt != ref:
                        cands.append((b, s[:i] + alt + s[i + 1 :], i, f"{sequence[i]}{i + 1}{alt}"))
        if not cands:
            result.stopped = "no position left to change"
            break
        vals, stds, oods, reasons = _score_all(score, [c[1] for c in cands], keys)
        obj = config.objective(vals)
        order = rng.permutation(len(cands))
        order = order[np.argsort(-obj[order], kind="stable")]
        new, seen = [], set()
        for j in order:
            b, seq, i, label = cands[j]
            if seq in seen or obj[j] <= beam[b].objective or not _keeps_sides(config, vals, j, first):
                continue
            seen.add(seq)
            st = beam[b]
            muts = (*st.mutations, label)
            step = _step(rnd, seq, muts, vals, stds, obj, oods, reasons, j, keys)
            new.append(_State(seq, st.changed | {i}, muts, float(obj[j]), (*st.history, step)))
            if len(new) == config.beam:
                break
        if not new:
            result.stopped = f"no single substitution improves the goal after {rnd - 1} substitutions"
            break
        beam = new
    result.steps = list(max(beam, key=lambda s: s.objective).history)
    return result


__all__ = ["DesignConfig", "DesignResult", "DesignStep", "GOALS", "design"]

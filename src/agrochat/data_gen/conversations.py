"""Conversation builder: measurements -> chat examples with ``<dna>`` and ``<num>`` slots.

Styles: ``single`` (system named), ``implicit`` (no system named; default assay stated in the answer),
``why`` (number + explanation), ``followup`` (number, then "why?" turn), ``compare`` (two sequences,
two numbers), ``cross`` (same sequence, follow-up turns in other systems/conditions), ``tissue_all``
("which tissue" - one number per tissue) and ``tissue_one``. Every example is deterministic given the seed:
each one draws from its own ``random.Random(f"{seed}:{uid}")``.

Row schema: ``id, task, tissue, split, sequences, messages, targets, target_keys, baseline`` (see docs/data.md).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field

from agrochat.errors import ConfigError

from ..domain import prompts as Q
from ..domain import tasks as T
from ..domain.effects import MotifEffects
from ..domain.explain import ExplainConfig, explain
from ..domain.motifs import Annotation
from ..domain.registry import Registry
from .sources import Measurement

COLUMNS = ("id", "task", "tissue", "split", "sequences", "messages", "targets", "target_keys", "baseline")


@dataclass
class ConversationConfig:
    """How conversations are drawn.

    Attributes:
        seed: base seed; same seed and inputs give the same dataset.
        p_implicit: share of single-number rows phrased without naming the system (default system rows only).
        p_why: share answered with the number plus an explanation in one turn.
        p_followup: share with a second "why?" user turn answered by the explanation.
        comparison_fraction: extra two-sequence comparison rows per (key, split), as a share of its rows.
        cross_fraction: share of sequences measured under several keys that get a multi-turn cross row.
        tissue_all_fraction: share of expression genes asked "which tissue" (one number per tissue); the rest
            get a single-tissue question.
        explain: explanation settings.
    """

    seed: int = 0
    p_implicit: float = 0.15
    p_why: float = 0.2
    p_followup: float = 0.2
    comparison_fraction: float = 0.1
    cross_fraction: float = 0.3
    tissue_all_fraction: float = 0.5
    explain: ExplainConfig = field(default_factory=ExplainConfig)

    def __post_init__(self) -> None:
        for name in (
            "p_implicit",
            "p_why",
            "p_followup",
            "comparison_fraction",
            "cross_fraction",
            "tissue_all_fraction",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        if self.p_implicit + self.p_why + self.p_followup > 1.0:
            raise ConfigError("p_implicit + p_why + p_followup must be <= 1")


@dataclass
class Plan:
    """One conversation to render: its style, the measurements it asks about (in order) and a stable uid."""

    style: str
    rows: list[Measurement]
    uid: str

    @property
    def split(self) -> str:
        return self.rows[0].split


def _uid(style: str, rows: list[Measurement]) -> str:
    h = hashlib.sha1("|".join([style, *(m.key + ":" + m.sequence for m in rows)]).encode()).hexdigest()
    return h[:16]


def plan_conversations(rows: list[Measurement], config: ConversationConfig) -> list[Plan]:
    """Decide which conversations to make (deterministic, independent of input order)."""
    rows = sorted(rows, key=lambda m: (m.key, m.split, m.sequence, m.name))
    plans: list[Plan] = []
    seen: set[str] = set()

    def add(style: str, ms: list[Measurement]) -> None:
        uid = _uid(style, ms)
        if uid not in seen:
            seen.add(uid)
            plans.append(Plan(style, ms, uid))

    base = [m for m in rows if T.split_key(m.key)[0] != T.TISSUE]
    for m in base:
        r = random.Random(f"{config.seed}:style:{m.key}:{m.sequence}").random()
        task = T.split_key(m.key)[0]
        if r < config.p_why:
            style = "why"
        elif r < config.p_why + config.p_followup:
            style = "followup"
        elif r < config.p_why + config.p_followup + config.p_implicit and m.key == Q.DEFAULT_KEYS.get(task):
            style = "implicit"
        else:
            style = "single"
        add(style, [m])
    by_key_split: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in base:
        by_key_split[(m.key, m.split)].append(m)
    for (key, split), ms in sorted(by_key_split.items()):
        n_pairs = round(config.comparison_fraction * len(ms))
        rng = random.Random(f"{config.seed}:compare:{key}:{split}")
        for _ in range(n_pairs if len(ms) > 1 else 0):
            a, b = rng.sample(ms, 2)
            if a.sequence != b.sequence:
                add("compare", [a, b])
    by_seq: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in base:
        by_seq[(m.kind, m.sequence)].append(m)
    for (_, seq), ms in sorted(by_seq.items()):
        if len({m.split for m in ms}) != 1:
            continue
        # keys other than natural_promoter first, drawn exactly as before that task existed (so adding it leaves
        # these rows unchanged); then, independently, a row that also asks about the natural-promoter conditions
        core = [m for m in ms if T.split_key(m.key)[0] != T.NATURAL]
        if len({m.key for m in core}) >= 2:
            rng = random.Random(f"{config.seed}:cross:{seq}")
            if rng.random() < config.cross_fraction:
                uniq = list({m.key: m for m in core}.values())
                rng.shuffle(uniq)
                add("cross", uniq[: min(len(uniq), 3)])
        if len(core) < len(ms) and len({m.key for m in ms}) >= 2:
            rng = random.Random(f"{config.seed}:cross-natural:{seq}")
            if rng.random() < config.cross_fraction:
                uniq = list({m.key: m for m in ms}.values())
                rng.shuffle(uniq)
                picked = uniq[: min(len(uniq), 3)]
                if all(T.split_key(m.key)[0] != T.NATURAL for m in picked):
                    picked[-1] = next(m for m in uniq if T.split_key(m.key)[0] == T.NATURAL)
                add("cross", picked)
    genes: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in rows:
        if T.split_key(m.key)[0] == T.TISSUE:
            genes[(m.name, m.key.split("/")[1].split(":")[0])].append(m)
    for (gene, _species), ms in sorted(genes.items()):
        rng = random.Random(f"{config.seed}:tissue:{gene}")
        if rng.random() < config.tissue_all_fraction:
            order = {m.key: i for i, m in enumerate(sorted(ms, key=lambda x: x.extra.get("col", 0)))}
            add("tissue_all", sorted(ms, key=lambda x: order[x.key]))
        else:
            add("tissue_one", [rng.choice(ms)])
    return plans


def needs_annotation(plan: Plan) -> list[tuple[str, str]]:
    """(kind, sequence) pairs whose motif annotation this plan needs."""
    if plan.style in ("why", "followup"):
        return [(m.kind, m.sequence) for m in plan.rows]
    return []


class ConversationBuilder:
    """Renders plans into rows. ``annotations`` maps (kind, sequence) to :class:`Annotation`."""

    def __init__(self, registry: Registry, effects: MotifEffects, config: ConversationConfig | None = None):
        self.registry = registry
        self.effects = effects
        self.config = config or ConversationConfig()

    def _gc_median(self, key: str) -> float | None:
        return self.registry.specs[key].gc_median if key in self.registry else None

    def explanation(self, m: Measurement, annotation: Annotation) -> str:
        return explain(annotation, m.key, self.effects, self._gc_median(m.key), self.config.explain).text

    def render(self, plan: Plan, annotations: dict[tuple[str, str], Annotation]) -> dict:
        rng = random.Random(f"{self.config.seed}:{plan.uid}")
        style = plan.style
        ms = plan.rows
        first = ms[0]
        task = T.split_key(first.key)[0]
        kind = "terminator" if task == T.TERMINATOR else "promoter"
        noun = Q.NOUN.get(task, "promoter")
        messages: list[dict] = []
        targets: list[float] = []
        keys: list[str] = []

        def q(template: str, **kw) -> str:
            return template.format(dna=Q.DNA, **kw)

        def a(template: str, ms_: list[Measurement], **kw) -> str:
            targets.extend(m.value for m in ms_)
            keys.extend(m.key for m in ms_)
            return template.format(num=Q.NUM, noun=noun, **kw)

        if style in ("single", "implicit", "why", "followup"):
            sys_q, sys_long = rng.choice(Q.system_names(first.key)), Q.system_long(first.key)
            if style == "implicit":
                messages.append({"role": "user", "content": q(rng.choice(Q.IMPLICIT_Q[kind]))})
                messages.append(
                    {"role": "assistant", "content": a(rng.choice(Q.IMPLICIT_A), ms, sys_long=sys_long)}
                )
            elif style == "why":
                expl = self.explanation(first, annotations[(first.kind, first.sequence)])
                messages.append({"role": "user", "content": q(rng.choice(Q.WHY_Q[kind]), sys=sys_q)})
                messages.append(
                    {
                        "role": "assistant",
                        "content": a(rng.choice(Q.WHY_A), ms, sys_long=sys_long, explanation=expl),
                    }
                )
            else:
                messages.append({"role": "user", "content": q(rng.choice(Q.SINGLE_Q[kind]), sys=sys_q)})
                messages.append(
                    {"role": "assistant", "content": a(rng.choice(Q.SINGLE_A), ms, sys_long=sys_long)}
                )
                if style == "followup":
                    expl = self.explanation(first, annotations[(first.kind, first.sequence)])
                    messages.append({"role": "user", "content": rng.choice(Q.FOLLOW_WHY_Q)})
                    messages.append({"role": "assistant", "content": expl})
            sequences = [first.sequence]
        elif style == "compare":
            sys_q, sys_long = rng.choice(Q.system_names(first.key)), Q.system_long(first.key)
            messages.append({"role": "user", "content": q(rng.choice(Q.COMPARE_Q[kind]), sys=sys_q)})
            messages.append(
                {"role": "assistant", "content": a(rng.choice(Q.COMPARE_A), ms, sys_long=sys_long)}
            )
            sequences = [m.sequence for m in ms]
        elif style == "cross":
            messages.append(
                {
                    "role": "user",
                    "content": q(rng.choice(Q.SINGLE_Q[kind]), sys=rng.choice(Q.system_names(first.key))),
                }
            )
            messages.append(
                {
                    "role": "assistant",
                    "content": a(rng.choice(Q.SINGLE_A), [first], sys_long=Q.system_long(first.key)),
                }
            )
            for m in ms[1:]:
                messages.append(
                    {
                        "role": "user",
                        "content": rng.choice(Q.CROSS_Q).format(sys=rng.choice(Q.system_names(m.key))),
                    }
                )
                messages.append(
                    {
                        "role": "assistant",
                        "content": a(rng.choice(Q.CROSS_A), [m], sys_long=Q.system_long(m.key)),
                    }
                )
            sequences = [first.sequence]
        elif style in ("tissue_all", "tissue_one"):
            species = first.key.split("/")[1].split(":")[0]
            atlas = T.ATLAS[species].split(" (")[0].replace("EMBL-EBI ", "")
            if style == "tissue_all":
                items = "; ".join(f"{m.key.split(':', 1)[1]}: {Q.NUM}" for m in ms)
                messages.append({"role": "user", "content": q(rng.choice(Q.TISSUE_ALL_Q), species=species)})
                content = rng.choice(Q.TISSUE_ALL_A).format(species=species, atlas=atlas, items=items)
                targets.extend(m.value for m in ms)
                keys.extend(m.key for m in ms)
                messages.append({"role": "assistant", "content": content})
            else:
                organ = first.key.split(":", 1)[1]
                messages.append(
                    {"role": "user", "content": q(rng.choice(Q.TISSUE_ONE_Q), species=species, organ=organ)}
                )
                messages.append(
                    {
                        "role": "assistant",
                        "content": a(rng.choice(Q.TISSUE_ONE_A), ms, species=species, organ=organ),
                    }
                )
            sequences = [first.sequence]
        else:
            raise ConfigError(f"unknown style {style!r}")
        tissues = list(dict.fromkeys(T.split_key(k)[1] for k in keys))
        tissue = (
            tissues[0]
            if len(tissues) == 1
            else (f"{species}:all" if style == "tissue_all" else "+".join(tissues))
        )
        return {
            "id": f"{style}-{plan.uid}",
            "task": task,
            "tissue": tissue,
            "split": plan.split,
            "sequences": sequences,
            "messages": messages,
            "targets": [float(t) for t in targets],
            "target_keys": keys,
            "baseline": first.baseline if len(targets) == 1 else None,
        }


def count_slots(example: dict) -> tuple[int, int]:
    """(number of ``<num>`` in assistant turns, number of ``<dna>`` in user turns)."""
    nums = sum(m["content"].count(Q.NUM) for m in example["messages"] if m["role"] == "assistant")
    dnas = sum(m["content"].count(Q.DNA) for m in example["messages"] if m["role"] == "user")
    return nums, dnas

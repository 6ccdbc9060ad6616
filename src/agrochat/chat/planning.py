"""A turn's plan from the decoder, checked against hard facts.

:class:`DecoderPlanner` hands the conversation (every sequence as ``<dna>`` embeddings) to the decoder's planner
(:mod:`agrochat.bridge.planner`) and turns its scores into an :class:`~agrochat.chat.dialogue.Intent`. The rules
of :mod:`agrochat.chat.dialogue` no longer decide the plan; they only validate it and word the messages of the
turns without a number:

- an operation that computes needs a sequence in the conversation (else ``need_dna``);
- a comparison needs two sequences (else a prediction), an explanation or a variant one;
- a ranking covers every tissue of one species;
- at least one key for an operation that computes (the most likely one when none passes 0.5).

Every veto is named in ``Intent.vetoes``, so evaluations can count them.
"""

from __future__ import annotations

from dataclasses import replace

from agrochat.bridge.planner import Planner, PlanScores
from agrochat.domain import tasks as T
from agrochat.domain.operations import NUMBER_OPS

from .dialogue import DNA_RUN, Intent, Resolver, key_label

NEED_DNA = (
    "I need the DNA sequence to answer that: paste it into your message. Without a sequence I will not guess a "
    "number."
)


def with_placeholders(messages: list[dict], dna=None) -> tuple[list[dict], list[str]]:
    """``messages`` (user and assistant turns) with every sequence of a user turn as ``<dna>``, and the sequences in
    order; ``dna`` (a sequence or a list) belongs to the last user turn."""
    extra = [dna] if isinstance(dna, str) else list(dna or [])
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    out, seqs = [], []
    for i, m in enumerate(messages):
        if m.get("role") not in ("user", "assistant"):
            continue
        text = str(m.get("content") or "")
        if m["role"] == "user":
            seqs += [s.upper().replace("U", "T") for s in DNA_RUN.findall(text)]
            text = DNA_RUN.sub("<dna>", text)
            if i == last_user and extra:
                seqs += [s.upper() for s in extra]
                text = text.rstrip() + " " + " ".join(["<dna>"] * len(extra))
        out.append({"role": m["role"], "content": text})
    return out, seqs


class DecoderPlanner:
    """Plans a turn with the decoder; ``rules`` (a :class:`Resolver`) word refusals and questions."""

    def __init__(self, planner: Planner, known_keys: list[str]) -> None:
        self.planner = planner
        self.known = list(known_keys)
        self.rules = Resolver(known_keys)

    def scores(self, messages: list[dict], dna=None) -> tuple[PlanScores, list[str]]:
        convo, seqs = with_placeholders(messages, dna)
        return self.planner.scores(convo, seqs), seqs

    def plan(self, messages: list[dict], dna=None) -> Intent:
        scores, seqs = self.scores(messages, dna)
        return self.decide(scores, seqs, self.rules.resolve(messages, dna), _last_user(messages))

    # ---- scores -> a checked plan ----------------------------------------------------------------------------
    def decide(self, s: PlanScores, seqs: list[str], rules: Intent, words: str) -> Intent:
        op = max(s.op, key=s.op.get)
        vetoes: list[str] = []
        if op in NUMBER_OPS and not seqs:
            vetoes.append(f"{op} without a sequence: need_dna")
            op = "need_dna"
        if op not in NUMBER_OPS:
            return self._no_number(op, s, rules, vetoes)
        keys = self._keys(op, s)
        targets = self._targets(op, s, len(seqs))
        if op == "compare" and len(targets) < 2:
            if len(seqs) < 2:
                vetoes.append("compare with one sequence: predict")
                op = "predict"
            else:
                targets = sorted(sorted(range(len(seqs)), key=lambda i: -s.sequences[i])[:2])
                vetoes.append("compare named fewer than two sequences: the two most likely")
        if op in ("explain", "variant", "design") and len(targets) > 1:
            targets = [max(targets, key=lambda i: s.sequences[i])]
        labels = [f"sequence {i + 1}" for i in targets]
        goal = max(s.goal, key=s.goal.get)
        base = dict(source="decoder", vetoes=tuple(vetoes), goal=goal if op == "design" else None)
        if op == "rank":
            return Intent(
                "rank", keys=tuple(keys), sequences=(seqs[targets[0]],), labels=(labels[0],), **base
            )
        if op == "explain":
            return Intent(
                "explain", keys=(keys[0],), sequences=(seqs[targets[0]],), labels=(labels[0],), **base
            )
        if op in ("variant", "design"):
            return Intent(
                op,
                keys=tuple(keys),
                sequences=(seqs[targets[0]],),
                labels=(labels[0],),
                message=words,
                **base,
            )
        pairs = [(i, k) for i in targets for k in keys]
        return Intent(
            op,
            keys=tuple(k for _, k in pairs),
            sequences=tuple(seqs[i] for i, _ in pairs),
            labels=tuple(f"sequence {i + 1}" for i, _ in pairs),
            **base,
        )

    def _keys(self, op: str, s: PlanScores) -> list[str]:
        if op == "rank":  # every tissue of the most likely species
            species = {}
            for k, p in s.keys.items():
                if k.startswith(f"{T.TISSUE}/"):
                    species.setdefault(T.split_key(k)[1].split(":", 1)[0], []).append(p)
            best = max(species, key=lambda sp: sum(species[sp]) / len(species[sp]))
            return [k for k in self.known if k.startswith(f"{T.TISSUE}/{best}:")]
        keys = [k for k in self.known if s.keys.get(k, 0.0) > 0.5]
        return keys or [max(s.keys, key=s.keys.get)]

    @staticmethod
    def _targets(op: str, s: PlanScores, n: int) -> list[int]:
        chosen = [i for i, p in enumerate(s.sequences) if p > 0.5]
        return chosen or [max(range(n), key=lambda i: s.sequences[i])]

    def _no_number(self, op: str, s: PlanScores, rules: Intent, vetoes: list[str]) -> Intent:
        base = dict(source="decoder", vetoes=tuple(vetoes))
        if op == rules.op:  # the rules word the same decision: keep their message and suggestions
            return replace(rules, **base)
        if op == "need_dna":
            return Intent("need_dna", message=NEED_DNA, **base)
        if op == "refuse":
            near = sorted(s.keys, key=s.keys.get, reverse=True)[:3]
            return Intent(
                "refuse",
                message="I have no measurement for that, so I will not give a number. The closest things I can "
                f"answer: {'; '.join(key_label(k) for k in near)}.",
                suggestions=tuple(near),
                **base,
            )
        if op == "clarify":
            near = sorted(s.keys, key=s.keys.get, reverse=True)[:4]
            return Intent(
                "clarify",
                message=f"Which one do you mean: {'; '.join(key_label(k) for k in near)}?",
                suggestions=tuple(near),
                **base,
            )
        return Intent(op, **base)


def _last_user(messages: list[dict]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return DNA_RUN.sub(" ", str(users[-1].get("content") or "")).strip() if users else ""

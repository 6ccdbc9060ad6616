"""Optional paraphrasing of conversation turns through any LangChain chat model.

A paraphrase is accepted only if it keeps every slot and fact: the same number of ``<num>`` and ``<dna>``
slots, every number and every motif name of the original, no number or motif name that was not in the
original, and every assay, species and tissue name of the original (they say what each number is about). Otherwise the original turn is kept and the rejection is counted.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from agrochat.errors import ConfigError

from ..domain.explain import MENTION_RE
from ..domain.prompts import DNA, NUM, SYSTEM_LONG

PROMPT = (
    "Rewrite the following assistant reply so that it reads naturally, in different words. Keep every "
    f"placeholder {NUM} and {DNA} exactly as written and in the same order, keep every number, motif name and "
    "position exactly, add no new facts or numbers. Reply with the rewritten text only."
)
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?%?")


def _numbers(text: str) -> Counter:
    text = text.replace("\u2212", "-").replace(NUM, " ").replace(DNA, " ")
    return Counter(m.lstrip("+") for m in _NUMBER.findall(text))


def _mentions(text: str) -> set[str]:
    return set(MENTION_RE.findall(text))


@lru_cache(maxsize=1)
def protected_phrases() -> tuple[str, ...]:
    """Assay, species and tissue names that a paraphrase must keep (they say what each number is about)."""
    phrases = set(SYSTEM_LONG.values()) | {
        "tobacco",
        "maize",
        "sorghum",
        "protoplast",
        "enhancer",
        "dark",
        "light",
    }
    try:
        from ..domain.registry import load_registry

        for key in load_registry().keys():
            tissue = key.split("/", 1)[1]
            if ":" in tissue:
                phrases.add(tissue.split(":", 1)[1])
    except (OSError, ValueError):  # registry not available: check the fixed phrases only
        pass
    return tuple(sorted(phrases, key=len, reverse=True))


def check_paraphrase(original: str, candidate: str) -> list[str]:
    """Problems that make ``candidate`` unacceptable as a paraphrase of ``original`` (empty = fine)."""
    problems = []
    if not candidate.strip():
        return ["empty paraphrase"]
    for slot in (NUM, DNA):
        if candidate.count(slot) != original.count(slot):
            problems.append(f"{slot} count {candidate.count(slot)} != {original.count(slot)}")
    orig_n, cand_n = _numbers(original), _numbers(candidate)
    missing = sorted(set(orig_n) - set(cand_n))
    added = sorted(set(cand_n) - set(orig_n))
    if missing:
        problems.append(f"numbers dropped: {', '.join(missing)}")
    if added:
        problems.append(f"numbers added: {', '.join(added)}")
    orig_m, cand_m = _mentions(original), _mentions(candidate)
    if orig_m - cand_m:
        problems.append(f"motifs dropped: {', '.join(sorted(orig_m - cand_m))}")
    if cand_m - orig_m:
        problems.append(f"motifs added: {', '.join(sorted(cand_m - orig_m))}")
    low_o, low_c = original.lower(), candidate.lower()
    lost = [p for p in protected_phrases() if p.lower() in low_o and p.lower() not in low_c]
    if lost:
        problems.append(f"assay or tissue names dropped: {', '.join(lost)}")
    return problems


@dataclass
class ParaphraseConfig:
    """Paraphrasing settings.

    Attributes:
        roles: which turns to rewrite (``"assistant"`` and/or ``"user"``).
        fraction: share of examples to paraphrase, chosen deterministically from the example id.
        prompt: the system instruction sent with each turn.
    """

    roles: tuple[str, ...] = ("assistant",)
    fraction: float = 1.0
    prompt: str = PROMPT

    def __post_init__(self) -> None:
        if not set(self.roles) <= {"assistant", "user"} or not self.roles:
            raise ConfigError("roles must be a non-empty subset of ('assistant', 'user')")
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError("fraction must be in [0, 1]")


@dataclass
class ParaphraseStats:
    """Counts of paraphrased turns: accepted, rejected (fact check failed) and model errors."""

    attempted: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: int = 0
    reasons: Counter = field(default_factory=Counter)


def _selected(example: dict, fraction: float) -> bool:
    if fraction >= 1.0:
        return True
    h = int(hashlib.sha1(str(example.get("id", "")).encode()).hexdigest()[:8], 16) / 2**32
    return h < fraction


class Paraphraser:
    """Callable ``example -> example`` that rewrites turns with ``chat_model`` and keeps count in ``stats``."""

    def __init__(self, chat_model, config: ParaphraseConfig | None = None):
        if not hasattr(chat_model, "invoke"):
            raise TypeError("chat_model must be a LangChain chat model (an object with .invoke)")
        self.chat_model = chat_model
        self.config = config or ParaphraseConfig()
        self.stats = ParaphraseStats()

    def rewrite(self, text: str) -> str | None:
        from langchain_core.messages import HumanMessage, SystemMessage

        self.stats.attempted += 1
        try:
            reply = self.chat_model.invoke(
                [SystemMessage(content=self.config.prompt), HumanMessage(content=text)]
            )
        except Exception as exc:  # a model failure must not abort a build
            self.stats.errors += 1
            self.stats.reasons[f"model error: {type(exc).__name__}"] += 1
            return None
        candidate = reply.content if hasattr(reply, "content") else str(reply)
        candidate = candidate if isinstance(candidate, str) else str(candidate)
        problems = check_paraphrase(text, candidate)
        if problems:
            self.stats.rejected += 1
            for p in problems:
                self.stats.reasons[p.split(":")[0]] += 1
            return None
        self.stats.accepted += 1
        return candidate.strip()

    def __call__(self, example: dict) -> dict:
        if not _selected(example, self.config.fraction):
            return example
        out = copy.deepcopy(example)
        for msg in out["messages"]:
            if msg["role"] in self.config.roles:
                new = self.rewrite(msg["content"])
                if new is not None:
                    msg["content"] = new
        return out


def paraphrase(
    example: dict, chat_model, config: ParaphraseConfig | None = None, stats: ParaphraseStats | None = None
) -> dict:
    """Paraphrase one example with ``chat_model``; rejected rewrites keep the original turn.

    Pass ``stats`` to accumulate counts over many calls.
    """
    p = Paraphraser(chat_model, config)
    if stats is not None:
        p.stats = stats
    return p(example)

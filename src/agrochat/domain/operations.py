"""The operations a chat turn can ask for, and a design's directions: one list for everything that plans."""

from __future__ import annotations

OPS = (
    "predict",
    "compare",
    "rank",
    "explain",
    "variant",
    "design",
    "general",
    "need_dna",
    "clarify",
    "refuse",
    "greet",
    "help",
)
NUMBER_OPS = ("predict", "compare", "rank", "explain", "variant", "design")  # the operations that compute
GOALS = ("none", "stronger", "weaker", "target")


def plan_group(key: str) -> str:
    """The group of a key in a plan: one turn's numbers come from one group. The natural-promoter conditions join
    ``promoter_strength`` (its leaf and protoplast keys are the with-enhancer, dark conditions of the same
    library), so "with and without the enhancer" is one plan; every other task is its own group."""
    from .tasks import NATURAL, PROMOTER, split_key

    task = split_key(key)[0]
    return PROMOTER if task == NATURAL else task

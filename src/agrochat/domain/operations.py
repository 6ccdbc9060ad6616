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

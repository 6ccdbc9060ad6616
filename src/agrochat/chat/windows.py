"""Which part of a long pasted sequence is scored: the model reads a 170-bp core promoter (-165..+5 around the
TSS), so a promoter region of a kilobase is either cut to its 3'-most 170 bp, when the user says it ends at the
TSS, or answered with a question; it is never scored whole without a word (its number would be far outside what
the model learned)."""

from __future__ import annotations

import re
from dataclasses import replace

from agrochat.domain import tasks as T
from agrochat.errors import InputError

from .dialogue import Intent

CORE = 170
"""Bases of the core-promoter window the model reads."""
LONG = 2 * CORE
"""A promoter sequence longer than this is a region, not a core promoter."""
SCORES = ("predict", "compare", "rank", "explain", "variant", "design")
WINDOWS = ("whole", "tss_end")

_TSS = r"(?:the\s+)?(?:TSS|transcription\s+start(?:\s+site)?|start\s+site)"
ENDS_AT_TSS = re.compile(
    rf"\b(?:ends?|ending|stops?)\s+(?:right\s+|exactly\s+|just\s+)?(?:at|with|on)\s+{_TSS}"
    rf"|\bup\s*to\s+{_TSS}|\b(?:upstream|5'|5′)\s+(?:of|from)\s+{_TSS}",
    re.I,
)


ASKED = "but the model reads a 170-bp core promoter"
"""The words of the question :func:`fit_windows` asks back; a reply to it is read with the question before."""


def answers_window_question(messages: list[dict]) -> bool:
    """The last user turn replies to the window question with words saying where the TSS is."""
    return (
        len(messages) >= 3
        and messages[-2].get("role") == "assistant"
        and ASKED in str(messages[-2].get("content", ""))
        and ENDS_AT_TSS.search(str(messages[-1].get("content", ""))) is not None
    )


def tss_end(seq: str) -> str:
    """The window of a sequence that ends at the TSS: its 3'-most 170 bp (the whole of a shorter one)."""
    return seq[-CORE:]


def window(seq: str, how: str) -> str:
    """``seq`` as scored: ``whole`` (as given) or ``tss_end`` (:func:`tss_end`)."""
    if how not in WINDOWS:
        raise InputError(f"window must be one of {WINDOWS}, not {how!r}")
    return tss_end(seq) if how == "tss_end" else seq


def _promoter_like(keys) -> bool:
    return bool(keys) and not all(T.split_key(k)[0] == T.TERMINATOR for k in keys)


def fit_windows(intent: Intent, messages: list[dict]) -> Intent:
    """``intent`` with every long promoter sequence cut to its 3'-most 170 bp when the user's words say it ends at
    the TSS (the answer says so, in ``notes``); a clarifying question when they do not, or for a long terminator
    (its window centres on a cleavage site that only an annotation places)."""
    if intent.op not in SCORES or not intent.sequences:
        return intent
    long = [(i, s) for i, s in enumerate(intent.sequences) if len(s) > LONG]
    if not long:
        return intent
    label = intent.labels[long[0][0]] if intent.labels else "sequence"
    n = len(long[0][1])
    if not _promoter_like(intent.keys):
        return Intent(
            "clarify",
            message=f"Your {label} is {n:,} bp, but the model reads a 170-nt terminator centred on its poly(A) "
            "cleavage site. Please paste that 170-nt window (agrochat scan cuts it from a genome and its "
            "annotation).",
            source=intent.source,
        )
    words = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    if not ENDS_AT_TSS.search(words):
        return Intent(
            "clarify",
            message=f"Your {label} is {n:,} bp, {ASKED} (-165..+5 around the "
            'TSS). If it ends at the TSS, say so (e.g. "it ends at the TSS") and I will score its 3\'-most 170 '
            "bp; or paste the 170-bp window.",
            source=intent.source,
        )
    seqs = list(intent.sequences)
    notes = []
    for i, s in long:
        seqs[i] = tss_end(s)
        name = intent.labels[i] if intent.labels else "sequence"
        notes.append(
            f"Scored: the 3'-most 170 bp of your {len(s):,}-bp {name} (bases {len(s) - CORE + 1:,}-{len(s):,}), "
            "taking it to end at the TSS."
        )
    return replace(intent, sequences=tuple(seqs), notes=intent.notes + tuple(dict.fromkeys(notes)))

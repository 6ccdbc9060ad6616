"""Question and answer phrasings. ``{dna}`` marks a sequence (rendered as the literal ``<dna>``), ``<num>``
marks a number slot filled by the regression head. Nothing here depends on a label value."""

from __future__ import annotations

from ..errors import UnknownTaskError
from . import tasks as T

DNA = "<dna>"
NUM = "<num>"

SYSTEM_NAMES = {
    "leaf": [
        "tobacco leaves",
        "tobacco leaf",
        "N. benthamiana leaves",
        "Nicotiana benthamiana leaves",
        "the tobacco leaf assay",
        "tobacco",
    ],
    "protoplast": [
        "maize protoplasts",
        "maize leaf protoplasts",
        "the maize protoplast assay",
        "protoplasts",
        "maize protoplast cells",
    ],
}
SYSTEM_LONG = {
    "leaf": "tobacco (N. benthamiana) leaves",
    "protoplast": "maize leaf protoplasts",
}
ENH_NAMES = {
    "withENH": ["with the 35S enhancer", "with an upstream 35S enhancer", "in the enhancer construct"],
    "noENH": ["without an enhancer", "with no enhancer", "in the enhancer-less construct"],
}
LIGHT_NAMES = {
    "dark": ["in the dark", "with plants kept dark"],
    "light": ["in the light", "with plants kept in light"],
}
NOUN = {
    T.PROMOTER: "promoter",
    T.SYNTHETIC: "synthetic promoter",
    T.NATURAL: "promoter",
    T.TERMINATOR: "terminator",
}
# natural_promoter has no default key: its conditions are only asked about by name (no "implicit" rows)
DEFAULT_KEYS = {
    T.PROMOTER: "promoter_strength/leaf",
    T.TERMINATOR: "terminator_strength/leaf",
    T.SYNTHETIC: "synthetic_promoter/leaf_withENH_dark",
}
CONDITION_TASKS = (T.SYNTHETIC, T.NATURAL)

SINGLE_Q = {
    "promoter": [
        "How strongly is this promoter expressed in {sys}? {dna}",
        "{dna}\nWhat is the strength of this promoter in {sys}?",
        "Predict the activity of this 170 bp core promoter in {sys}: {dna}",
        "Here is a promoter sequence: {dna}. How active would it be in {sys}?",
        "Estimate the expression level this promoter drives in {sys}.\n{dna}",
        "I put this core promoter in front of a reporter gene: {dna}. What strength should I expect in {sys}?",
        "Score this promoter for {sys}: {dna}",
        "How strong is {dna} as a promoter in {sys}?",
    ],
    "terminator": [
        "How strong is this terminator in {sys}? {dna}",
        "{dna}\nWhat terminator strength would this sequence have in {sys}?",
        "Estimate how well this 170 nt terminator sustains reporter mRNA levels in {sys}: {dna}",
        "I want to use this terminator in {sys}. How strong is it? {dna}",
        "Score this terminator for {sys}: {dna}",
        "What is the strength of the terminator {dna} in {sys}?",
    ],
}
IMPLICIT_Q = {
    "promoter": [
        "How strong is this promoter? {dna}",
        "{dna}\nIs this a strong promoter?",
        "What expression level would this core promoter give? {dna}",
        "Rate the strength of this promoter: {dna}",
    ],
    "terminator": [
        "How strong is this terminator? {dna}",
        "{dna}\nIs this a good terminator?",
        "Rate this terminator sequence: {dna}",
    ],
}
SINGLE_A = [
    "In {sys_long}, I estimate this {noun}'s strength at {num}.",
    "Predicted strength in {sys_long}: {num}.",
    "My estimate for {sys_long} is {num}.",
    "This {noun} should come out at about {num} in {sys_long}.",
]
IMPLICIT_A = [
    "You did not name an assay, so I assume the default one, {sys_long}: I estimate its strength at {num}.",
    "Taking {sys_long} as the reference system, its predicted strength is {num}.",
]
WHY_Q = {
    "promoter": [
        "How strong is this promoter in {sys}, and why? {dna}",
        "{dna}\nEstimate this promoter's strength in {sys} and explain which sequence features matter.",
        "What makes this promoter strong or weak in {sys}? Give a number too. {dna}",
    ],
    "terminator": [
        "How strong is this terminator in {sys}, and why? {dna}",
        "{dna}\nEstimate this terminator's strength in {sys} and explain what in the sequence drives it.",
    ],
}
WHY_A = [
    "I estimate its strength in {sys_long} at {num}. {explanation}",
    "Predicted strength in {sys_long}: {num}. What the sequence shows: {explanation}",
]
FOLLOW_WHY_Q = [
    "Why?",
    "What features of the sequence explain that?",
    "Which motifs does it contain?",
    "Can you explain that estimate?",
    "What drives that?",
]
COMPARE_Q = {
    "promoter": [
        "Which of these two promoters is stronger in {sys}? First: {dna} Second: {dna}",
        "Compare these promoters for {sys}:\n1. {dna}\n2. {dna}",
        "I have two candidate promoters for {sys}. A: {dna} B: {dna}. Which should I use for higher expression?",
    ],
    "terminator": [
        "Which of these two terminators is stronger in {sys}? First: {dna} Second: {dna}",
        "Compare these terminators for {sys}:\n1. {dna}\n2. {dna}",
    ],
}
COMPARE_A = [
    "Estimated strength in {sys_long}: the first {noun} {num}, the second {noun} {num}. "
    "The higher value marks the stronger one.",
    "For {sys_long} I predict {num} for the first {noun} and {num} for the second; pick the one with the higher value.",
]
CROSS_Q = [
    "And in {sys}?",
    "What about {sys}?",
    "How would it do in {sys}?",
    "And if I used it in {sys} instead?",
]
CROSS_A = [
    "In {sys_long}, I estimate {num}.",
    "For {sys_long}: {num}.",
    "In {sys_long} it should come out at {num}.",
]
TISSUE_ALL_Q = [
    "In which {species} tissues is the gene with this promoter expressed most? {dna}",
    "Give me the expression profile across {species} tissues for the gene behind this promoter: {dna}",
    "{dna}\nThis is the core promoter of a {species} gene. Where is the gene expressed?",
]
TISSUE_ALL_A = [
    "Estimated baseline expression of this {species} gene by tissue ({atlas}): {items}. "
    "The tissues with the highest values are where it is expressed most.",
    "Per-tissue estimates for this {species} gene ({atlas}): {items}.",
]
TISSUE_ONE_Q = [
    "How highly is the {species} gene with this promoter expressed in {organ}? {dna}",
    "{dna}\nThis is a {species} core promoter. What is its gene's expression in {organ}?",
    "Estimate the expression in {species} {organ} of the gene driven by this promoter: {dna}",
]
TISSUE_ONE_A = [
    "Estimated expression of this gene in {species} {organ}: {num}.",
    "In {species} {organ} I expect about {num}.",
]


def system_names(key: str) -> list[str]:
    """User-side phrasings of the condition of a promoter/terminator/synthetic key."""
    task, tissue = T.split_key(key)
    if tissue in SYSTEM_NAMES:
        return SYSTEM_NAMES[tissue]
    if task in CONDITION_TASKS:
        where, enh, light = tissue.split("_")
        bases = SYSTEM_NAMES["leaf" if where == "leaf" else "protoplast"][:3]
        return [f"{b} {e}, {li}" for b in bases for e in ENH_NAMES[enh] for li in LIGHT_NAMES[light]]
    raise UnknownTaskError(f"unknown task/tissue key {key!r}")


def system_long(key: str) -> str:
    """Assistant-side fixed name of the condition."""
    task, tissue = T.split_key(key)
    if tissue in SYSTEM_LONG:
        return SYSTEM_LONG[tissue]
    if task in CONDITION_TASKS:
        return (
            T.condition_short(tissue)
            .replace("tobacco leaves", SYSTEM_LONG["leaf"])
            .replace("maize protoplasts", SYSTEM_LONG["protoplast"])
        )
    raise UnknownTaskError(f"unknown task/tissue key {key!r}")


def canonical_prompt(key: str, why: bool = False) -> tuple[str, str]:
    """The fixed (question, answer prefix) used by the fast path and by ``Assistant.ask`` for a task key.

    The question holds one ``{dna}`` rendered as ``<dna>``; the answer prefix ends with ``<num>``. Both are
    phrasings of the training templates (first variant), so the fast path sees what the model was trained on.
    ``why=True`` gives the "strength and why" phrasing whose answer continues with an explanation.
    """
    task, tissue = T.split_key(key)
    if task == T.TISSUE:
        species, organ = tissue.split(":", 1)
        q = TISSUE_ONE_Q[0].format(species=species, organ=organ, dna=DNA)
        return q, TISSUE_ONE_A[0].split("{num}")[0].format(species=species, organ=organ) + NUM
    kind = "terminator" if task == T.TERMINATOR else "promoter"
    sys_q, sys_long = system_names(key)[0], system_long(key)
    if why:
        return WHY_Q[kind][0].format(sys=sys_q, dna=DNA), WHY_A[0].split("{num}")[0].format(
            sys_long=sys_long
        ) + NUM
    return SINGLE_Q[kind][0].format(sys=sys_q, dna=DNA), SINGLE_A[1].split("{num}")[0].format(
        sys_long=sys_long
    ) + NUM


def key_label(key: str) -> str:
    """Human name of a key: ``promoter strength in tobacco leaves``, ``expression in maize mature pollen``."""
    task, tissue = T.split_key(key)
    if task == T.TISSUE:
        species, name = tissue.split(":", 1)
        return f"expression in {species} {name}"
    noun = {T.TERMINATOR: "terminator strength", T.SYNTHETIC: "synthetic promoter strength"}.get(
        task, "promoter strength"
    )
    try:
        return f"{noun} in {system_long(key)}"
    except KeyError:
        return f"{noun} ({tissue})"

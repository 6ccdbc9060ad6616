"""Facts about the measurements behind agrochat's numbers, for general questions asked without DNA ("what unit
is that in?", "what data was the model trained on?", "what does AATAAA do?").

Each :class:`Fact` has the words that ask for it, the note the writer reads as evidence, and a plain rendering
(the answer when no writer words it). Every fact restates the sources' own descriptions (Jores et al. 2021,
Gorjifard et al. 2024, the EMBL-EBI Expression Atlas); none is a number the model computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agrochat.domain.motifs import gc_content
from agrochat.domain.tasks import ATLAS, GORJIFARD, JORES


@dataclass(frozen=True)
class Fact:
    """``asks``: a pattern of the words that ask for it; ``note``: the evidence text; ``text``: the plain answer."""

    topic: str
    asks: re.Pattern
    note: str
    text: str


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


POLYA = Fact(
    "poly(A) signal",
    _rx(r"aataaa|poly ?\(?a\)?|polyadenylation|why do terminators|terminators? (?:affect|matter)"),
    "AATAAA: canonical polyadenylation signal; determinants of terminator strength: GC content; "
    "polyadenylation motifs; cleavage probability; source: Gorjifard et al. 2024",
    "AATAAA is the canonical polyadenylation signal of terminators. In Gorjifard et al. 2024, terminator "
    "strength depended on GC content, on polyadenylation motifs and on the probability of cleavage.",
)
PROMOTER_UNIT = Fact(
    "promoter unit",
    _rx(
        r"\bunits?\b|log2|log scale|35s minimal|relative to|what do(?:es)? (?:the|that|these|this) (?:number|value)"
    ),
    "promoter unit: log2(reporter RNA/DNA) minus the 35S minimal promoter without enhancer; 0 = as strong "
    "as that reference; source: Jores et al. 2021",
    "Promoter strengths are log2 ratios of reporter RNA over DNA, minus the value of the 35S minimal promoter "
    "without enhancer: 0 is as strong as that reference, and each unit is a doubling or halving (Jores et al. "
    "2021).",
)
TERMINATOR_UNIT = Fact(
    "terminator unit",
    _rx(r"\bunits?\b|log2|log scale|what do(?:es)? (?:the|that|these|this) (?:number|value)"),
    "terminator unit: log2 units relative to the 35S terminator; 0 = as strong as that reference; source: "
    "Gorjifard et al. 2024",
    "Terminator strengths are log2 units relative to the 35S terminator: 0 is as strong as that reference "
    "(Gorjifard et al. 2024).",
)
EXPRESSION_UNIT = Fact(
    "expression unit",
    _rx(r"fpkm|tpm|\bunits?\b|log scale|linear|tissue expression"),
    "expression unit: log2(FPKM+1); FPKM: RNA-seq fragments per kb of transcript per million mapped fragments; "
    "0 = not expressed",
    "Tissue expression is log2(FPKM + 1): RNA-seq fragments per kilobase of transcript per million mapped "
    "fragments, plus one, on a log2 scale (0: not expressed).",
)
GC = Fact(
    "GC content",
    _rx(r"\bgc\b|gc[- ]rich|gc content"),
    "GC content: higher GC, weaker promoters (tobacco leaves); almost no effect (maize protoplasts); source: "
    "Jores et al. 2021",
    "In Jores et al. 2021, GC-rich promoters were weaker on average in tobacco leaves, while GC content made "
    "almost no difference in maize protoplasts.",
)
DATA = Fact(
    "training data",
    _rx(
        r"\btrain(?:ed|ing)\b|what data|which data|datasets?|where (?:do|does|did) (?:the|your) (?:data|numbers)"
        r"|source of|measured by whom|which (?:study|paper|experiment)"
    ),
    f"training data: promoters (tobacco leaves, maize protoplasts): {JORES}; terminators: {GORJIFARD}; "
    f"tissue expression: {ATLAS['maize']}; "
    f"{ATLAS['sorghum']}",
    f"The model learned from measured data only: plant promoters from {JORES} (tobacco leaves and maize "
    f"protoplasts), terminators from {GORJIFARD}, and tissue expression from the {ATLAS['maize']} and the "
    f"{ATLAS['sorghum']}. It never trained on a test sequence.",
)
FACTS = (POLYA, DATA, GC, PROMOTER_UNIT, TERMINATOR_UNIT, EXPRESSION_UNIT)


ASKS_COMPOSITION = _rx(
    r"how\s+(?:long|big|many\s+(?:bases|bp|nt|nucleotides|base\s*pairs))|\blength\b|\bsize\b|\bgc\b|composition"
)


def composition(sequences: list[str]) -> list[str]:
    """Per sequence: its length and GC content, counted from its bases (nothing predicted)."""
    return [
        f"sequence {i}: {len(seq)} bases, GC content {gc_content(seq):.0%}"
        for i, seq in enumerate(sequences, 1)
    ]


def facts_for(question: str) -> list[Fact]:
    """The facts ``question`` asks for, in :data:`FACTS` order (several units when it asks "what unit" of no
    kind; the one kind when it names promoters, terminators or tissues)."""
    found = [f for f in FACTS if f.asks.search(question)]
    units = [f for f in found if f.topic.endswith("unit")]
    if len(units) > 1:
        low = question.lower()
        named = [
            f
            for f, words in (
                (PROMOTER_UNIT, ("promot",)),
                (TERMINATOR_UNIT, ("terminat",)),
                (EXPRESSION_UNIT, ("tissue", "expression", "gene", "fpkm")),
            )
            if f in units and any(w in low for w in words)
        ]
        if named:
            found = [f for f in found if f not in units or f in named]
    return found

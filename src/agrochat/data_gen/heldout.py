"""Held-out phrasings for evaluating how the assistant reads questions (``agrochat eval``: intent accuracy).

Evaluation only: no conversation builder reads this module (``tests/test_dialogue_eval.py`` checks it), so these
wordings never appear in training data. ``{dna}`` is a sequence, ``{sys}`` a system name, ``{species}``/``{organ}``
a tissue of the expression atlas, ``{where}`` a place the model has no measurement for.
"""

from __future__ import annotations

# (phrasing, task) -> the key is task/<system>
SYSTEM_PHRASINGS = [
    ("Could you tell me the activity of this core promoter when tested in {sys}? {dna}", "promoter_strength"),
    ("{dna} -- what reporter output would this promoter give in {sys}?", "promoter_strength"),
    ("I cloned {dna} upstream of GFP. How much expression should I see in {sys}?", "promoter_strength"),
    ("Give me a strength estimate in {sys} for the promoter {dna}", "promoter_strength"),
    ("In {sys}, is {dna} a weak or a strong promoter?", "promoter_strength"),
    ("Predict the terminator activity of {dna} in {sys}.", "terminator_strength"),
    ("How well does this 3' end work as a terminator in {sys}? {dna}", "terminator_strength"),
    ("{dna}\nTerminator strength in {sys}, please.", "terminator_strength"),
]
SYSTEM_WORDS = {
    "leaf": ["N. benthamiana", "Nicotiana benthamiana leaf discs", "agroinfiltrated tobacco leaves"],
    "protoplast": ["maize mesophyll protoplasts", "Zea mays protoplasts", "corn leaf protoplasts"],
}
TISSUE_PHRASINGS = [
    "What is the expression of the {species} gene behind {dna} in the {organ}?",
    "{dna}\nHow much is this {species} gene expressed in {organ}?",
    "Expression level in {species} {organ} for the gene with promoter {dna}?",
]
TISSUE_WORDS = [
    ("maize", "mature pollen", "tissue_expression/maize:mature pollen"),
    ("maize", "primary root", "tissue_expression/maize:primary root"),
    ("maize", "unpollinated silk", "tissue_expression/maize:unpollinated silk"),
    ("maize", "vegetative meristem", "tissue_expression/maize:vegetative meristem"),
    ("maize", "endosperm crown", "tissue_expression/maize:endosperm crown"),
    ("sorghum", "booting stage pollen", "tissue_expression/sorghum:booting stage, pollen"),
]
RANK_PHRASINGS = [
    "Rank the {species} tissues by how strongly this gene is expressed: {dna}",
    "{dna}\nWhere in the {species} plant is this gene most active?",
    "Which {species} tissue shows the highest expression for the gene with this promoter? {dna}",
]
REFUSAL_PHRASINGS = [
    "What strength would this promoter reach in {where}? {dna}",
    "Would {dna} drive high expression in {where}?",
    "{dna}\nWhat activity do you predict in {where}?",
]
UNKNOWN_PLACES = [
    "Arabidopsis seedlings",
    "rice callus",
    "wheat leaves",
    "tomato fruit",
    "tobacco roots",
    "soybean nodules",
    "potato tubers",
    "barley leaves",
]
# places with expression-atlas keys but no promoter-strength measurement: refused for strength questions only
STRENGTH_ONLY_PLACES = ["maize roots", "sorghum leaves", "maize pollen"]
STRENGTH_REFUSAL_PHRASINGS = [
    "Estimate the promoter activity of {dna} for {where}.",
    "{dna}\nRate the strength of this promoter in {where}.",
]

"""How people name what agrochat measures: synonyms of every assay system, condition and atlas tissue.

The planning data (:mod:`agrochat.data_gen.planning`) draws its wording from these tables, so a new way of saying
a tissue goes here once. Each entry is a phrase a biologist might type, lab jargon and abbreviations included.
"""

from __future__ import annotations

# promoter / terminator assay systems (keys ``<task>/leaf`` and ``<task>/protoplast``)
SYSTEMS = {
    "leaf": (
        "tobacco leaves",
        "tobacco leaf",
        "N. benthamiana leaves",
        "Nicotiana benthamiana",
        "N. benthamiana",
        "N. benth",
        "benthamiana",
        "Nb leaves",
        "Nb",
        "agroinfiltrated tobacco leaves",
        "tobacco agroinfiltration",
        "tobacco leaf discs",
        "the tobacco leaf assay",
        "the leaf system",
        "benth leaves",
        "tobacco",
        "infiltrated Nb leaves",
        "leaves of Nicotiana",
    ),
    "protoplast": (
        "maize protoplasts",
        "maize leaf protoplasts",
        "maize mesophyll protoplasts",
        "Zm protoplasts",
        "corn protoplasts",
        "protoplasts",
        "protos",
        "the protoplast assay",
        "Zea mays protoplasts",
        "corn leaf protoplasts",
        "maize protoplast transfection",
        "transfected maize protoplasts",
        "the maize system",
        "maize cells (protoplasts)",
    ),
}
BOTH_SYSTEMS = (
    "both systems",
    "both assays",
    "tobacco and maize",
    "leaves and protoplasts",
    "Nb and Zm protoplasts",
    "each system",
    "both tobacco leaves and maize protoplasts",
)
ENHANCER = {
    "withENH": ("with the 35S enhancer", "+35S enh", "with enhancer", "with a 35S enhancer upstream", "+enh"),
    "noENH": (
        "without the enhancer",
        "no enhancer",
        "w/o 35S enhancer",
        "minus enhancer",
        "-enh",
        "enhancerless",
    ),
}
LIGHT = {
    "light": ("in the light", "in light", "light-grown", "under light", "with lights on"),
    "dark": ("in the dark", "in darkness", "dark-incubated", "kept dark", "in dark conditions"),
}
PROMOTER_NOUNS = (
    "promoter",
    "core promoter",
    "promoter fragment",
    "minimal promoter",
    "5' region",
    "promoter seq",
)
TERMINATOR_NOUNS = (
    "terminator",
    "3' end",
    "terminator region",
    "3' UTR + terminator",
    "polyA region",
    "term",
)
NEUTRAL_NOUNS = ("sequence", "fragment", "construct", "element", "region", "seq", "insert", "bit of DNA")
SYNTHETIC_WORDS = (
    "synthetic promoter",
    "designed promoter",
    "synthetic construct",
    "synthetic core promoter",
)
SPECIES_NAMES = {
    "maize": ("maize", "corn", "Zea mays", "Zm", "B73"),
    "sorghum": ("sorghum", "Sorghum bicolor", "Sb", "sorghum bicolor", "BTx623"),
}
# atlas tissues: key tissue name -> phrases; ``AMBIGUOUS`` lists words that match several keys (ask which one)
TISSUES = {
    "maize": {
        "2-4 mm from tip of ear primordium": (
            "2-4 mm ear primordium",
            "ear primordium tip (2-4 mm)",
            "2-4mm ear tip",
            "2-4 mm from the tip",
        ),
        "6-8 mm from tip of ear primordium": (
            "6-8 mm ear primordium",
            "ear primordium 6-8 mm from the tip",
            "6-8mm ear",
            "6-8 mm from the tip",
        ),
        "embryo 20 days after pollination": (
            "embryo 20 DAP",
            "20 DAP embryo",
            "20-day embryo",
            "embryos at 20 DAP",
            "20 DAP",
        ),
        "embryo 38 days after pollination": (
            "embryo 38 DAP",
            "38 DAP embryo",
            "late embryo (38 days after pollination)",
            "38 DAP",
        ),
        "endosperm 12 days after pollination": (
            "endosperm 12 DAP",
            "12 DAP endosperm",
            "young endosperm at 12 days",
            "12 DAP",
        ),
        "endosperm crown": ("endosperm crown", "the crown of the endosperm", "crown endosperm"),
        "germinated embryo 2 days after imbibition": (
            "germinated embryo",
            "germinating embryo 2 DAI",
            "embryo 2 days after imbibition",
            "imbibed embryo",
            "germinating embryo",
            "2 DAI",
        ),
        "growth zone of leaf 8": ("growth zone of leaf 8", "leaf 8 growth zone", "L8 growth zone"),
        "internode 6-7": ("internode 6-7", "the 6-7 internode", "internode between nodes 6 and 7"),
        "internode 7-8": ("internode 7-8", "the 7-8 internode", "internode 7/8"),
        "mature female spikelet": ("mature female spikelet", "female spikelets", "female spikelet"),
        "mature leaf 8": ("mature leaf 8", "mature 8th leaf", "adult leaf 8", "mature leaf"),
        "mature pollen": ("mature pollen", "pollen", "pollen grains", "ripe pollen"),
        "pericarp and aleurone": ("pericarp and aleurone", "pericarp", "aleurone", "pericarp/aleurone"),
        "primary root": ("primary root", "primary roots", "the main root"),
        "root cortex": ("root cortex", "cortex of the root", "cortical cells of the root"),
        "root differentiation zone": (
            "root differentiation zone",
            "differentiation zone of the root",
            "differentiation zone",
        ),
        "root elongation zone": (
            "root elongation zone",
            "elongation zone of the root",
            "root EZ",
            "elongation zone",
        ),
        "secondary root": ("secondary root", "secondary roots", "lateral roots"),
        "stomatal division zone of leaf 8": (
            "stomatal division zone",
            "stomatal division zone of leaf 8",
            "stomatal zone",
        ),
        "symmetrical division zone of leaf 8": (
            "symmetrical division zone",
            "symmetric division zone of leaf 8",
            "symmetrical zone",
        ),
        "unpollinated silk": ("unpollinated silk", "silk", "silks", "unfertilized silks"),
        "vegetative meristem": ("vegetative meristem", "shoot apical meristem", "SAM", "meristem"),
    },
    "sorghum": {
        "20 days after pollination, endosperm": ("endosperm", "20 DAP endosperm", "developing endosperm"),
        "20 days after pollination, pericarp": ("pericarp", "20 DAP pericarp", "grain pericarp"),
        "20 days after pollination, plant embryo": ("embryo", "20 DAP embryo", "developing embryo"),
        "booting stage, pollen": ("pollen", "booting stage pollen", "pollen at booting"),
        "inflorescence size 1 to 10 millimeter, inflorescence": (
            "1-10 mm inflorescence",
            "inflorescence of 1 to 10 mm",
            "1-10 mm",
            "1 to 10 mm",
        ),
        "inflorescence size 1 to 2 centimeter, inflorescence": (
            "1-2 cm inflorescence",
            "young panicle of 1-2 cm",
            "1-2 cm",
            "1 to 2 cm",
        ),
        "inflorescence size 1 to 5 millimeter, inflorescence": (
            "1-5 mm inflorescence",
            "tiny 1-5 mm panicle",
            "1-5 mm",
            "1 to 5 mm",
        ),
        "seedling developmental stage, leaf": ("seedling leaf", "seedling leaves", "leaves of seedlings"),
        "seedling developmental stage, root": ("seedling root", "seedling roots", "roots of young seedlings"),
        "seedling developmental stage, shoot": ("seedling shoot", "seedling shoots", "shoots of seedlings"),
        "seedling developmental stage, whole organism": (
            "whole seedling",
            "entire seedling",
            "whole seedlings",
        ),
    },
}
AMBIGUOUS = {
    "maize": {
        "roots": (
            "primary root",
            "root cortex",
            "root differentiation zone",
            "root elongation zone",
            "secondary root",
        ),
        "root": (
            "primary root",
            "root cortex",
            "root differentiation zone",
            "root elongation zone",
            "secondary root",
        ),
        "embryo": (
            "embryo 20 days after pollination",
            "embryo 38 days after pollination",
            "germinated embryo 2 days after imbibition",
        ),
        "endosperm": ("endosperm 12 days after pollination", "endosperm crown"),
        "internodes": ("internode 6-7", "internode 7-8"),
        "internode": ("internode 6-7", "internode 7-8"),
        "stem": ("internode 6-7", "internode 7-8"),
        "ear primordium": ("2-4 mm from tip of ear primordium", "6-8 mm from tip of ear primordium"),
        "leaf 8": (
            "growth zone of leaf 8",
            "mature leaf 8",
            "stomatal division zone of leaf 8",
            "symmetrical division zone of leaf 8",
        ),
    },
    "sorghum": {
        "inflorescence": (
            "inflorescence size 1 to 10 millimeter, inflorescence",
            "inflorescence size 1 to 2 centimeter, inflorescence",
            "inflorescence size 1 to 5 millimeter, inflorescence",
        ),
        "panicle": (
            "inflorescence size 1 to 10 millimeter, inflorescence",
            "inflorescence size 1 to 2 centimeter, inflorescence",
            "inflorescence size 1 to 5 millimeter, inflorescence",
        ),
        "seedlings": (
            "seedling developmental stage, leaf",
            "seedling developmental stage, root",
            "seedling developmental stage, shoot",
            "seedling developmental stage, whole organism",
        ),
    },
}
# what agrochat has no measurement for: species, systems and organs (refused, no number)
UNKNOWN_SPECIES = (
    "Arabidopsis",
    "rice",
    "wheat",
    "barley",
    "tomato",
    "potato",
    "soybean",
    "cotton",
    "poplar",
    "Medicago",
    "Brachypodium",
    "cassava",
    "grapevine",
    "banana",
    "sugarcane",
    "Setaria",
    "canola",
    "pepper",
    "lettuce",
    "petunia",
)
UNKNOWN_SYSTEMS = (
    "Arabidopsis protoplasts",
    "rice protoplasts",
    "stable transgenic Arabidopsis lines",
    "HEK293 cells",
    "yeast",
    "E. coli",
    "tobacco BY-2 cells",
    "onion epidermal cells",
    "tobacco roots",
    "tobacco flowers",
    "wheat leaves",
    "tomato fruit",
    "rice callus",
    "potato tubers",
    "soybean hairy roots",
    "a dual-luciferase assay in Arabidopsis",
    "poplar leaves",
    "stably transformed maize plants",
    "sorghum protoplasts",
)
UNKNOWN_ORGANS = {
    "maize": ("tassel", "husk", "anther", "cob", "stalk", "ligule", "nodes"),
    "sorghum": ("stem", "flag leaf", "anther", "panicle rachis", "mature grain"),
}
# a strength assay in a plant organ: only expression was measured there
STRENGTH_IN_ORGANS = (
    "maize roots",
    "maize pollen",
    "sorghum leaves",
    "maize kernels",
    "sorghum roots",
    "maize silks",
)

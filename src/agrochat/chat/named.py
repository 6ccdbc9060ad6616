"""What the user's words name outright: typed key names, assay conditions and atlas tissues.

The decoder's planner chooses the keys of a turn (:mod:`agrochat.chat.planning`); these readers are the hard facts
the validator holds its choice to. They read only literal mentions of the last user turn, and each attribute is
changed only where the words name it, so a follow-up that names one condition ("and in the dark?") keeps the rest
of the planner's choice:

- :func:`typed_keys`: key names typed as they are (``promoter_strength/leaf``, ``leaf_noENH_dark``);
- :func:`named_conditions`: the assay system (tobacco leaf, maize protoplasts, both), the 35S enhancer (with,
  without, both) and the light (light, dark, both) named;
- :func:`named_tissues`: atlas tissues named by their name or an unambiguous synonym
  (:data:`agrochat.domain.vocabulary.TISSUES`).

:func:`ground` applies them to a plan's keys and returns the keys the words hold it to.
"""

from __future__ import annotations

import re
from itertools import product

from agrochat.chat.variants import names_a_substitution
from agrochat.domain import tasks as T
from agrochat.domain import vocabulary as V
from agrochat.domain.explain import element_mentions

_CONDITION = re.compile(r"^(leaf|proto)_(withENH|noENH)_(light|dark)$")
# the two benchmark keys are the libraries' standard condition: 35S enhancer, dark
_STANDARD = {"leaf": "leaf_withENH_dark", "protoplast": "proto_withENH_dark"}
_SYSTEM_OF = {"leaf": "leaf", "proto": "protoplast"}

_NO_ENH = re.compile(
    r"\b(without|w/o|wo|no|minus|lacking|drop(?:ping)?|remov(?:e|ed|ing)|free of|sans)\s+(?:the |an? |any )?"
    r"(?:upstream )?(?:35s )?enh(?:ancers?)?\b|\benhancer[- ]?(?:less|free)\b|(?:^|[\s(,])-\s*(?:35s\s*)?enh\b"
    r"|\bnoenh\b|\benhancer\s*(?:no|off|absent)\b|\bno-enh",
    re.I,
)
_WITH_ENH = re.compile(
    r"\b(?:with|w/(?!o)|plus)\s*(?:the |an? )?(?:upstream )?(?:35s )?enh(?:ancers?)?\b"
    r"|(?:^|[\s(,])\+\s*(?:35s\s*)?enh|\bwithenh\b|\benhancer\s*(?:yes|on|present)\b",
    re.I,
)
_BOTH_ENH = re.compile(r"with\s+(?:and|or|vs\.?|versus)\s+without|[±]\s*enh|\+/-\s*(?:35s\s*)?enh", re.I)
_LIGHT = re.compile(
    r"\b(?:in (?:the )?light|lights? on|light[- ]grown|under light|illuminated|light)\b", re.I
)
_DARK = re.compile(r"\b(?:dark|darkness|lights? off)\b", re.I)
_LEAF = re.compile(
    r"\b(?:tobacco|tobaco|benth\w*|nb|nicotiana|agro\w*|(?<!maize )(?<!corn )(?<!mature )(?<!seedling )"
    r"(?:leaf|leaves)(?!\s+(?:mesophyll\s+)?protoplasts?)(?!\s*8))\b",
    re.I,
)
_PROTO = re.compile(r"\b(?:protoplasts?|protos?|protoplastos|protoplasten)\b", re.I)
_BOTH_SYSTEMS = re.compile(r"\bboth(?: systems| assays)?\b|\beach system\b|\ball systems\b", re.I)


def without_conditions(words: str) -> str:
    """The words with every assay condition they name (system, enhancer, light) cut out: what else they say."""
    for rx in (_BOTH_ENH, _NO_ENH, _WITH_ENH, _LIGHT, _DARK, _LEAF, _PROTO, _BOTH_SYSTEMS):
        words = rx.sub(" ", words)
    return words


def typed_keys(words: str, known: list[str]) -> list[str]:
    """Keys typed by name: a whole key (``terminator_strength/leaf``) or, for condition keys, the condition
    (``leaf_noENH_dark``: the natural promoters', the synthetic library's where the words say synthetic)."""
    low = words.lower()
    whole = [k for k in known if k.lower() in low]
    if whole:
        return whole
    library = T.SYNTHETIC if re.search(r"\bsynthetic|\blibrary\b|\bdesigned\b", low) else T.NATURAL
    out = []
    for k in known:
        task, name = T.split_key(k)
        if task == library and _CONDITION.match(name) and re.search(rf"\b{re.escape(name.lower())}\b", low):
            out.append(k)
    return out


def named_conditions(words: str) -> dict[str, set[str]]:
    """The assay attributes the words name: ``system`` (leaf/proto), ``enh`` (withENH/noENH), ``light``
    (light/dark); an attribute named both ways holds both values; unnamed attributes are absent."""
    out: dict[str, set[str]] = {}
    if _BOTH_ENH.search(words):
        out["enh"] = {"withENH", "noENH"}
    else:
        no, with_ = bool(_NO_ENH.search(words)), bool(_WITH_ENH.search(_NO_ENH.sub(" ", words)))
        if no or with_:
            out["enh"] = {v for v, said in (("noENH", no), ("withENH", with_)) if said}
    light, dark = bool(_LIGHT.search(words)), bool(_DARK.search(words))
    if light or dark:
        out["light"] = {v for v, said in (("light", light), ("dark", dark)) if said}
    leaf, proto = bool(_LEAF.search(words)), bool(_PROTO.search(words))
    if _BOTH_SYSTEMS.search(words) and not (leaf != proto):
        out["system"] = {"leaf", "proto"}
    elif leaf or proto:
        out["system"] = {v for v, said in (("leaf", leaf), ("proto", proto)) if said}
    return out


def _attributes(key: str) -> tuple[str, dict[str, str]] | None:
    """(library, {system, enh, light}) of a promoter or terminator activity key; None for other keys."""
    task, name = T.split_key(key)
    if task in (T.PROMOTER, T.TERMINATOR) and name in _STANDARD:
        name = _STANDARD[name]
        library = "natural" if task == T.PROMOTER else "terminator"
    elif task == T.SYNTHETIC:
        library = "synthetic"
    elif task == T.NATURAL:
        library = "natural"
    else:
        return None
    m = _CONDITION.match(name)
    return (library, dict(zip(("system", "enh", "light"), m.groups(), strict=True))) if m else None


def _key_of(library: str, attrs: dict[str, str]) -> str:
    name = f"{attrs['system']}_{attrs['enh']}_{attrs['light']}"
    if library == "terminator":
        return T.make_key(T.TERMINATOR, _SYSTEM_OF[attrs["system"]]) if name in _STANDARD.values() else ""
    if library == "natural" and name in _STANDARD.values():
        return T.make_key(T.PROMOTER, _SYSTEM_OF[attrs["system"]])
    return T.make_key(T.SYNTHETIC if library == "synthetic" else T.NATURAL, name)


def with_conditions(keys: list[str], named: dict[str, set[str]], known: list[str]) -> list[str]:
    """``keys`` with every attribute the words name set to what they name (both values where they name both);
    combinations no key measures are dropped (an empty list: the words name only conditions nothing measured);
    ``keys`` unchanged when they have no conditions."""
    out: list[str] = []
    for key in keys:
        parsed = _attributes(key)
        if parsed is None:
            return keys
        library, attrs = parsed
        choices = [sorted(named.get(a, {attrs[a]})) for a in ("system", "enh", "light")]
        if library == "terminator":  # terminators have a system only
            choices[1:] = [[attrs["enh"]], [attrs["light"]]]
        for combo in product(*choices):
            k = _key_of(library, dict(zip(("system", "enh", "light"), combo, strict=True)))
            if k in known and k not in out:
                out.append(k)
    return out


def _tissue_names(species: str) -> list[tuple[str, str]]:
    """(phrase, tissue) for every tissue of ``species``: its name and synonyms no other tissue of the species
    shares, longest first."""
    table = V.TISSUES.get(species, {})
    ambiguous = {w.lower() for w in V.AMBIGUOUS.get(species, {})}
    seen: dict[str, set[str]] = {}
    for name, syns in table.items():
        for s in {name, *syns}:
            seen.setdefault(s.lower(), set()).add(name)
    pairs = [(s, next(iter(n))) for s, n in seen.items() if len(n) == 1 and s not in ambiguous]
    return sorted(pairs, key=lambda p: -len(p[0]))


def named_tissues(words: str, species: str) -> dict[str, str]:
    """Atlas tissues of ``species`` the words name, each with the phrase that names it (longest phrase first; a
    phrase inside a longer one that matched is not read again)."""
    low = re.sub(r"(\d)(dap|dai|mm|cm)\b", r"\1 \2", " " + re.sub(r"\s+", " ", words.lower()) + " ")
    found: dict[str, str] = {}
    for phrase, tissue in _tissue_names(species):
        pat = re.compile(rf"(?<![\w-]){re.escape(phrase)}s?(?![\w-])")
        if pat.search(low):
            low = pat.sub(" ", low)
            found.setdefault(tissue, phrase)
    return found


_SPECIES_WORDS = {
    "maize": re.compile(r"\b(?:maize|corn|zea|zm|b73)\b", re.I),
    "sorghum": re.compile(r"\b(?:sorghum|sb|btx623)\b", re.I),
}


def named_species(words: str) -> list[str]:
    """Atlas species the words name (maize, Zm, B73; sorghum, Sb, BTx623)."""
    return [sp for sp, pat in _SPECIES_WORDS.items() if pat.search(words)]


def ground(keys: list[str], words: str, known: list[str]) -> tuple[list[str], str | None]:
    """The keys the words hold a plan to, and why (None: unchanged); no keys where the words name only a
    condition nothing measured (maize protoplasts in the light)."""
    typed = typed_keys(words, known)
    if typed:
        return (typed, None) if set(typed) == set(keys) else (typed, "the words type the keys")
    task = T.split_key(keys[0])[0]
    if task == T.TISSUE:
        species = T.split_key(keys[0])[1].split(":", 1)[0]
        said = named_species(words)
        if len(said) == 1 and species not in said:  # the words name the other species
            species = said[0]
        tissues = named_tissues(words, species)
        if not tissues and not said:  # a tissue of the other species?
            others = {sp: named_tissues(words, sp) for sp in V.TISSUES if sp != species}
            named = [sp for sp, found in others.items() if found]
            if len(named) == 1:
                species, tissues = named[0], others[named[0]]
        if not tissues:
            return keys, None
        out = [T.make_key(T.TISSUE, f"{species}:{t}") for t in tissues]
        out = [k for k in out if k in known]
        if not out or set(out) == set(keys):
            return keys, None
        return out, "the words name the tissues"
    out = with_conditions(keys, named_conditions(words), known)
    if set(out) == set(keys):
        return keys, None
    if not out:
        return [], "the words name a condition nothing measured"
    return out, "the words name the conditions"


def tissue_plan(words: str, known: list[str]) -> list[str]:
    """The atlas keys the words name, where they name tissues of one species only, by the species' name or by
    phrases no other species uses for several tissues ("embryo" is one tissue in sorghum, three in maize)."""
    found = {sp: named_tissues(words, sp) for sp in V.TISSUES}
    named = [sp for sp, tissues in found.items() if tissues]
    said = named_species(words)
    if said:
        named = [sp for sp in named if sp in said]
    elif len(named) == 1:
        vague = {w.lower() for sp, table in V.AMBIGUOUS.items() if sp != named[0] for w in table}
        if any(phrase in vague for phrase in found[named[0]].values()):
            return []
    if len(named) != 1:
        return []
    keys = [T.make_key(T.TISSUE, f"{named[0]}:{t}") for t in found[named[0]]]
    return [k for k in keys if k in known]


_ANY_KEY_WORD = re.compile(
    r"promot|terminat|3'|5'|tobacco|benth|\bnb\b|maize|\bzm\b|corn\b|leaf|leaves|proto|synthetic|natural"
    r"|enhancer|\benh\b|light|dark|downstream|upstream bit|this one|new one|another",
    re.I,
)
_BARE_RANGE = re.compile(
    r"\W*(?:and|also|what about|how about)?\W*\d+\s*-\s*\d+\W*(?:also|too|please)?\W*", re.I
)
_SYSTEM_HINT = re.compile(r"\bmaize\b|\bzm\b|\bcorn\b|\bmonocot", re.I)


def _names_a_tissue(words: str) -> bool:
    """Whether the words name an atlas tissue of any species."""
    return any(named_tissues(words, sp) for sp in V.TISSUES)


def names_nothing(words: str, known: list[str]) -> bool:
    """Whether the words name nothing a key is chosen by (no key typed, no system, condition, species, tissue,
    sequence kind or library, not a bare tissue fragment like "7-8?"): a follow-up such a turn keeps the keys
    of the turn before."""
    if _BARE_RANGE.fullmatch(words.strip()) or _ANY_KEY_WORD.search(words):
        return False
    if typed_keys(words, known) or named_conditions(words) or named_species(words):
        return False
    return not _names_a_tissue(words)


_NOT_A_CONDITION = re.compile(
    r"promot|terminat|3'|5'|synthetic|natural|downstream|this one|new one|another", re.I
)


def names_only_conditions(words: str, known: list[str]) -> bool:
    """Whether the words name assay conditions (system, enhancer, light) and nothing else a key is chosen by:
    a follow-up such a turn changes those conditions of the keys before ("and with the lights on?")."""
    if not named_conditions(words) or _NOT_A_CONDITION.search(words) or typed_keys(words, known):
        return False
    return not named_species(words) and not _names_a_tissue(words)


_LIBRARY_WORDS = re.compile(r"natural|synthetic|library|condition", re.I)


def standard_keys(keys: list[str], turns: list[str], known: list[str]) -> list[str]:
    """The benchmark keys (``promoter_strength/leaf``, ``/protoplast``: the libraries' standard condition) in
    place of natural-promoter condition keys when no user turn names an enhancer or light condition, a library or
    a key: the default of a question naming no condition."""
    for text in turns:
        named = named_conditions(text)
        if "enh" in named or "light" in named or _LIBRARY_WORDS.search(text) or typed_keys(text, known):
            return keys
    out: list[str] = []
    for key in keys:
        task, name = T.split_key(key)
        if task == T.NATURAL and _CONDITION.match(name):
            key = T.make_key(T.PROMOTER, _SYSTEM_OF[name.split("_", 1)[0]])
        if key in known and key not in out:
            out.append(key)
    return out or keys


def both_systems(keys: list[str], turns: list[str], known: list[str]) -> list[str]:
    """Activity keys in both assay systems (tobacco leaves, maize protoplasts) when no user turn of the
    conversation names a system (nor types a key, nor says maize): the policy for a question naming none."""
    for text in turns:
        if named_conditions(text).get("system") or _SYSTEM_HINT.search(text) or typed_keys(text, known):
            return keys
    return with_conditions(keys, {"system": {"leaf", "proto"}}, known) or keys


_VARIANT = re.compile(
    r"\bdelet(?:e|ion|ing)\b|\binsert(?:ion|ing)?\b|\bmutat(?:e|ion|ing)\b|\bswap(?:ping)?\b|\bsubstitut\w*"
    r"|\b[ACGT]-?\+?\d+[ACGT]\b|\bposition \d+\b",
    re.I,
)


def names_an_edit(words: str) -> bool:
    """Whether the words name an edit of the sequence (a deletion, insertion, substitution, ``A50G``, a position)."""
    return _VARIANT.search(words) is not None or names_a_substitution(words)


_CHANGE = re.compile(
    r"\b(?:mutat|chang|replac|remov|delet|knock|disrupt|destroy|scrambl|swap|insert|add|edit|alter|modif|"
    r"substitut|shuffl|break|kill|los[et]|abolish|introduc|put|turn|convert|flip|make|what if|snps?\b|snvs?\b|"
    r"variant|mutant|allele)",
    re.I,
)


def names_a_change(words: str) -> bool:
    """Whether the words speak of changing the sequence at all: an edit they name, an element, or a verb of
    change (mutate, remove, what if, ...). A variant plan needs one."""
    return names_an_edit(words) or bool(element_mentions(words)) or _CHANGE.search(words) is not None


_HOW_MUCH = re.compile(
    r"\bhow (?:much|strong(?:ly)?|high|active|well|good)\b|\bwhat (?:signal|expression|activity|strength|level)\b"
    r"|\bexpect\b|\bpredict(?:ed|ion)? (?:strength|activity|expression|value)\b",
    re.I,
)
_AMOUNT = re.compile(r"\b(?:value|values|number|numbers)\b|\bactivi?ty\b|\bactivty\b", re.I)
_WHY = re.compile(
    r"\bwhy\b|\bdriv|\bcontribut|\bfeature|\bmatter|\bimportan|\bresponsib|\bbecause\b|\bexplain"
    r"|\bwhich (?:bases|regions?|positions?|elements?|motifs?)\b|\bbox\b|\bmotif",
    re.I,
)


def asks_how_much(words: str) -> bool:
    """Whether the words ask for an amount ("how much signal", "how strong", "what activity should I expect")."""
    if _HOW_MUCH.search(words):
        return True
    return bool(_AMOUNT.search(words)) and not _WHY.search(
        words
    )  # "and the leaf value?", not "what drives it"


_COMPARISON = re.compile(
    r"\bcompar|\bversus\b|\bvs\.?(?!\w)|\bwhich (?:one |of (?:them|the two|these) )?(?:is|was|would be) "
    r"(?:stronger|weaker|better|higher|more active)|\bside by side\b",
    re.I,
)


def names_a_comparison(words: str) -> bool:
    """Whether the words ask to compare sequences ("compare it with", "which is stronger", "A vs B")."""
    return _COMPARISON.search(words) is not None


_DESIGN = re.compile(
    r"\bdesign\b(?! ?[-—:,.])|\boptimi[sz]e|\bre-?engineer|\bengineer\b"
    r"|\bhow (?:strong|high|weak|low|good) could (?:you|i|we) (?:make|get)"
    r"|\bmake (?:it|this|one|a (?:version|variant))\b[^.?!]{0,40}\b(?:strong|weak|high|low|better|more|less)"
    r"|\battenuat\w*|\b(?:at most|no more than|max(?:imum)?\.?(?: of)?) \d+ (?:changes|mutations|edits|substitutions)\b",
    re.I,
)
_EXPLAIN = re.compile(
    r"\bexplain\b|\bwhy\b|^y\b|\by is\b|\bsequence basis\b|\bdoing (?:anything|the work)\b"
    r"|\bwhich (?:bases|positions|elements|motifs|regions|parts|nucleotides)\b"
    r"|\b(?:elements?|motifs?|sites?|bases|positions|boxes)\b[^.?!]{0,40}\b(?:important|matters?|cares?|drives?)\b"
    r"|\bcontribution of each\b|\bimportance\b|\bsaliency\b|\battributions?\b",
    re.I,
)
NAMED_OPS_REPLACE = ("predict", "compare", "rank", "help", "refuse", "general", "clarify")
"""The plans a named operation overrides (a variant plan keeps its own: "a synthetic design: what does C25G do")."""


def named_operation(words: str) -> str | None:
    """The operation the words name outright: ``design`` (design, optimise, engineer, make it stronger, how strong
    could you make it) or ``explain`` (explain, why, which bases or elements matter, importance, attribution);
    None when they name neither."""
    if _DESIGN.search(words):
        return "design"
    if _EXPLAIN.search(words):
        return "explain"
    return None


_HELP = re.compile(
    r"\bwhat (?:kinds?|sorts?|types?) of\b[^?]{0,30}\b(?:predictions?|questions?|things|sequences?|analys[ie]s)\b"
    r"|\bdo you (?:handle|support|cover|also do|work (?:on|with))\b|\bwhat can (?:you|i)\b"
    r"|\bhow (?:long|short) should\b|\bwhat do you (?:give|return|output)\b"
    r"|\bcan you (?:also )?(?:handle|do) terminators\b",
    re.I,
)


def asks_what_i_do(words: str) -> bool:
    """Whether the words ask what the assistant does or takes (what kinds of predictions, do you handle X, how
    long should my sequence be): a help question, whatever else they mention."""
    return _HELP.search(words) is not None


def names_a_measurement(words: str, known: list[str]) -> bool:
    """Whether the words name something a key measures: an assay system or condition, an atlas tissue, a key."""
    if named_conditions(words) or typed_keys(words, known):
        return True
    return _names_a_tissue(words)


_DOMAIN = re.compile(
    r"promot|terminat|sequen|\bseqs?\b|\bdna\b|\brna\b|\bgenes?\b|genom|construct|express|strength|strong|weak"
    r"|activ|predict|mutat|variant|\bsnps?\b|design|improv|rank|compar|explain|\bwhy\b|motif|element|tata|enhanc"
    r"|position|\bbases?\b|\bbp\b|tissue|assay|starr|reporter|protoplast|\bleaf\b|leaves|plant|maize|corn|sorghum"
    r"|tobacco|benth|knock|delet|insert|score|value|fasta|paste|upload|\bkey\b|\bunits?\b|percentile|[ACGT]{6}",
    re.I,
)


def names_the_domain(words: str, known: list[str]) -> bool:
    """Whether the words touch what agrochat is about at all (plant DNA, its activity, a system, tissue or key):
    a request for a sequence makes sense only then; otherwise the question is off-topic."""
    return bool(_DOMAIN.search(words) or names_a_measurement(words, known) or named_species(words))


_LANGUAGES = (
    "english|german|french|spanish|italian|portuguese|dutch|polish|russian|chinese|mandarin|japanese|korean|arabic"
    "|hindi|turkish|swedish|greek"
)
_OFF_TOPIC_TASK = re.compile(
    rf"\btranslat\w*\b[^?!]{{0,80}}\b(?:in)?to (?:{_LANGUAGES})\b",
    re.I,
)


def off_topic_task(words: str) -> bool:
    """Whether the words ask for a task outside agrochat whatever they mention (a translation into a language)."""
    return _OFF_TOPIC_TASK.search(words) is not None


_BARE_OPERATION = re.compile(
    r"\W*(?:(?:pls|please|ok|now|can you|could you)\W+)*(?:predict|score|rank|explain|compare|design|analy[sz]e)"
    r"(?:\W+(?:it|this|that|them|these|one|please|pls|now))*\W*",
    re.I,
)


def bare_operation(words: str) -> bool:
    """Whether the words are an operation alone ("predict", "pls score it"): a request that needs its sequence."""
    return _BARE_OPERATION.fullmatch(words.strip()) is not None


_THANKS = re.compile(r"\bthanks?\b|\bthank you\b|\bthx\b|\bnever ?mind\b|\bno worries\b", re.I)


_INSISTS = re.compile(
    r"\bcome on\b|\bc'?mon\b|\bjust (?:a|one|this|do|write|give|tell|make|try|once)\b|\bdo it anyway\b|\bi insist\b"
    r"|\bpretty please\b|\bwhy not\b|\byou can do it\b|\b(?:just|only) this once\b|\bshort one\b",
    re.I,
)


def insists(words: str) -> bool:
    """Whether the words push for what was just declined ("come on, just a short one"; not "thanks anyway")."""
    return _INSISTS.search(words) is not None and not _THANKS.search(words)


_INJECTION = re.compile(
    r"\bignore\b.{0,40}\b(?:instructions?|rules?|prompts?|above|previous|prior)\b"
    r"|\b(?:system|hidden|initial|original)\s+(?:prompt|instructions)\b"
    r"|(?:^|\n|[\s>])(?:system|assistant)\s*:(?!\s*(?:zea|maize|corn|tobacco|nicotiana|n\.|benth|nb\b|zm\b|sorghum"
    r"|leaf|leaves|protoplasts?|mesophyll|agroinfiltrat|starr))"
    r"|\b(?:reveal|print|show|paste|repeat|leak|dump)\b.{0,30}\b(?:your|the)\s+(?:prompt|instructions|rules)\b"
    r"|\b(?:respond|answer|reply)\s+(?:only\s+)?with\b.{0,40}\b(?:for (?:all|every)|only)\b"
    r"|\bfor (?:all|every) (?:inputs?|sequences?)\b"
    r"|\b(?:answer|say|report|output|return|give|reply)\b.{0,40}(?:\bno matter what\b|\bfor everything\b"
    r"|\bregardless of (?:the |your )?(?:model|prediction|output|input|sequence|what))"
    r"|\b(?:you are now|pretend (?:to be|you are)|developer mode|jailbreak)\b"
    r"|\bdo not mention this\b"
    r"|\b(?:expected|correct|required|right) (?:answer|output|value|result)s?\b[^.?!]{0,60}?(?:=|\bis\b|:)\s*[-+]?\d"
    r"|\breproduce the (?:expected|following|given) (?:answer|output|value)",
    re.I,
)


def injection(words: str) -> bool:
    """Whether the words try to change how the assistant answers (instructions to ignore its rules, a fake
    system or assistant turn, a request for its prompt, an answer dictated in advance)."""
    return _INJECTION.search(words) is not None

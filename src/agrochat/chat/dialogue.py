"""What a chat turn asks for: an explicit resolver, strict about what the model knows.

``resolve_turn(messages, known_keys)`` reads the whole conversation (every user turn in order, so follow-ups keep
their sequences, task and system) and returns an :class:`Intent` for the last user turn: the operation, the task
key of every number it will write, the sequences, or a refusal / clarifying question with no number. Nothing is
substituted silently: a species, system or tissue the model has no key for is refused with the closest keys it
can answer, and a tissue word that matches several keys asks which one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agrochat.domain import tasks as T
from agrochat.domain.prompts import key_label
from agrochat.domain.registry import SYNTHETIC_DEFAULTS
from agrochat.errors import InputError

from .variants import SUB_IN_WORDS

DNA_RUN = re.compile(r"(?<![A-Za-z])[ACGTUNacgtun]{20,}(?![A-Za-z])")

# species with keys (tissue expression atlases / assay systems) and species we have no measurement for
SPECIES = {
    "maize": r"maize|corn|zea(?: mays)?",
    "sorghum": r"sorghum",
    "tobacco": r"tobacco|benthamiana|nicotiana",
}
UNKNOWN_SPECIES = (
    "arabidopsis",
    "rice",
    "oryza",
    "wheat",
    "barley",
    "tomato",
    "potato",
    "soybean",
    "soy",
    "cotton",
    "poplar",
    "medicago",
    "brachypodium",
    "lemna",
    "duckweed",
    "cassava",
    "grape",
    "grapevine",
    "apple",
    "banana",
    "sugarcane",
    "millet",
    "brassica",
    "canola",
    "rapeseed",
    "pepper",
    "cucumber",
    "lettuce",
    "spinach",
    "pea",
    "alfalfa",
    "setaria",
    "human",
    "mouse",
    "yeast",
    "e\\. coli",
    "bacteria",
    "drosophila",
    "zebrafish",
    "chlamydomonas",
    "moss",
    "physcomitrella",
    "petunia",
    "sunflower",
    "oat",
    "rye",
    "strawberry",
    "citrus",
    "cabbage",
)
# organ words (singular) a question may name; tissue keys are matched by the word in their name
ORGANS = (
    "root",
    "leaf",
    "pollen",
    "embryo",
    "endosperm",
    "silk",
    "ear",
    "internode",
    "meristem",
    "pericarp",
    "aleurone",
    "spikelet",
    "inflorescence",
    "seedling",
    "shoot",
    "seed",
    "kernel",
    "flower",
    "tassel",
    "stem",
    "fruit",
    "anther",
    "petal",
    "tuber",
    "stalk",
    "cob",
    "husk",
    "node",
    "bud",
    "whole organism",
)
_PLURAL = {"leaf": "leaves", "inflorescence": "inflorescences"}

_SUBSTITUTION = re.compile(r"(?<![A-Za-z0-9])[ACGT][+-]?\d{1,4}[ACGT](?![A-Za-z0-9])")
_ORIGIN = r"(?:promoters?|genes?|terminators?|sequences?)"  # "a maize promoter": where the DNA comes from


def _origin_of(species: str) -> str:
    """Where the DNA comes from, not where it is measured: "a maize promoter", "a terminator from Arabidopsis"."""
    return f"(?:{species})(?: core)? {_ORIGIN}|from (?:an? |the )?(?:{species})"


_STRENGTH = re.compile(r"\b(strong\w*|strength|activit\w*|active|weak\w*|perform\w*|score|rate|good)\b")
_EXPRESS = re.compile(r"\b(express\w*|transcri\w*|mrna|abundance|tpm)\b")
_OPS = (
    (
        "design",
        re.compile(
            r"\b(design\w*|improve\w*|optimi[sz]\w*|engineer\w*|make (it|this|the|my)( \w+)? "
            r"(stronger|weaker|better|more active)|(stronger|weaker|better) (version|variant|one)|propose)\b"
        ),
    ),
    (
        "variant",
        re.compile(
            r"\b(mutat\w*|snps?|variants? effect|substitut\w*|point mutation|knock ?out|delet\w*|destroy\w*|"
            r"disrupt\w*|abolish\w*|"
            r"what if i (change|replace|mutate|swap|remove|insert|add)|what happens if|insert\w*)\b"
        ),
    ),
    (
        "rank",
        re.compile(
            r"\b((which|what) (\w+ ){0,2}tissues?|where (\w+ ){0,4}(expressed|active)|rank\w*|"
            r"top tissues|expression profile|across (\w+ ){0,2}tissues|in which (organ|part)s?)\b"
        ),
    ),
    (
        "explain",
        re.compile(
            r"\b(why|explain\w*|which bases|what bases|which (parts|positions|regions|elements)|"
            r"what drives|drives? (it|this|that)|motifs?|important (bases|positions)|features?|"
            r"what makes)\b"
        ),
    ),
    (
        "compare",
        re.compile(
            r"\b(compare\w*|comparison|versus|vs\.?|better than|stronger than|weaker than|"
            r"which (one|of)|difference between|strongest|weakest|of the (two|three|both))\b"
        ),
    ),
)
_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening)|thanks|thank you|cheers|bye)\b"
    r"[\w\s,!.?']{0,25}$"
)
_HELP = re.compile(
    r"\b(help|what can you do|what do you do|how do i use|how does this work|usage|who are you)\b"
)
_QUESTION = re.compile(r"\?|^\s*(what|how|why|when|which|is|are|does|do|can|could|tell|explain|define)\b")
_ORDINAL = {
    "first": 0,
    "1st": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "last": -1,
}
_BOTH = re.compile(r"\b(both (systems|assays)|both|each system|all systems|every system)\b")
_NO_ENH = re.compile(
    r"\b(without|no|lacking|minus)( an?| the)?( upstream)?( 35s)? enhancer|enhancer[- ]?less"
)
_WITH_ENH = re.compile(r"\b(with|plus)( an?| the)?( upstream)?( 35s)? enhancer|35s enhancer")


@dataclass(frozen=True)
class Intent:
    """One turn's plan. ``op``: predict, compare, rank, explain, variant, design (these compute numbers), greet,
    help, general (no number), need_dna, refuse or clarify (the ``message`` says why, no number). ``keys`` are
    aligned with ``sequences`` for predict/compare (a sequence scored for two keys appears twice); for ``rank``
    they are every key ranked for the one sequence. ``source``: who planned it (``rules`` or ``decoder``);
    ``vetoes``: what the validator changed in the decoder's plan; ``goal``: a design's direction, when planned."""

    op: str
    keys: tuple[str, ...] = ()
    sequences: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    message: str = ""
    suggestions: tuple[str, ...] = ()
    source: str = "rules"
    vetoes: tuple[str, ...] = ()
    goal: str | None = None
    notes: tuple[str, ...] = ()  # said before the answer (which window of a long paste was scored)


@dataclass
class Context:
    """What follow-ups refer to: the conversation's sequences and the last answer's sequences and keys."""

    sequences: list[str] = field(default_factory=list)
    current: list[int] = field(default_factory=list)
    keys: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()  # candidate keys of a clarifying question, for the reply that picks one
    pending_op: str | None = None  # the operation a clarifying question was about ("rank")
    asked: str = ""  # the words of a question that came without its sequence, read again with the sequence


def _has(pattern: str, text: str) -> bool:
    return re.search(rf"\b({pattern})\b", text) is not None


# "leaves" as the tobacco system: not "maize leaves" or "leaf protoplasts" (both mean maize leaf protoplasts)
_LEAF_SYSTEM = re.compile(r"\b(?<!maize )(?<!corn )(leaf|leaves)\b(?!\s+(mesophyll\s+)?protoplasts?)")


def _first(pattern: str, text: str) -> int:
    """Where ``pattern`` first occurs as a word in ``text`` (its length if nowhere)."""
    hit = re.search(rf"\b({pattern})\b", text)
    return hit.start() if hit else len(text)


def _organs(text: str) -> list[str]:
    return [o for o in ORGANS if re.search(rf"\b({o}|{_PLURAL.get(o, o + 's')})\b", text)]


# assay systems no key measures although their words are known: protoplasts of sorghum (the protoplasts are
# maize's), and a reporter assay in intact maize leaves (the leaf assay is tobacco's; maize's is in protoplasts)
_SORGHUM_PROTOPLASTS = re.compile(
    r"\bsorghum\s+(?:leaf\s+|mesophyll\s+)?protoplasts?\b|\bprotoplasts?\s+(?:of|from)\s+sorghum\b"
)
_REPORTER = re.compile(r"\bstarr(?:-?seq)?\b|\breporter assays?\b|\bmpra\b")
_MAIZE_LEAVES = re.compile(r"\b(?:maize|corn)\s+(?:leaf|leaves)\b(?!\s+(?:mesophyll\s+)?protoplasts?)")
_NOT_PROTOPLASTS = re.compile(
    r"\bintact\b|\bnot\s+(?:in\s+)?protoplasts?\b|\bin planta\b|\bwhole[- ]plants?\b"
)


def _unmeasured_systems(t: str) -> list[str]:
    """Assay systems the (lower-case) words ask for that no key measures, though their species is known."""
    out = ["sorghum protoplasts"] if _SORGHUM_PROTOPLASTS.search(t) else []
    if _REPORTER.search(t) and _MAIZE_LEAVES.search(t) and _NOT_PROTOPLASTS.search(t):
        out.append("intact maize leaves")
    return out


@dataclass
class Mentions:
    task: str | None
    species: list[str]
    unknown: list[str]
    organs: list[str]
    protoplast: bool
    both: bool
    strength: bool
    express: bool
    enhancer: str | None
    light: str | None


def mentions(text: str) -> Mentions:
    t = text.lower()
    task = T.TERMINATOR if _has("terminators?", t) else T.SYNTHETIC if _has("synthetic", t) else None
    enh = "noENH" if _NO_ENH.search(t) else "withENH" if _WITH_ENH.search(t) else None
    light = "dark" if _has("dark|darkness", t) else "light" if _has("light", t) else None
    species = sorted((s for s, p in SPECIES.items() if _has(p, t)), key=lambda s: _first(SPECIES[s], t))
    unknown = [s for s in UNKNOWN_SPECIES if _has(s, t)]
    if len(species) > 1 or (
        species and unknown
    ):  # "a maize promoter ... in benthamiana leaves": origin, not assay
        origin = [s for s in species if _has(_origin_of(SPECIES[s]), t)]
        if len(origin) < len(species):
            species = [s for s in species if s not in origin]
        unknown = [u for u in unknown if not _has(_origin_of(u), t)]
    unknown += _unmeasured_systems(t)
    return Mentions(
        task=task,
        species=species,
        unknown=unknown,
        organs=_organs(t),
        protoplast=_has("protoplasts?", t),
        both=_BOTH.search(t) is not None,
        strength=_STRENGTH.search(t) is not None,
        express=_EXPRESS.search(t) is not None,
        enhancer=enh,
        light=light,
    )


class Resolver:
    """Strict mapping of a conversation to keys this model knows (see the module docstring)."""

    def __init__(self, known_keys: list[str]) -> None:
        self.known = list(known_keys)

    # ---- public ----------------------------------------------------------------------------------------------
    def resolve(self, messages: list[dict], dna=None) -> Intent:
        """Intent of the last user message of ``messages``; ``dna`` (a sequence or list) belongs to that turn."""
        users = [m for m in messages if m.get("role") == "user"]
        if not users:
            raise InputError("chat needs at least one user message")
        ctx = Context()
        intent = Intent("help")
        for i, m in enumerate(users):
            extra = ([dna] if isinstance(dna, str) else list(dna or [])) if i == len(users) - 1 else []
            intent = self._turn(str(m.get("content") or ""), extra, ctx)
        return intent

    # ---- one turn --------------------------------------------------------------------------------------------
    def _turn(self, text: str, extra: list[str], ctx: Context) -> Intent:
        intent = self._read_turn(text, extra, ctx)
        ctx.asked = DNA_RUN.sub(" ", text).strip() if intent.op == "need_dna" else ""
        return intent

    def _read_turn(self, text: str, extra: list[str], ctx: Context) -> Intent:
        found = [s.upper().replace("U", "T") for s in DNA_RUN.findall(text)] + [s.upper() for s in extra]
        words = DNA_RUN.sub(" ", text).strip()
        if found and ctx.asked:  # "How strong is my promoter in tobacco leaves?" ... "here it is: ACGT..."
            words = f"{ctx.asked} {words}"
        low = words.lower()
        new = []
        for s in found:
            ctx.sequences.append(s)
            new.append(len(ctx.sequences) - 1)
        op = next((name for name, rx in _OPS if rx.search(low)), None)
        if op is None and (_SUBSTITUTION.search(words) or any(p.search(words) for p in SUB_IN_WORDS)):
            op = "variant"  # "and G-30A?", "what if position 120 went from A to G?"
        m = mentions(low)
        pending_op, ctx.pending_op = ctx.pending_op, None
        if op is None and pending_op is not None:
            op = pending_op
        if op in ("variant", "design") and not new and not ctx.current:
            what = "mutate" if op == "variant" else "improve"
            return Intent(
                "need_dna",
                message=f"Paste the sequence you want me to {what} into your message; without a sequence I "
                "will not guess.",
            )
        if not new and (not ctx.current or (op is None and not self._follows_up(low, m))):
            return self._without_dna(low, m)
        if op == "explain" and not new:
            return Intent(
                "explain",
                keys=ctx.keys[:1],
                sequences=tuple(ctx.sequences[i] for i in ctx.current[:1]),
                labels=self._labels(ctx.current[:1], ctx),
            )
        if op == "rank" or (m.task is None and not m.strength and ("tissue" in low or _has("tissues", low))):
            return self._rank(new or ctx.current[:1], m, ctx)
        idx = new or self._referred(low, ctx)
        if op == "compare" and len(idx) == 1 and ctx.current and not set(ctx.current) & set(idx):
            idx = ctx.current[:1] + idx  # "compare it with this one: ..."
        elif op == "compare" and len(idx) < 2 and not new:
            idx = list(
                range(len(ctx.sequences))
            )  # "which one is stronger?": every sequence of the conversation
        keys = self._keys(m, ctx, low)
        ctx.pending = ()
        if isinstance(keys, Intent):
            ctx.current, ctx.pending = list(idx), keys.suggestions if keys.op == "clarify" else ()
            return keys
        seq_idx = [i for i in idx for _ in keys]
        key_seq = [k for _ in idx for k in keys]
        ctx.current, ctx.keys = list(idx), tuple(keys)
        if op in ("variant", "design"):  # the edits / goal are read from the turn's words by the assistant
            return Intent(
                op,
                keys=tuple(keys),
                sequences=(ctx.sequences[idx[0]],),
                labels=self._labels(idx[:1], ctx),
                message=words,
            )
        if op == "explain":  # "which bases matter most? ACGT...": explain the (first) sequence for its key
            return Intent(
                "explain",
                keys=(key_seq[0],),
                sequences=(ctx.sequences[seq_idx[0]],),
                labels=self._labels(seq_idx[:1], ctx),
            )
        op = "compare" if len(idx) > 1 else "predict"
        return Intent(
            op,
            keys=tuple(key_seq),
            sequences=tuple(ctx.sequences[i] for i in seq_idx),
            labels=self._labels(seq_idx, ctx),
        )

    def _without_dna(self, low: str, m: Mentions) -> Intent:
        if not low.strip() or _GREETING.search(low):
            return Intent("greet")
        if _HELP.search(low):
            return Intent("help")
        if m.strength or m.express or re.search(r"\b(how (much|high|well)|level)\b", low):
            return Intent(
                "need_dna",
                message="I need the DNA sequence to answer that: paste it into your message. "
                "Without a sequence I will not guess a number.",
            )
        if _QUESTION.search(low) and len(re.findall(r"[a-z]{3,}", low)) >= 2:
            return Intent("general")
        return Intent("help")

    @staticmethod
    def _follows_up(low: str, m: Mentions) -> bool:
        """Whether a turn without DNA refers to the conversation's sequences ("and in protoplasts?")."""
        named = (
            m.task
            or m.species
            or m.unknown
            or m.organs
            or m.protoplast
            or m.both
            or m.strength
            or m.express
            or m.enhancer
            or m.light
        )
        return (
            bool(named)
            or re.search(r"\b(first|second|third|last|sequence|one|it|this|that|same|instead)\b", low)
            is not None
        )

    def _referred(self, low: str, ctx: Context) -> list[int]:
        """Sequences a follow-up refers to: an ordinal ("the second one", "sequence 2") or the last answer's."""
        hit = re.search(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|last)\b", low) or re.search(
            r"\b(?:sequence|seq|promoter|terminator|number|#) ?([1-9])\b", low
        )
        if hit:
            g = hit.group(1)
            pos = _ORDINAL[g] if g in _ORDINAL else int(g) - 1
            pool = sorted(set(ctx.current)) if len(set(ctx.current)) > 1 else list(range(len(ctx.sequences)))
            if -len(pool) <= pos < len(pool):
                return [pool[pos]]
        return sorted(set(ctx.current), key=ctx.current.index)

    def _labels(self, idx: list[int], ctx: Context) -> tuple[str, ...]:
        return tuple(f"sequence {i + 1}" for i in idx)

    # ---- keys ------------------------------------------------------------------------------------------------
    def _of_task(self, task: str) -> list[str]:
        return [k for k in self.known if T.split_key(k)[0] == task]

    def _tissue_keys(self, species: list[str], organs: list[str], best: bool = False) -> list[str]:
        """Tissue keys of ``species`` (all when empty) naming any of ``organs``; ``best``: only those naming the
        most of them ("seedling roots": the seedling root, not every seedling tissue)."""
        found = []
        for k in self._of_task(T.TISSUE):
            sp, name = T.split_key(k)[1].split(":", 1)
            if species and sp not in species:
                continue
            hits = sum(bool(re.search(rf"\b{o}s?\b", name.lower())) for o in organs)
            if hits:
                found.append((k, hits))
        most = max((h for _, h in found), default=0)
        return [k for k, h in found if h == most or not best]

    def _refuse(self, what: str, suggestions: list[str]) -> Intent:
        sugg = [k for k in dict.fromkeys(suggestions) if k in self.known][:8]
        names = "; ".join(key_label(k) for k in sugg) or ", ".join(key_label(k) for k in self.known[:6])
        return Intent(
            "refuse",
            message=f"I have no measurements for {what}, so I will not give a number. "
            f"The closest things I can answer: {names}.",
            suggestions=tuple(sugg),
        )

    def _keys(self, m: Mentions, ctx: Context, low: str) -> list[str] | Intent:
        recent = ctx.pending or ctx.keys
        prev_task = T.split_key(recent[0])[0] if recent else None
        task = m.task
        tissue_species = [s for s in m.species if s in ("maize", "sorghum")]
        organs = [o for o in m.organs if not (o == "leaf" and (m.protoplast or "tobacco" in m.species))]
        if task is None and m.express and not m.strength and tissue_species and organs:
            task = T.TISSUE
        if task is None and prev_task == T.TISSUE and organs and not m.strength:
            task = T.TISSUE
        if task is None and not m.strength and tissue_species and any(o != "leaf" for o in organs):
            task = T.TISSUE  # "these two maize genes in mature pollen": only expression is measured there
        if task == T.TISSUE:
            species = tissue_species or list(
                dict.fromkeys(T.split_key(k)[1].split(":", 1)[0] for k in recent if k.startswith(T.TISSUE))
            )
            named = [
                k
                for k in self._of_task(T.TISSUE)
                if (not species or k.split("/", 1)[1].split(":")[0] in species)
                and T.split_key(k)[1].split(":", 1)[1].lower() in low
            ]
            hits = [max(named, key=len)] if named else self._tissue_keys(species, organs, best=True)
            if not hits:
                return self._refuse(
                    f"{' '.join(organs)} in {' or '.join(species) or 'that species'}",
                    self._tissue_keys(species, ORGANS),
                )
            if len(hits) > 1:
                names = "; ".join(key_label(k) for k in hits)
                return Intent(
                    "clarify",
                    message=f"Several measured tissues match: {names}. Which one do you mean? "
                    "Or ask in which tissues it is expressed most.",
                    suggestions=tuple(hits),
                )
            return hits
        if task is None:
            task = (
                prev_task if prev_task in (T.PROMOTER, T.TERMINATOR, T.SYNTHETIC, T.NATURAL) else T.PROMOTER
            )
            if prev_task == T.TISSUE:
                task = T.PROMOTER
        noun = {T.TERMINATOR: "terminator strength", T.SYNTHETIC: "synthetic promoter strength"}.get(
            task, "promoter strength"
        )
        systems = self._of_task(T.TERMINATOR if task == T.TERMINATOR else T.PROMOTER)
        if m.unknown:
            return self._refuse(
                f"{noun} in {', '.join(m.unknown)}", systems + self._tissue_keys([], m.organs)
            )
        if "sorghum" in m.species and not m.protoplast:
            return self._refuse(
                f"{noun} in sorghum (it was measured in tobacco leaves and maize leaf protoplasts)",
                systems + self._tissue_keys(["sorghum"], m.organs or ORGANS),
            )
        other = [o for o in organs if o != "leaf"]
        if other:
            return self._refuse(
                f"{noun} in {' and '.join(other)} (it was measured in tobacco leaves and maize leaf "
                "protoplasts)",
                self._tissue_keys(tissue_species or ["maize", "sorghum"], other) + systems,
            )
        if m.enhancer or m.light or task in (T.SYNTHETIC, T.NATURAL):
            return self._condition_keys(task, m, ctx)
        chosen = []
        if m.both:
            chosen = ["leaf", "protoplast"]
        else:
            if m.protoplast or ("maize" in m.species):
                chosen.append("protoplast")
            if "tobacco" in m.species or _LEAF_SYSTEM.search(low):
                chosen.append("leaf")
        if not chosen:
            same = [k for k in ctx.keys if T.split_key(k)[0] == task]
            if same:
                return list(dict.fromkeys(same))
            chosen = ["leaf", "protoplast"]
        named_at = {  # answer in the order the question names the systems
            "leaf": _first(f"{SPECIES['tobacco']}|leaf|leaves", low),
            "protoplast": _first(f"{SPECIES['maize']}|protoplasts?", low),
        }
        chosen.sort(key=named_at.__getitem__)
        keys = [T.make_key(task, s) for s in chosen if T.make_key(task, s) in self.known]
        if not keys:
            return self._refuse(f"{noun} in {' or '.join(chosen)}", systems)
        return keys

    def _condition_keys(self, task: str, m: Mentions, ctx: Context) -> list[str] | Intent:
        """Synthetic / natural-promoter keys named by enhancer, light and system words; several -> ask."""
        tasks = [task] if task == T.SYNTHETIC else [T.PROMOTER, T.NATURAL]
        where = (
            "proto"
            if (m.protoplast or "maize" in m.species)
            else "leaf"
            if ("tobacco" in m.species or "leaf" in m.organs)
            else None
        )
        out = []
        for k in self.known:
            t, cond = T.split_key(k)
            if t not in tasks:
                continue
            if (
                t == T.PROMOTER
            ):  # the benchmark keys are one condition each (tobacco leaf: 35S enhancer, dark)
                cond = SYNTHETIC_DEFAULTS.get(cond, cond)
            parts = cond.split("_")
            if len(parts) != 3:
                continue
            w, e, li = parts
            if (where and w != where) or (m.enhancer and e != m.enhancer) or (m.light and li != m.light):
                continue
            out.append(k)
        label = "synthetic promoters" if task == T.SYNTHETIC else "promoters"
        if not out:
            return self._refuse(
                f"{label} in that condition", [k for k in self.known if T.split_key(k)[0] in tasks]
            )
        if len(out) > 1:
            names = "; ".join(f"{key_label(k)}" for k in out)
            return Intent(
                "clarify",
                message=f"{label.capitalize()} were measured in several matching conditions: "
                f"{names}. Which one do you mean?",
                suggestions=tuple(out),
            )
        return out

    def _rank(self, idx: list[int], m: Mentions, ctx: Context) -> Intent:
        species = [s for s in m.species if s in ("maize", "sorghum")]
        if m.unknown or ("tobacco" in m.species):
            return self._refuse(
                f"tissue expression in {', '.join(m.unknown + [s for s in m.species if s == 'tobacco'])}",
                self._tissue_keys(["maize", "sorghum"], ["leaf", "root"]),
            )
        have = sorted({T.split_key(k)[1].split(":", 1)[0] for k in self._of_task(T.TISSUE)})
        if not species:
            species = [s for s in have if any(k.startswith(f"{T.TISSUE}/{s}:") for k in ctx.keys)]
        if not species:
            if len(have) == 1:
                species = have
            else:
                ctx.current, ctx.pending_op = list(idx[:1]), "rank"
                return Intent(
                    "clarify",
                    message=f"Which species is the gene from: {' or '.join(have)}? I rank the "
                    "tissues of that species' expression atlas.",
                )
        keys = [k for k in self._of_task(T.TISSUE) if k.split("/", 1)[1].split(":", 1)[0] in species]
        if not keys:
            return self._refuse(f"tissue expression in {' or '.join(species)}", self._of_task(T.TISSUE))
        ctx.current, ctx.keys = list(idx[:1]), tuple(keys)
        return Intent(
            "rank", keys=tuple(keys), sequences=(ctx.sequences[idx[0]],), labels=self._labels(idx[:1], ctx)
        )

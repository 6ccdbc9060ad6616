"""What the model computed for a turn, as facts the decoder writes from and a checker holds its answer to.

An :class:`Evidence` is the operation and a list of items (numbers from the head, differences, knockouts,
mutagenesis windows, variant effects, design steps, notes). :meth:`Evidence.lines` renders them as the short
lines the decoder reads; :func:`check` lists what an answer names that is not in them (a number, a motif, a
position, a sequence, an assay system); :func:`decoder_share` measures how much of an answer the decoder wrote
rather than copied from the evidence. Pure data and text: no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agrochat.domain import tasks as T
from agrochat.domain import vocabulary as V
from agrochat.domain.registry import ordinal


def _num(x: float) -> str:
    return f"{x:.2f}"


def _signed(x: float) -> str:
    return f"{x:+.2f}"


@dataclass(frozen=True)
class Value:
    """One number from the regression head: ``label`` names the sequence, ``what`` the key in words."""

    label: str
    key: str
    what: str
    value: float
    std: float
    unit: str
    percentile: float
    level: str
    interval68: tuple[float, float] | None = None  # keys with a floor: the 68 % interval and P(floor)
    p_floor: float | None = None
    ood: str = ""  # why the sequence is unlike the training data ("" when it is not)

    def line(self) -> str:
        spread = (
            f"mean {_num(self.value)}, 68 % interval {_num(self.interval68[0])} to {_num(self.interval68[1])}, "
            f"{self.p_floor:.0%} chance of exactly 0"
            if self.interval68 is not None and self.p_floor is not None
            else f"{_num(self.value)} ± {_num(self.std)}"
        )
        pct = ordinal(int(round(min(max(self.percentile, 0.0), 100.0))))
        out = f"{self.label}, {self.what}: {spread} {self.unit}; {pct} percentile; {self.level}"
        return out + (
            f"; caution: unlike the training sequences ({self.ood}), interval doubled" if self.ood else ""
        )


@dataclass(frozen=True)
class Difference:
    """``higher`` minus ``lower`` for one key, with the combined uncertainty."""

    higher: str
    lower: str
    what: str
    delta: float
    combined: float
    unit: str

    @property
    def real(self) -> bool:
        return self.delta > self.combined

    def line(self) -> str:
        verdict = "larger than the combined uncertainty" if self.real else "within the combined uncertainty"
        return (
            f"difference in {self.what}: {self.higher} higher than {self.lower} by {_num(self.delta)} "
            f"(combined uncertainty ±{_num(self.combined)}; {verdict})"
        )


@dataclass(frozen=True)
class Edit:
    """The predicted effect of an edit (or of another sequence) on one key."""

    description: str
    what: str
    ref: float
    alt: float
    delta: float
    uncertainty: float
    unit: str
    ood: str = ""

    @property
    def real(self) -> bool:
        return abs(self.delta) > self.uncertainty

    def line(self) -> str:
        verdict = "larger than its uncertainty" if self.real else "within its uncertainty"
        return (
            f"edit {self.description}, {self.what}: {_num(self.ref)} -> {_num(self.alt)} {self.unit} "
            f"(change {_signed(self.delta)} ± {_num(self.uncertainty)}; {verdict})"
            + (
                f"; caution: the edited sequence is unlike the training sequences ({self.ood})"
                if self.ood
                else ""
            )
        )


@dataclass(frozen=True)
class Design:
    """An in-silico evolution: its aim, each accepted substitution, and the result."""

    aim: str  # "stronger for promoter strength in tobacco leaves"
    budget: int
    steps: tuple[str, ...]  # "A-30G (base 141): 1.20 ± 0.40"
    start: float
    end: float
    sequence: str
    stopped: str = ""
    ood: str = ""

    def lines(self) -> list[str]:
        out = [f"design goal: {self.aim}, at most {self.budget} substitutions"]
        out += [f"design step {i + 1}: {s}" for i, s in enumerate(self.steps)]
        out.append(
            f"design result: {_num(self.start)} -> {_num(self.end)} ({_signed(self.end - self.start)}) with "
            f"{len(self.steps)} substitution(s)" + (f"; {self.stopped}" if self.stopped else "")
        )
        if self.steps:
            out.append(f"designed sequence: {self.sequence}")
        if self.ood:
            out.append(f"caution: the design drifted away from the training sequences ({self.ood})")
        out.append("note: predictions for untested sequences; measure them before relying on them")
        return out


@dataclass(frozen=True)
class Note:
    """A fact in words: a refusal's reason, the keys that match, what agrochat can do, a library fact."""

    kind: str  # refuse, clarify, need_dna, help, greet, general, ranking
    text: str

    def line(self) -> str:
        return f"{self.kind}: {self.text}"


@dataclass(frozen=True)
class Region:
    """A stretch the attribution marks, what it adds to the prediction (its bases shuffled) and the motif
    profiles that match it, named once under the region."""

    start: int  # relative to the TSS (promoters) or the cleavage site (terminators)
    end: int
    effect: float
    spread: float
    matches: tuple[str, ...] = ()

    def line(self) -> str:
        names = ", ".join(self.matches) or "no known motif"
        return (
            f"region {self.start:+d} to {self.end:+d}: contributes {_signed(self.effect)} (its bases shuffled; "
            f"spread ±{_num(self.spread)}); matches {names}"
        )


Item = Value | Difference | Region | Edit | Design | Note


@dataclass
class Evidence:
    """The operation of a turn and everything computed for it."""

    op: str
    items: list[Item] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for it in self.items:
            out += it.lines() if isinstance(it, Design) else [it.line()]
        return out

    def text(self) -> str:
        return "\n".join(f"- {x}" for x in self.lines())


# ---- note texts ----------------------------------------------------------------------------------------------
def ranking_text(
    species: str,
    n_tissues: int,
    unit: str,
    ranked: Sequence[tuple[str, float]],
    lowest: tuple[str, float],
    small_spread: bool,
) -> str:
    """The text of a ``ranking`` Note: ``maize, 23 tissues, log2(FPKM+1); highest first: mature pollen 2.31,
    ...; lowest: endosperm crown 0.02; spread larger than a typical uncertainty``."""
    top = ", ".join(f"{name} {_num(v)}" for name, v in ranked)
    spread = "smaller" if small_spread else "larger"
    return (
        f"{species}, {n_tissues} tissues, {unit}; highest first: {top}; lowest: {lowest[0]} {_num(lowest[1])}; "
        f"spread {spread} than a typical uncertainty"
    )


def key_groups(keys: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {
        "promoter": [],
        "terminator": [],
        "natural": [],
        "synthetic": [],
        "tissue": [],
    }
    names = {
        T.PROMOTER: "promoter",
        T.TERMINATOR: "terminator",
        T.NATURAL: "natural",
        T.SYNTHETIC: "synthetic",
    }
    for k in keys:
        task = T.split_key(k)[0]
        out["tissue" if task == T.TISSUE else names.get(task, "promoter")].append(k)
    return out


def species_of(keys: Sequence[str]) -> list[str]:
    return [sp for sp in ("maize", "sorghum") if any(T.split_key(k)[1].startswith(sp + ":") for k in keys)]


def capability_text(keys: Sequence[str]) -> str:
    """The capability text of a model with ``keys`` (the ``help`` and ``greet`` Notes), terse, e.g.
    ``predicts: promoter and terminator strength (tobacco (N. benthamiana) leaves; maize leaf protoplasts); ...``."""
    g = key_groups(keys)
    systems = {T.split_key(k)[1] for k in g["promoter"] + g["terminator"]}
    where = [
        w
        for s, w in (("leaf", "tobacco (N. benthamiana) leaves"), ("protoplast", "maize leaf protoplasts"))
        if s in systems
    ]
    kinds = [w for w, ks in (("promoter", g["promoter"]), ("terminator", g["terminator"])) if ks]
    what = []
    if kinds and where:
        what.append(f"{' and '.join(kinds)} strength ({'; '.join(where)})")
    if g["natural"] or g["synthetic"]:
        what.append("promoter strength by condition (35S enhancer or none; light or dark)")
    species = species_of(g["tissue"])
    if species:
        what.append(f"gene expression ({' and '.join(species)} tissues)")
    does = (
        ["compare sequences"]
        + (["rank tissues"] if species else [])
        + [
            "explain (important bases, motifs)",
            "variant effects",
            "design stronger/weaker versions",
        ]
    )
    return (
        f"predicts: {'; '.join(what) or 'regulatory DNA activity'}; also: {'; '.join(does)}; input: DNA pasted "
        "raw or as FASTA, about 170 bp (a core promoter or a terminator); every number with an uncertainty"
    )


# ---- the checker ---------------------------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:\.\d+)?(?![\w])")
MOTIF = re.compile(r"\bTF_\d+\b|TATA box|\bInr\b|TCT motif|Y patch|\bBREu\b|\bBREd\b|AATAAA(?:-like)?", re.I)
SEQUENCE = re.compile(r"[ACGTN]{12,}")
SUBSTITUTION = re.compile(r"\b[ACGT][+-]?\d{1,4}[ACGT]\b")
SYSTEM_WORDS = ("tobacco", "benthamiana", "protoplast", "maize", "sorghum")  # a wrong assay or species
# plant parts of the atlas tissues and assays: an answer naming one the evidence does not (a sorghum inflorescence
# answered as "sorghum leaves") names a measurement nobody computed
ORGANS = (
    "leaf", "root", "shoot", "stem", "pollen", "anther", "tassel", "silk", "ear", "embryo", "endosperm",
    "pericarp", "aleurone", "kernel", "seed", "seedling", "spikelet", "inflorescence", "panicle", "meristem",
    "internode", "cortex", "primordium", "flower", "coleoptile", "husk",
)  # fmt: skip
_ORGAN = re.compile(r"\b(leaf|leaves|" + "|".join(ORGANS[1:]) + r")(?:s|es)?\b", re.I)


def _organs(text: str) -> set[str]:
    return {"leaf" if m.lower().startswith("lea") else m.lower() for m in _ORGAN.findall(text)}


def _allowed_organs(facts: str) -> set[str]:
    """The plant parts ``facts`` name, with those of the synonyms of every atlas tissue they name (the vegetative
    meristem is the shoot apical meristem)."""
    return _organs(_with_synonyms(facts))


def _with_synonyms(facts: str) -> str:
    """``facts`` and the synonyms of every atlas tissue they name, one text."""
    low = facts.lower()
    extra = [
        s for table in V.TISSUES.values() for name, syns in table.items() if name.lower() in low for s in syns
    ]
    return "\n".join([facts, *extra])


def _numbers(text: str) -> set[str]:
    return {n.replace("−", "-").lstrip("+") for n in NUMBER.findall(text)}


def _quotable(text: str) -> set[str]:
    """The numbers of ``text`` an answer may say: each as written and without its sign."""
    found = _numbers(text)
    return found | {n.lstrip("-") for n in found}


WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_GROWING_WORD = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][a-z]*)$")
_GROWING_DIGIT_WORD = re.compile(r"(?<![\w.])(\d+[A-Za-z]+)$")
_LAST_WORD = re.compile(r"(?<![A-Za-z])([A-Za-z][a-z]{2,})(?![A-Za-z])[^A-Za-z]*$")  # the last finished word


def _repeats(answer: str, times: int = 3) -> str | None:
    """A run of three words said ``times`` times or more (a small decoder looping), or None."""
    words = [w.lower() for w in re.findall(r"\w+", answer)]
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - 2):
        run = tuple(words[i : i + 3])
        counts[run] = counts.get(run, 0) + 1
        if counts[run] >= times:
            return " ".join(run)
    return None


def check(
    answer: str,
    evidence: Evidence,
    vocabulary: frozenset[str] | None = None,
    question: str = "",
    whole: bool = True,
) -> list[str]:
    """What ``answer`` names that ``evidence`` does not hold (empty: the answer passes). With ``vocabulary``
    (the words of the writer's training answers), a word neither in it nor in the evidence or ``question`` is a
    problem too (a small decoder inventing words), and so is a run of words said three times. ``whole=False``:
    the start of an answer, so a value not said yet is no problem."""
    facts = evidence.text()
    low_facts = facts.lower()
    problems = []
    if vocabulary is not None:
        known = vocabulary | {w.lower() for w in WORD.findall(facts + " " + question)}
        unknown = sorted({w.lower() for w in WORD.findall(answer)} - known)
        if unknown:
            problems.append(f"words outside the writer's vocabulary: {', '.join(unknown[:3])}")
        loop = _repeats(answer)
        if loop:
            problems.append(f"'{loop}' said three times")
    allowed = _quotable(facts)
    for n in sorted(_numbers(answer) - allowed):
        problems.append(f"number {n} is not in the evidence")
    for m in sorted(set(MOTIF.findall(answer))):
        if m.lower() not in low_facts:
            problems.append(f"motif {m} is not in the evidence")
    for s in sorted(set(SEQUENCE.findall(answer))):
        if s not in facts:
            problems.append(f"sequence {s[:12]}... is not in the evidence")
    for s in sorted(set(SUBSTITUTION.findall(answer))):
        if s not in facts:
            problems.append(f"substitution {s} is not in the evidence")
    if whole:
        problems += [f"{v} ({label}) is missing" for v, label in _missing(answer, evidence)]
    for w in sorted(_systems(answer)):
        if w not in low_facts:
            problems.append(f"'{w}' is not in the evidence")
    for organ in sorted(_organs(answer) - _allowed_organs(facts) - _organs(question)):
        problems.append(f"the {organ} is not in the evidence")
    problems += _misplaced(answer, facts)
    problems += _unknown_sequences(answer, evidence)
    problems += _wrong_order(answer, evidence)
    problems += _wrong_levels(answer, evidence)
    problems += [f"'{w}' is not in the evidence" for w in _digit_words(answer, facts + " " + question)]
    return problems


DIGIT_WORD = re.compile(
    r"(?<![\w.])\d+[A-Za-z]+\b"
)  # "85th", "53S", "6bp": said only as the evidence says them


def _digit_words(answer: str, facts: str | set[str]) -> list[str]:
    """Words starting with digits ("85th", "53S") that ``facts`` do not hold (spacing aside: "2-4 mm" holds
    "4mm"; a set: :func:`_held_digit_words` of the facts); the 35S reference is always allowed."""
    held = _held_digit_words(facts) if isinstance(facts, str) else facts
    return sorted({m.lower() for m in DIGIT_WORD.findall(answer)} - held)


def _held_digit_words(facts: str) -> set[str]:
    return {"35s"} | set(
        DIGIT_WORD.findall(re.sub(r"(\d)\s+(?=[a-z])", r"\1", _with_synonyms(facts).lower()))
    )


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
_SEQ_REF = re.compile(
    r"\bsequence (\d+)\b|\b(" + "|".join(ORDINALS) + r") (?:one|sequence|candidate|promoter|terminator)\b",
    re.I,
)


def _labels(evidence: Evidence) -> set[int]:
    """The numbers of the sequences (``sequence 2``) the evidence names."""
    return {int(n) for n in re.findall(r"\bsequence (\d+)\b", evidence.text())}


def _ref_number(m: re.Match) -> int:
    return int(m.group(1)) if m.group(1) else ORDINALS.index(m.group(2).lower()) + 1


def _unknown_sequences(answer: str, evidence: Evidence | set[int]) -> list[str]:
    """A sequence the answer names ("sequence 3", "the third one") that the evidence (or the set of its sequence
    numbers) does not hold."""
    known = evidence if isinstance(evidence, set) else _labels(evidence)
    if not known:
        return []
    said = {_ref_number(m) for m in _SEQ_REF.finditer(answer)}
    return [f"sequence {n} is not in the evidence" for n in sorted(said - known)]


_ABOVE = r"(?:higher|stronger|more active|more highly expressed|better|ahead of|above|outperforms|beats)"
_BELOW = r"(?:lower|weaker|less active|worse|behind|below)"


_VERDICT = (  # "is the stronger", "comes out clearly higher"
    r"(?:is|comes out|scores|was|ends up)\s+(?:predicted\s+|clearly\s+|slightly\s+)?(?:the\s+)?"
    r"(higher|stronger|better|lower|weaker|worse)"
)


def _wrong_order(answer: str, evidence: Evidence) -> list[str]:
    """A sentence saying the lower of two compared sequences is the higher one ("sequence 1 is stronger than
    sequence 2", "... in favour of sequence 1") where the evidence's difference says the opposite."""
    out = []
    ref = (
        r"(?:sequence \d+|the (?:" + "|".join(ORDINALS) + r") (?:one|sequence|candidate|promoter|terminator))"
    )
    for d in (it for it in evidence.items if isinstance(it, Difference)):
        hi, lo = _label_number(d.higher), _label_number(d.lower)
        if hi is None or lo is None:
            continue
        for sentence in _SENTENCE.findall(answer):
            for m in re.finditer(
                rf"({ref})[^.;:]{{0,40}}?\b({_ABOVE}|{_BELOW}) than ({ref})", sentence, re.I
            ):
                a, b = (_ref_number(_SEQ_REF.search(m.group(k))) for k in (1, 3))
                above = re.fullmatch(_ABOVE, m.group(2), re.I) is not None
                if {a, b} == {hi, lo} and (a == hi) != above:
                    out.append(f"'{m.group(0)}' says the opposite of the evidence")
            for m in re.finditer(rf"in favou?r of ({ref})", sentence, re.I):
                if _ref_number(_SEQ_REF.search(m.group(1))) == lo:
                    out.append(f"'{m.group(0)}' says the opposite of the evidence")
            for m in re.finditer(rf"\b(?:go with|pick|choose|take|prefer)\s+({ref})", sentence, re.I):
                # a pick of the lower one, where the gap is real or the sentence says it is the stronger
                picked = _ref_number(_SEQ_REF.search(m.group(1)))
                if picked == lo and (d.real or re.search(r"\b(?:strong|high|better)", sentence, re.I)):
                    out.append(f"'{m.group(0)}' says the opposite of the evidence")
            for m in re.finditer(  # "Sequence 1 is predicted higher ...: 0.2 against 0.4 for sequence 2"
                rf"(?:^|[,;:]\s*|\b(?:and|but|while)\s+)\s*({ref})\s+{_VERDICT}\b(?!\s+than)", sentence, re.I
            ):
                a = _ref_number(_SEQ_REF.search(m.group(1)))
                above = re.fullmatch(_ABOVE, m.group(2), re.I) is not None
                if a in (hi, lo) and (a == hi) != above:
                    out.append(f"'{m.group(0)}' says the opposite of the evidence")
    return out


def _label_number(label: str) -> int | None:
    m = re.fullmatch(r"sequence (\d+)", label)
    return int(m.group(1)) if m else None


LEVEL_WORDS = {
    "strong": ("strong", "strongest", "stronger ones"),
    "moderate": ("moderate", "middling", "mid-range"),
    "weak": ("weak", "weakest", "weaker ones"),
    "high": ("high", "highly expressed"),
    "medium": ("medium", "mid-range", "moderate"),
    "low": ("low", "lowly expressed"),
}


def _wrong_levels(answer: str, evidence: Evidence) -> list[str]:
    """A sentence that quotes one value only and calls it by another value's level word ("-1.96 ± 0.67, strong"
    for a weak promoter)."""
    values = [it for it in evidence.items if isinstance(it, Value)]
    out = []
    for sentence in _SENTENCE.findall(answer):
        said = _numbers(sentence)
        own = [v for v in values if _num(v.value) in said]
        if len({v.level for v in own}) != 1:
            continue
        level = own[0].level
        low = sentence.lower()
        words = {lv for lv, ws in LEVEL_WORDS.items() for w in ws if re.search(rf"\b{w}\b", low)}
        if words and level not in words:
            out.append(f"{_num(own[0].value)} is {level}, not {'/'.join(sorted(words))}")
    return out


_SENTENCE = re.compile(r"[^.!?\n]+(?:\.\d[^.!?\n]*)*")  # a sentence (a decimal point does not end one)


def _misplaced(answer: str, facts: str) -> list[str]:
    """Values said of something their evidence lines do not name: a sentence naming assay or species words or
    plant parts must share one of each kind with the evidence lines its values (numbers with decimals; integers
    name tissues and bases) come from, where those lines name any (a design step names none: the evidence's)."""
    lines = [(_quotable(line), _systems(line), _allowed_organs(line)) for line in facts.splitlines()]
    out = []
    for sentence in _SENTENCE.findall(answer):
        systems, organs = _systems(sentence), _organs(sentence)
        values = {x for x in _numbers(sentence) if "." in x}
        if not values or not (systems or organs):
            continue
        holding = [(sy, og) for nums, sy, og in lines if values & nums]
        their_systems = set().union(*(sy for sy, _ in holding))
        their_organs = set().union(*(og for _, og in holding))
        said = ", ".join(sorted(values))
        if systems and their_systems and not systems & their_systems:
            out.append(f"{said} said of {', '.join(sorted(systems))}, their evidence is not")
        elif organs and their_organs and not organs & their_organs:
            out.append(f"{said} said of the {', '.join(sorted(organs))}, their evidence is not")
    return out


def _systems(text: str) -> set[str]:
    low = text.lower()
    return {w for w in SYSTEM_WORDS if re.search(rf"\b{w}", low)}


_PARTIAL = re.compile(r"(?<![\w.])[-+−]?\d+(?:\.\d*)?$")


def guard(evidence: Evidence, vocabulary: frozenset[str] | None = None, question: str = ""):
    """A test for text being written from ``evidence``: ``allowed(text)`` is False as soon as ``text`` holds a
    number, motif, substitution, sequence, assay/species word or plant part that :func:`check` would reject (the
    question's words aside), or ends in the
    start of a number that no evidence number begins with; with ``vocabulary`` (the writer's), also a finished
    word outside it, the evidence and ``question``, or a run of three words said a third time. The writer tries
    its likeliest next tokens in order and keeps the first whose text is allowed, so what it writes can only name
    what was computed, in words it was taught."""
    facts = evidence.text()
    known = (
        None if vocabulary is None else vocabulary | {w.lower() for w in WORD.findall(facts + " " + question)}
    )
    starts = set() if known is None else {w[:i] for w in known for i in range(3, len(w) + 1)}
    low_facts = facts.lower()
    organs = _allowed_organs(facts)
    allowed_numbers = _quotable(facts)
    prefixes = {n[:i] for n in allowed_numbers for i in range(1, len(n) + 1)} | {"-"}
    held_digit_words, labels = _held_digit_words(facts), _labels(evidence)
    digit_starts = {w[:i] for w in held_digit_words for i in range(1, len(w) + 1)}

    def allowed(text: str) -> bool:
        partial = _PARTIAL.search(text)
        done = text[: partial.start()] if partial else text
        if partial:
            run = partial.group(0).replace("−", "-").lstrip("+")
            if (
                run not in prefixes
                and run not in digit_starts  # "35" of "35S", "22" of "22nd"
                and not (run.endswith(".") and run[:-1] in allowed_numbers)
            ):
                return False
        if not _numbers(done) <= allowed_numbers:
            return False
        tail = text[-40:]
        for rx in (MOTIF, SUBSTITUTION):
            for m in rx.finditer(tail):
                if m.end() < len(tail) and m.group(0).lower() not in low_facts:
                    return False
        for m in SEQUENCE.finditer(tail):
            if m.end() < len(tail) and m.group(0) not in facts:
                return False
        low = tail.lower()
        if any(re.search(rf"\b{w}\w*\W", low) and w not in low_facts for w in SYSTEM_WORDS):
            return False
        whole = re.sub(r"\w+$", "", tail)  # a word still being written may grow ("lea" -> "leaves")
        if _digit_words(whole, held_digit_words) or _unknown_sequences(whole, labels):
            return False
        growing = _GROWING_DIGIT_WORD.search(
            text
        )  # "22ndpercen...": only the start of a digit-word it may say
        if growing and growing.group(1).lower() not in digit_starts:
            return False
        if known is not None:
            last = _LAST_WORD.search(whole)
            if last and last.group(1).lower() not in known:
                return False
            growing = _GROWING_WORD.search(text)  # a word being written must be the start of a taught one
            if growing and len(growing.group(1)) >= 3 and growing.group(1).lower() not in starts:
                return False
            if _repeats(re.sub(r"\w+$", "", text)):
                return False
        return _organs(whole) <= organs

    return allowed


def _missing(answer: str, evidence: Evidence) -> list[tuple[str, str]]:
    """What the answer must say and does not: (the number or sequence, what it is of). A prediction,
    comparison or explanation says every value; a comparison every difference; a variant effect each edit's
    new value and change; a design its final value and the designed sequence."""
    said = _numbers(answer)
    out = []
    for it in evidence.items:
        if isinstance(it, Value) and evidence.op in ("predict", "compare", "explain"):
            if _num(it.value) not in said:
                out.append((_num(it.value), it.label))
        elif isinstance(it, Difference) and evidence.op == "compare":
            if _num(it.delta) not in said:
                out.append((_num(it.delta), f"the difference between {it.higher} and {it.lower}"))
        elif isinstance(it, Edit) and evidence.op == "variant":
            if _num(it.alt) not in said:
                out.append((_num(it.alt), f"edit {it.description}"))
            if not {_num(it.delta), _num(abs(it.delta))} & said:
                out.append((_signed(it.delta), f"the change of edit {it.description}"))
        elif isinstance(it, Design):
            if _num(it.end) not in said:
                out.append((_num(it.end), "the design's result"))
            if it.steps and it.sequence not in answer:
                out.append(("the designed sequence", "the design"))
    return out


def complete(evidence: Evidence):
    """A test for text being written from ``evidence``: ``finished(text)`` is True when the answer may end there,
    i.e. it says every value (and designed sequence) :func:`check` requires and ends a sentence (``.``, ``!``,
    ``?`` or ``)``). The writer passes over the end of turn until it is
    (:meth:`agrochat.bridge.writer.Writer.stream`)."""

    def finished(text: str) -> bool:
        text = text.rstrip()
        return bool(text) and text[-1] in ".!?)" and not _missing(text, evidence)

    return finished


def sound(evidence: Evidence, vocabulary: frozenset[str] | None = None, question: str = ""):
    """A test for the sentences written so far: ``ok(text)`` is True when :func:`check` finds nothing wrong in
    ``text`` as the start of an answer (a value said of the wrong system or tissue, called by another level's
    word, a comparison the wrong way round, ...). The writer tests each sentence as it ends and writes it again
    when it fails (:meth:`agrochat.bridge.writer.Writer.stream`)."""

    def ok(text: str) -> bool:
        return not check(text, evidence, vocabulary, question, whole=False)

    return ok


def vocabulary_of(texts) -> frozenset[str]:
    """The lower-case words of ``texts`` (a writer's training answers) that :func:`check` accepts."""
    return frozenset(w.lower() for t in texts for w in WORD.findall(t))


def decoder_share(answer: str, evidence: Evidence, min_copy: int = 12) -> float:
    """Share of ``answer``'s characters that are not copied from the evidence: numbers, motif names, sequences
    and substitutions named in it, and any stretch of at least ``min_copy`` characters found verbatim in it."""
    if not answer:
        return 0.0
    facts = evidence.text()
    copied = [False] * len(answer)
    for rx in (NUMBER, MOTIF, SEQUENCE, SUBSTITUTION):
        for m in rx.finditer(answer):
            for i in range(m.start(), m.end()):
                copied[i] = True
    i = 0
    while i < len(answer):  # greedy longest verbatim stretches
        j = i + min_copy
        if j <= len(answer) and answer[i:j] in facts:
            while j < len(answer) and answer[i : j + 1] in facts:
                j += 1
            for k in range(i, j):
                copied[k] = True
            i = j
        else:
            i += 1
    return 1.0 - sum(copied) / len(answer)

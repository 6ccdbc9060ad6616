"""A turn's plan from the decoder, checked against hard facts.

:class:`DecoderPlanner` hands the conversation (every sequence as ``<dna>`` embeddings) to the decoder's planner
(:mod:`agrochat.bridge.planner`) and turns its scores into an :class:`~agrochat.chat.dialogue.Intent`. The rules
of :mod:`agrochat.chat.dialogue` no longer decide the plan; they only validate it and word the messages of the
turns without a number:

- an operation that computes needs a sequence in the conversation (else ``need_dna``);
- a comparison needs two sequences (else a prediction), an explanation or a variant one;
- a ranking covers every tissue of one species;
- the keys of one group, at least one (the group's most likely key when none passes 0.5);
- a number is never given for a species or system the question names and no key measures
  (``veto_refusals``; the rules word the refusal);
- an injection attempt (:func:`agrochat.chat.named.injection`) is refused with no number, whatever the plan;
  so are an off-topic request (a translation, or a request for a sequence whose words touch nothing of plant DNA)
  and a turn pushing for what the turn before refused (95.0 % -> 95.4 % of the validation rows, refusals 96 ->
  100 % of 96: 4 fixed, none broken);
- a refused plan whose words type a key by name is that key's prediction, a prediction of several sequences the
  words compare is a comparison, and an operation alone without a sequence asks for it (with three word tests
  more: 95.0 % -> 95.5 % of 1,212 validation rows, 6 fixed, none broken);
- an operation the last turn names outright (design, explain: :func:`agrochat.chat.named.named_operation`)
  replaces a plan that computes something else or asks back (88.1 % -> 88.6 % of the validation rows: three
  turns fixed, none broken);
- the conversation's policy (:meth:`DecoderPlanner._follow`): a follow-up naming nothing a key is chosen by keeps
  the keys of the turn before (planned once more on the conversation up to it), one naming only assay conditions
  changes those of the keys before (92.4 % -> 93.0 %: 3 fixed, none broken), and activity keys cover both
  assay systems when no turn names one (88.6 % -> 91.5 % of the validation rows: 17 fixed, 1 broken);
- a question about what the assistant does is help (:func:`agrochat.chat.named.asks_what_i_do`), and a refusal
  of a question naming a measured system without any sequence asks for the sequence instead (91.5 % -> 92.4 %:
  5 fixed, none broken); words naming an edit make a prediction or comparison a variant, and natural-promoter
  condition keys become the benchmark keys when no turn names a condition (93.0 % -> 93.3 %: 2 fixed, none
  broken);
- the keys agree with what the last turn names outright (:func:`agrochat.chat.named.ground`: typed key names,
  the assay system, enhancer and light condition, atlas tissues), a condition nothing measured is refused, and
  a clarifying question becomes a prediction where the words name tissues of one species (chosen on the written
  validation rows: 73.7 % -> 88.1 % of turns planned right);
- where the user's words call the sequence a promoter or a terminator, the plan gets that task's keys
  (promoter strength <-> terminator strength); where they do not say, the sequence-kind classifier's call
  (:mod:`agrochat.bridge.kind`, ``kind``; probability >= ``KIND_SURE``, 0.5, chosen on the validation rows of
  the written phrasing sets, where it planned 60.8 % of turns right against 56.2 % at 0.9) decides.

Every veto is named in ``Intent.vetoes``, so evaluations can count them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from agrochat.bridge.planner import Planner, PlanScores, choose_keys
from agrochat.domain import tasks as T
from agrochat.domain.facts import ASKS_COMPOSITION
from agrochat.domain.operations import NUMBER_OPS

from .dialogue import DNA_RUN, Intent, Resolver, key_label, mentions
from .named import (
    NAMED_OPS_REPLACE,
    asks_how_much,
    asks_what_i_do,
    bare_operation,
    both_systems,
    ground,
    injection,
    insists,
    named_conditions,
    named_operation,
    names_a_change,
    names_a_comparison,
    names_a_measurement,
    names_an_edit,
    names_nothing,
    names_only_conditions,
    names_the_domain,
    off_topic_task,
    standard_keys,
    tissue_plan,
    typed_keys,
    with_conditions,
    without_conditions,
)

NEED_DNA = (
    "I need the DNA sequence to answer that: paste it into your message. Without a sequence I will not guess a "
    "number."
)


OFF_TOPIC = (
    "That is outside what I do, so I will not answer it. I predict how strongly plant promoters and terminators "
    "drive expression, and gene expression across tissues, from their DNA: paste a sequence and ask."
)
INJECTION = (
    "I can't follow instructions that change how I answer, and I don't share my instructions. I predict plant "
    "promoter, terminator and gene-expression activity from DNA with a trained model: paste a sequence and ask."
)


def with_placeholders(messages: list[dict], dna=None) -> tuple[list[dict], list[str]]:
    """``messages`` (user and assistant turns) with every sequence of a user turn as ``<dna>``, and the sequences in
    order; ``dna`` (a sequence or a list) belongs to the last user turn."""
    extra = [dna] if isinstance(dna, str) else list(dna or [])
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    out, seqs = [], []
    for i, m in enumerate(messages):
        if m.get("role") not in ("user", "assistant"):
            continue
        text = str(m.get("content") or "")
        if m["role"] == "user":
            seqs += [s.upper().replace("U", "T") for s in DNA_RUN.findall(text)]
            text = DNA_RUN.sub("<dna>", text)
            if i == last_user and extra:
                seqs += [s.upper() for s in extra]
                text = text.rstrip() + " " + " ".join(["<dna>"] * len(extra))
        out.append({"role": m["role"], "content": text})
    return out, seqs


KIND_SURE = 0.5
_KIND_WORDS = re.compile(r"promot|terminat|\bterm\b|3'|5'|poly\s*\(?a|\butr\b", re.I)
_PROMOTER_WORDS = re.compile(r"promot", re.I)
_TERMINATOR_WORDS = re.compile(
    r"terminat|\bterm\b|3'\s*(?:end|utr|region|flank)|poly\s*\(?a\)?\s*signal", re.I
)


def kind_said(turns: list[str]) -> str | None:
    """The sequence kind the user's words name (promoter or terminator strength): the last turn that names one
    kind and not the other decides; None when none does."""
    for text in reversed(turns):
        p, t = bool(_PROMOTER_WORDS.search(text)), bool(_TERMINATOR_WORDS.search(text))
        if p != t:
            return T.PROMOTER if p else T.TERMINATOR
    return None


_ASKS_KIND = re.compile(
    r"\b(?:promoter|terminator)s?\W+or\W+(?:an?\s+|the\s+)?(?:promoter|terminator)"
    r"|\bwhat\s+(?:kind|type|sort)\s+of\s+(?:sequence|element|region|dna|thing|fragment)"
    r"|^\W*what(?:'s|\s+is)\s+(?:this|that|it)(?:\s+(?:thing|sequence|fragment|element|region|one))?\W*$"
    r"|\b(?:is|are)\s+(?:this|it|that|these|they)\s+an?\s+(?:promoter|terminator)s?\s*(?:\?|$|or\b)",
    re.I,
)


def asks_kind(words: str) -> bool:
    """Whether the words ask what kind of sequence it is ("promoter or terminator?", "what kind of sequence is
    this?", "is this a terminator?"): the sequence-kind classifier answers, not the words."""
    return bool(_ASKS_KIND.search(words))


def _chance(p: float) -> str:
    return "under a 1%" if p < 0.005 else "over a 99%" if p > 0.995 else f"a {p:.0%}"


_PREDICTION_WORDS = re.compile(
    r"strong|strength|weak|express|activ|level|predict|score|value|number|how (?:much|high|good|well)|"
    r"\bdrive|\boutput|\bin (?:tobacco|maize|leaf|leaves|protoplast)",
    re.I,
)


_TOKEN = re.compile(r"[a-z0-9']+")
_RANGE = re.compile(r"(?<![\d.])(\d+)\s*(?:-|–|to)\s*(\d+)(?![\d.])")
# the words of an elliptic follow-up besides the conditions it names ("and if there's no enhancer?")
_ELLIPSIS = frozenset(
    "and or so then now ok okay what about how if we i it its it's there there's is are would will be in on at "
    "for with the a an please pls also too again instead case that this one ones same what's happens "
    "happen under condition conditions system assay just".split()
)


def _tissue_words(key: str) -> set[str]:
    return set(_TOKEN.findall(T.split_key(key)[1].split(":", 1)[-1].lower()))


def asks_composition(words: str) -> bool:
    """Whether the words ask for a sequence's length or GC content and not for a prediction."""
    return bool(ASKS_COMPOSITION.search(words)) and not _PREDICTION_WORDS.search(words)


_SWAP = {T.PROMOTER: T.TERMINATOR, T.TERMINATOR: T.PROMOTER}


class DecoderPlanner:
    """Plans a turn with the decoder; ``rules`` (a :class:`Resolver`) word refusals and questions; ``kind``: a
    sequence-kind classifier (``prob_terminator``) whose confident calls the plan must agree with."""

    def __init__(
        self,
        planner: Planner,
        known_keys: list[str],
        veto_refusals: bool = True,
        kind=None,
        ground_keys: bool = True,
    ) -> None:
        self.planner = planner
        self.known = list(known_keys)
        self.rules = Resolver(known_keys)
        self.veto_refusals = veto_refusals
        self.kind = kind
        self.ground_keys = ground_keys

    def scores(self, messages: list[dict], dna=None) -> tuple[PlanScores, list[str]]:
        convo, seqs = with_placeholders(messages, dna)
        return self.planner.scores(convo, seqs), seqs

    def plan(self, messages: list[dict], dna=None, follow: bool = True) -> Intent:
        """The checked plan of the last user turn; ``follow``: a turn naming nothing a key is chosen by keeps the
        keys of the turn before (planned once more, on the conversation up to it)."""
        scores, seqs = self.scores(messages, dna)
        turns = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]

        planned: list[Intent | None] = []

        def before() -> Intent | None:  # the turn before's plan, planned once
            if not planned:
                alone = not follow or len(users) < 2 or dna is not None or DNA_RUN.search(turns[-1])
                planned.append(None if alone else self.plan(messages[: users[-2] + 1], follow=False))
            return planned[0]  # None: no turn before, or this one brings its own sequence

        def previous() -> list[str]:
            p = before()
            return list(dict.fromkeys(p.keys)) if p and p.op in NUMBER_OPS and p.op != "rank" else []

        words = _last_user(messages)
        return self.decide(
            scores,
            seqs,
            self.rules.resolve(messages, dna),
            words,
            None if asks_kind(words) else kind_said(turns),
            turns=[DNA_RUN.sub(" ", t) for t in turns],
            previous=previous,
            before=before,
        )

    # ---- scores -> a checked plan ----------------------------------------------------------------------------
    def decide(
        self,
        s: PlanScores,
        seqs: list[str],
        rules: Intent,
        words: str,
        said: str | None = None,
        turns: list[str] | None = None,
        previous: Callable[[], list[str]] | None = None,
        before: Callable[[], Intent | None] | None = None,
    ) -> Intent:
        """The checked plan from the planner's scores; ``words``: the last user turn; ``said``: the sequence kind
        the user's words name (:func:`kind_said`); ``turns``: every user turn's words (default: ``words``);
        ``previous()``: the keys of the turn before (for a follow-up naming nothing); ``before()``: the turn
        before's plan (for a follow-up naming only conditions, which keeps its operation)."""
        op = max(s.op, key=s.op.get)
        vetoes: list[str] = []
        if injection(words):
            vetoes.append(f"{op}: the words try to change how I answer: refuse")
            return Intent("refuse", message=INJECTION, source="decoder", vetoes=tuple(vetoes))
        if not seqs and before is not None and insists(words):
            earlier = before()
            if earlier is not None and earlier.op == "refuse":
                vetoes.append(f"{op}, but the words insist on what was refused: refuse")
                return replace(earlier, source="decoder", vetoes=tuple(vetoes))
        kept = self._operation_before(op, words, before, vetoes) if self.ground_keys and seqs else None
        if kept is not None:
            op = kept.op
        elif self.ground_keys:
            op = self._operation(op, words, len(seqs), vetoes)
        kind_asked = bool(seqs) and self.kind is not None and asks_kind(words)
        if kind_asked and op not in NUMBER_OPS:
            vetoes.append(f"{op}, but the words ask what kind of sequence it is: predict")
            op = "predict"
        named = tissue_plan(words, self.known) if op == "clarify" and seqs and self.ground_keys else []
        if named:
            vetoes.append(f"clarify, but the words name {', '.join(named)}: predict")
            op = "predict"
        if op in NUMBER_OPS and not seqs:
            vetoes.append(f"{op} without a sequence: need_dna")
            op = "need_dna"
        if (
            not seqs
            and op not in ("refuse", "greet")
            and self.ground_keys
            and (off_topic_task(words) or (op == "need_dna" and not names_the_domain(words, self.known)))
        ):
            vetoes.append(f"{op}, but the words ask for something outside plant DNA: refuse")
            return Intent("refuse", message=OFF_TOPIC, source="decoder", vetoes=tuple(vetoes))
        unmeasured = mentions(words).unknown if self.veto_refusals else []
        if (op in NUMBER_OPS or op == "clarify") and unmeasured:
            vetoes.append(f"{op} for {', '.join(unmeasured)}, which has no measurement: refuse")
            op = "refuse"
        if op not in NUMBER_OPS:
            return self._no_number(op, s, rules, vetoes)
        keys = named or self._keys(op, s)
        targets = self._targets(op, s, len(seqs))
        if op != "rank" and self.ground_keys:
            grounded, why = ground(keys, words, self.known)
            if not grounded:
                vetoes.append(f"{op}: {why}: refuse")
                return self._no_number("refuse", s, rules, vetoes)
            if why:
                vetoes.append(f"{why}: {', '.join(grounded)}")
            keys = grounded
        if self._ambiguous_tissue(op, keys, rules, words):
            vetoes.append(f"{op} for {', '.join(keys)}, but the words match several tissues: clarify")
            return self._no_number("clarify", s, rules, vetoes)
        notes: tuple[str, ...] = ()
        if kind_asked and op != "rank":
            keys, notes = self._kind_of(
                keys, [seqs[i] for i in targets], [f"sequence {i + 1}" for i in targets]
            )
            vetoes.append(f"the words ask what kind of sequence it is: {T.split_key(keys[0])[0]} keys")
        elif said is not None:
            keys = self._agree_with_the_words(keys, said, vetoes)
        else:
            keys = self._agree_with_the_sequence(keys, [seqs[i] for i in targets], words, vetoes)
        if kind_asked and previous is not None:  # the turn before's system, in the kind the classifier calls
            keys_before, want = previous, T.split_key(keys[0])[0]
            previous = lambda: self._as_kind(keys_before(), want)  # noqa: E731
        if self.ground_keys and op != "rank":
            keys = self._follow(keys, words, turns if turns is not None else [words], previous, vetoes)
            keys = self._by_range(keys, words, vetoes)
        if op == "compare" and len(targets) < 2:
            if len(seqs) < 2:
                vetoes.append("compare with one sequence: predict")
                op = "predict"
            else:
                targets = sorted(sorted(range(len(seqs)), key=lambda i: -s.sequences[i])[:2])
                vetoes.append("compare named fewer than two sequences: the two most likely")
        if op in ("explain", "variant", "design") and len(targets) > 1:
            targets = [max(targets, key=lambda i: s.sequences[i])]
        labels = [f"sequence {i + 1}" for i in targets]
        goal = kept.goal if kept is not None and kept.goal else max(s.goal, key=s.goal.get)
        base = dict(
            source="decoder", vetoes=tuple(vetoes), goal=goal if op == "design" else None, notes=notes
        )
        if op == "rank":
            return Intent(
                "rank", keys=tuple(keys), sequences=(seqs[targets[0]],), labels=(labels[0],), **base
            )
        if op == "explain":
            return Intent(
                "explain", keys=tuple(keys), sequences=(seqs[targets[0]],), labels=(labels[0],), **base
            )
        if op in ("variant", "design"):
            return Intent(
                op,
                keys=tuple(keys),
                sequences=(seqs[targets[0]],),
                labels=(labels[0],),
                message=kept.message if kept is not None else words,
                **base,
            )
        pairs = [(i, k) for i in targets for k in keys]
        return Intent(
            op,
            keys=tuple(k for _, k in pairs),
            sequences=tuple(seqs[i] for i, _ in pairs),
            labels=tuple(f"sequence {i + 1}" for i, _ in pairs),
            **base,
        )

    def _by_range(self, keys: list[str], words: str, vetoes: list[str]) -> list[str]:
        """Atlas keys of one species held to the ranges the words name ("7-8?", "the 6-8 mm one", "1 to 10 mm"):
        the species' tissues whose names hold one of them (a counted veto where that changes the plan)."""
        said = set(_RANGE.findall(words))
        if not said or not all(T.split_key(k)[0] == T.TISSUE for k in keys):
            return keys
        species = {T.split_key(k)[1].split(":", 1)[0] for k in keys}
        if len(species) != 1:
            return keys
        (sp,) = species
        named = [
            k
            for k in self.known
            if k.startswith(f"{T.TISSUE}/{sp}:") and said & set(_RANGE.findall(T.split_key(k)[1]))
        ]
        if not named or set(named) == set(keys):
            return keys
        vetoes.append(f"the words name {', '.join(sorted('-'.join(r) for r in said))}: {', '.join(named)}")
        return named

    def _ambiguous_tissue(self, op: str, keys: list[str], rules: Intent, words: str) -> bool:
        """Whether the planner chose one of several atlas tissues the words match equally ("maize root", "the
        division zone of leaf 8") where the rules ask which one is meant."""
        if op not in ("predict", "compare") or rules.op != "clarify" or not self.ground_keys:
            return False
        tissue = [k for k in keys if T.split_key(k)[0] == T.TISSUE]
        if not tissue or len(tissue) != len(keys) or len(rules.suggestions) < 2:
            return False
        if not set(tissue) <= set(rules.suggestions) or tissue_plan(words, self.known):
            return False
        said = {w[:6] for w in _TOKEN.findall(words.lower())}
        for key in tissue:  # a word only the chosen tissue's name has ("mature", "germinated", "38") picks it
            others = set().union(*(_tissue_words(k) for k in rules.suggestions if k != key))
            if not {w[:6] for w in _tissue_words(key) - others} & said:
                return True
        return False

    def _operation_before(
        self, op: str, words: str, before: Callable[[], Intent | None] | None, vetoes: list[str]
    ) -> Intent | None:
        """The turn before's plan, for a follow-up that names only conditions ("and in protoplasts?", "what if
        the enhancer is dropped?") after a turn that computed: it asks the same again under those conditions
        (its edit, explanation or design included; a counted veto where the planner chose otherwise)."""
        if before is None or op not in NUMBER_OPS or not names_only_conditions(words, self.known):
            return None
        rest = without_conditions(words)  # "what if we drop the enhancer?" changes a condition, not the DNA
        if not set(_TOKEN.findall(rest.lower())) <= _ELLIPSIS:
            return None
        p = before()
        if p is None or p.op not in NUMBER_OPS or p.op == "rank":
            return None
        if p.op != op:
            vetoes.append(f"{op}, but the words change only the conditions: the operation before, {p.op}")
        return p

    def _operation(self, op: str, words: str, n_seqs: int, vetoes: list[str]) -> str:
        """The operation the words settle: one they name outright (design, explain) or an edit (a variant) with a
        sequence, a comparison of two or more; help for a question about what I do; need_dna for a refused question
        naming a measured system, or an operation alone, with no sequence; a prediction for a refused key typed by
        name with its sequence (a counted veto each)."""
        has_dna = n_seqs > 0
        named = named_operation(words) if has_dna else None
        if named is not None and named != op and op in NAMED_OPS_REPLACE:
            vetoes.append(f"{op}, but the words ask to {named}: {named}")
            return named
        if named is None and has_dna and op in ("predict", "compare") and names_an_edit(words):
            vetoes.append(f"{op}, but the words name an edit: variant")
            return "variant"
        if has_dna and op in ("predict", "compare", "clarify", "need_dna") and asks_composition(words):
            vetoes.append(f"{op}, but the words ask for the length or GC content, not a prediction: general")
            return "general"
        if op == "predict" and n_seqs >= 2 and named is None and names_a_comparison(words):
            vetoes.append("predict of several sequences, but the words ask to compare them: compare")
            return "compare"
        if op == "refuse" and has_dna and typed_keys(words, self.known) and not mentions(words).unknown:
            vetoes.append("refuse, but the words type a key by its name: predict")
            return "predict"
        if op in ("help", "general", "greet") and not has_dna and bare_operation(words):
            vetoes.append(f"{op}, but the words are an operation alone: need_dna")
            return "need_dna"
        if op == "explain" and named is None and asks_how_much(words):
            vetoes.append("explain, but the words ask how much and not why: predict")
            return "predict"
        if op == "variant" and has_dna and not names_a_change(words):
            instead = "compare" if names_a_comparison(words) else "predict"
            vetoes.append(f"variant, but the words name no change: {instead}")
            return instead
        if op in ("general", "need_dna") and asks_what_i_do(words):
            vetoes.append(f"{op}, but the words ask what I do: help")
            return "help"
        if (
            op == "refuse"
            and not has_dna
            and not mentions(words).unknown
            and names_a_measurement(words, self.known)
        ):
            vetoes.append("refuse, but the words name a measured system and no sequence was given: need_dna")
            return "need_dna"
        return op

    def _follow(
        self,
        keys: list[str],
        words: str,
        turns: list[str],
        previous: Callable[[], list[str]] | None,
        vetoes: list[str],
    ) -> list[str]:
        """The conversation's policy: a follow-up naming nothing keeps the keys of the turn before; activity keys
        cover both assay systems when no turn names one (counted vetoes where they change the plan)."""
        if previous is not None and names_nothing(words, self.known):
            before = previous()
            if before and set(before) != set(keys):
                vetoes.append(f"the words name nothing new: the keys before, {', '.join(before)}")
                keys = before
        elif previous is not None and names_only_conditions(words, self.known):
            changed = with_conditions(previous(), named_conditions(words), self.known)
            if changed and set(changed) != set(keys):
                vetoes.append(f"the words change the conditions of the keys before: {', '.join(changed)}")
                keys = changed
        standard = standard_keys(keys, turns, self.known)
        if set(standard) != set(keys):
            vetoes.append("no turn names a condition: the benchmark keys")
            keys = standard
        both = both_systems(keys, turns, self.known)
        if set(both) != set(keys):
            vetoes.append("no turn names an assay system: both systems")
        return both

    def _keys(self, op: str, s: PlanScores) -> list[str]:
        if op == "rank":  # every tissue of the most likely species
            species = {}
            for k, p in s.keys.items():
                if k.startswith(f"{T.TISSUE}/"):
                    species.setdefault(T.split_key(k)[1].split(":", 1)[0], []).append(p)
            best = max(species, key=lambda sp: sum(species[sp]) / len(species[sp]))
            return [k for k in self.known if k.startswith(f"{T.TISSUE}/{best}:")]
        return choose_keys(s.groups, {k: s.keys.get(k, 0.0) for k in self.known}, s.group_of)

    def _agree_with_the_words(self, keys: list[str], said: str, vetoes: list[str]) -> list[str]:
        """Promoter-strength keys when the user's words call the sequence a promoter, terminator-strength keys
        when they call it a terminator (a veto, counted)."""
        task = T.split_key(keys[0])[0]
        if task not in _SWAP or said == task:
            return keys
        swapped = [T.make_key(said, T.split_key(k)[1]) for k in keys]
        if not all(k in self.known for k in swapped):
            return keys
        vetoes.append(f"the words call it a {said.split('_')[0]}: {said} keys")
        return swapped

    def _agree_with_the_sequence(
        self, keys: list[str], seqs: list[str], words: str, vetoes: list[str]
    ) -> list[str]:
        """Promoter-strength keys for sequences the kind classifier is sure are terminators, and back, unless
        the words say which it is (a veto, counted)."""
        task = T.split_key(keys[0])[0]
        if self.kind is None or task not in _SWAP or not seqs or _KIND_WORDS.search(words):
            return keys
        p = sum(self.kind.prob_terminator(seqs)) / len(seqs)
        want = T.TERMINATOR if p >= KIND_SURE else T.PROMOTER if p <= 1 - KIND_SURE else task
        swapped = [T.make_key(want, T.split_key(k)[1]) for k in keys]
        if want == task or not all(k in self.known for k in swapped):
            return keys
        vetoes.append(f"the sequence reads as a {want.split('_')[0]} (p terminator {p:.2f}): {want} keys")
        return swapped

    def _kind_of(
        self, keys: list[str], seqs: list[str], labels: list[str]
    ) -> tuple[list[str], tuple[str, ...]]:
        """For a question about what kind of sequence it is: the kind classifier's call for each sequence (said
        in a note before the answer) and the keys of the kind most of them are."""
        probs = self.kind.prob_terminator(seqs)
        notes = tuple(
            f"{lab.capitalize()} reads as a {'terminator' if p >= KIND_SURE else 'promoter'} (the sequence-kind "
            f"classifier gives it {_chance(p)} chance of being a terminator)."
            for lab, p in zip(labels, probs, strict=True)
        )
        want = T.TERMINATOR if sum(probs) / len(probs) >= KIND_SURE else T.PROMOTER
        return self._as_kind(keys, want), notes

    def _as_kind(self, keys: list[str], want: str) -> list[str]:
        """``keys`` as keys of task ``want`` (promoter or terminator strength): the same systems where they
        exist, else every known key of that task (``keys`` when there is none)."""
        if not keys or T.split_key(keys[0])[0] == want:
            return keys
        swapped = [T.make_key(want, T.split_key(k)[1]) for k in keys]
        if not all(k in self.known for k in swapped):
            swapped = [k for k in self.known if T.split_key(k)[0] == want]
        return swapped or keys

    @staticmethod
    def _targets(op: str, s: PlanScores, n: int) -> list[int]:
        chosen = [i for i, p in enumerate(s.sequences) if p > 0.5]
        return chosen or [max(range(n), key=lambda i: s.sequences[i])]

    def _no_number(self, op: str, s: PlanScores, rules: Intent, vetoes: list[str]) -> Intent:
        base = dict(source="decoder", vetoes=tuple(vetoes))
        if op == rules.op:  # the rules word the same decision: keep their message and suggestions
            return replace(rules, **base)
        if op == "need_dna":
            return Intent("need_dna", message=NEED_DNA, **base)
        if op == "refuse":
            near = sorted(s.keys, key=s.keys.get, reverse=True)[:3]
            return Intent(
                "refuse",
                message="I have no measurement for that, so I will not give a number. The closest things I can "
                f"answer: {'; '.join(key_label(k) for k in near)}.",
                suggestions=tuple(near),
                **base,
            )
        if op == "clarify":
            near = sorted(s.keys, key=s.keys.get, reverse=True)[:4]
            return Intent(
                "clarify",
                message=f"Which one do you mean: {'; '.join(key_label(k) for k in near)}?",
                suggestions=tuple(near),
                **base,
            )
        return Intent(op, **base)


def _last_user(messages: list[dict]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return DNA_RUN.sub(" ", str(users[-1].get("content") or "")).strip() if users else ""

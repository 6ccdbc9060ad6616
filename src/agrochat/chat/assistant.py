"""``Assistant``: calibrated predictions with grounded explanations, mutagenesis, and chat.

Numbers come from the regression head at a ``<num>`` slot. ``predict`` uses a fixed prompt per task key (the fast
path, one forward per batch); ``ask`` asks the same prompt through generation with the same forced answer prefix,
so the number in its text equals ``predict`` for the same sequence and task. Explanations are built from the
motif annotator's findings in that sequence and the published average effects, never invented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from agrochat.bridge import DnaLanguageModel, generate, normalize_dna
from agrochat.bridge.generate import TextStream
from agrochat.bridge.intervals import LEVEL68, LEVEL95
from agrochat.bridge.io import CONFIG_NAME
from agrochat.bridge.kind import KindClassifier
from agrochat.bridge.model import OOD_WIDEN, NumericValue
from agrochat.bridge.planner import Planner
from agrochat.bridge.writer import Writer
from agrochat.domain import tasks as T
from agrochat.domain.effects import load_effects
from agrochat.domain.evidence import (
    Design,
    Difference,
    Edit,
    Evidence,
    Note,
    Value,
    capability_text,
    check,
    complete,
    guard,
    ranking_text,
    sound,
)
from agrochat.domain.evidence import Region as EvidenceRegion
from agrochat.domain.explain import describe_element, element_mentions
from agrochat.domain.explain import explain as explain_annotation
from agrochat.domain.facts import DATA, POLYA, composition, facts_for
from agrochat.domain.motifs import annotate, promoter_rel, terminator_rel
from agrochat.domain.prompts import canonical_prompt
from agrochat.domain.registry import Registry, load_registry, ordinal
from agrochat.errors import CheckpointError, InputError, UnknownTaskError
from agrochat.train.batching import INFERENCE_MAX_TOKENS, budget_batches

from . import interpret
from .attribution import Scorer, VariantEffect, kind_of, variant_effects
from .design import GOALS, DesignConfig, DesignResult
from .design import design as run_design
from .dialogue import DNA_RUN, Intent, Resolver, key_label
from .explanation import explain_text
from .fasta import iter_fasta
from .interpret import ANSWER_ATTRIBUTION
from .paste import plain_pastes
from .planning import DecoderPlanner, asks_composition
from .plots import plot_design, plot_heatmap, plot_mutagenesis
from .prediction import Answer, Mutagenesis, Prediction
from .variants import VariantError, coordinate, motif_name, replaced_runs, variant_spec_from_text
from .variants import parse as parse_variant
from .windows import answers_window_question, fit_windows
from .windows import window as cut_window

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
PLANNER_DIR = "planner"
WRITER_DIR = "writer"
RANKING_FILE = "ranking.json"
KIND_DIR = "kind"
BASES = "ACGT"


class Assistant:
    def __init__(
        self,
        model: DnaLanguageModel,
        registry: Registry,
        effects=None,
        planner: Planner | None = None,
        writer: Writer | None = None,
        kind=None,
        ranking: dict | None = None,
    ) -> None:
        self.model = model.eval()
        self.registry = registry
        self.effects = effects if effects is not None else load_effects()
        self.planner = planner  # the decoder's planner; without one, turns are planned by the rules
        self.writer = writer  # the decoder's writer; without one, answers are the plain renderings
        self.kind = (
            kind  # promoter or terminator by the sequence (bridge/kind.py): a fact the validator checks
        )
        # per species: how often this model's top tissue was the measured top one (validation genes)
        self.ranking = ranking or {}

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> Assistant:
        """Load a checkpoint (default: the model shipped in the package), with its decoder's planner, writer and
        sequence-kind classifier when it has them (``planner/``, ``writer/``, ``kind/``), and the measured hit rate
        of its tissue rankings (``ranking.json``, written by ``bench/tissue_ranking.py --model-file``)."""
        path = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if not (path / CONFIG_NAME).is_file():
            raise CheckpointError(f"{path} is not an agrochat model (no {CONFIG_NAME})")
        model = DnaLanguageModel.from_pretrained(path)
        reg = path / "registry.json"
        planner = (
            Planner.from_pretrained(path / PLANNER_DIR, model) if (path / PLANNER_DIR).is_dir() else None
        )
        writer = Writer.from_pretrained(path / WRITER_DIR, model) if (path / WRITER_DIR).is_dir() else None
        kind = KindClassifier.from_pretrained(path / KIND_DIR) if (path / KIND_DIR).is_dir() else None
        ranking = json.loads((path / RANKING_FILE).read_text()) if (path / RANKING_FILE).is_file() else None
        return cls(
            model,
            load_registry(reg if reg.is_file() else None),
            planner=planner,
            writer=writer,
            kind=kind,
            ranking=ranking,
        )

    # ---- tasks -----------------------------------------------------------------------------------------------
    @property
    def known_keys(self) -> list[str]:
        return list(self.model.config.numeric_head.keys)

    def resolve(self, task: str = "promoter_strength", tissue: str | None = "leaf") -> str:
        """Task key for (task, tissue); unknown or untrained ones raise :class:`UnknownTaskError` listing the
        keys this model knows."""
        try:
            key = self.registry.resolve(task, tissue)
        except UnknownTaskError as e:
            raise UnknownTaskError(f"{e}. This model answers for: {', '.join(self.known_keys)}") from None
        if key not in self.known_keys:
            raise UnknownTaskError(
                f"this model was not trained on {key!r}; it answers for: {', '.join(self.known_keys)}"
            )
        return key

    # ---- inputs ----------------------------------------------------------------------------------------------
    @staticmethod
    def records(sequences) -> Iterator[tuple[str, str]]:
        """(id, normalised sequence) pairs from a sequence, a list of sequences or (id, sequence) pairs, or a
        FASTA path (streamed)."""
        if isinstance(sequences, Path) or (isinstance(sequences, str) and _looks_like_path(sequences)):
            for r in iter_fasta(sequences):
                yield r.id, _normalize(r.sequence, r.id)
            return
        if isinstance(sequences, str):
            sequences = [sequences]
        for i, s in enumerate(sequences):
            rid, s = s if isinstance(s, tuple) else (f"seq{i + 1}", s)  # (id, sequence) pairs keep their id
            yield rid, _normalize(s, rid)

    def check_sequence(self, seq: str, where: str = "sequence") -> str:
        """Normalise one sequence and check it fits this model's encoder (or its overflow rule); the error names
        ``where`` (a record id)."""
        return self._fits(_normalize(seq, where), where)

    def _fits(self, seq: str, where: str) -> str:
        """``seq`` (normalised) if it fits the encoder; else the window error, naming ``where``."""
        from agrochat.bridge import DnaSequenceError

        try:
            self.model.processor.check_fits(seq)
        except DnaSequenceError as e:
            raise DnaSequenceError(f"{where}: {e}") from None
        return seq

    # ---- prediction ------------------------------------------------------------------------------------------
    def iter_predict(
        self,
        sequences,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        batch_size: int = 32,
        explanations: bool = True,
        max_tokens: int = INFERENCE_MAX_TOKENS,
        window: str = "whole",
    ) -> Iterator[Prediction]:
        """Stream predictions batch by batch (bounded memory for large FASTA files). A batch holds at most
        ``batch_size`` sequences and ``max_tokens`` padded DNA tokens (the training sampler's rule), so long
        sequences come in small batches. ``window``: ``whole`` (each sequence as given) or ``tss_end`` (promoter
        regions that end at the TSS: their 3'-most 170 bp, the core-promoter window the model reads; the
        prediction's ``sequence`` is what was scored)."""
        key = self.resolve(task, tissue)
        yield from self.iter_predict_key(sequences, key, batch_size, explanations, max_tokens, window)

    def iter_predict_key(
        self,
        sequences,
        key: str,
        batch_size: int = 32,
        explanations: bool = True,
        max_tokens: int = INFERENCE_MAX_TOKENS,
        window: str = "whole",
    ) -> Iterator[Prediction]:
        """:meth:`iter_predict` for a task key of this model (``promoter_strength/leaf``)."""
        if key not in self.known_keys:
            raise UnknownTaskError(
                f"this model has no key {key!r}; it answers for: {', '.join(self.known_keys)}"
            )
        cut_window("", window)  # an unknown window is an error before any work
        records = (  # normalised, cut to the window
            (rid, self._fits(cut_window(seq, window), rid)) for rid, seq in self.records(sequences)
        )
        count = self.model.dna_tokenizer.count
        for batch in budget_batches(records, lambda r: count(r[1]), max_tokens, batch_size):
            yield from self._score(batch, key, explanations)

    def predict(self, sequences, *args, **kwargs) -> list[Prediction]:
        """Fast path: one forward pass per batch, no sampling. Accepts str, list of str, or a FASTA path; the
        arguments of :meth:`iter_predict` (``task``, ``tissue``, ``batch_size``, ``explanations``), all at once."""
        return list(self.iter_predict(sequences, *args, **kwargs))

    def _numbers(self, sequences: Sequence[str], keys: Sequence[str]) -> list[NumericValue]:
        """The fast path for (sequence, key) pairs, in one batch: each key's canonical question and answer prefix
        (so the number equals the one the chat writes at ``<num>``)."""
        if self.model.config.numeric != "head":
            raise InputError(
                "this is a numeric=text (digits) comparison model: it has no regression head, so no "
                "predict/explain; use ask() or chat() and read the digits it writes"
            )
        prompts = []
        for seq, key in zip(sequences, keys, strict=True):
            question, prefix = canonical_prompt(key)
            prompts.append(([{"role": "user", "content": question}], [seq], prefix))
        return self.model.score(prompts, list(keys))

    def _score(self, batch, key, explanations) -> list[Prediction]:
        values = self._numbers([seq for _, seq in batch], [key] * len(batch))
        return [
            self._prediction(rid, seq, key, v, explanations)
            for (rid, seq), v in zip(batch, values, strict=True)
        ]

    def _prediction(self, rid, seq, key, v, explanations) -> Prediction:
        """A :class:`Prediction` from the model's :class:`~agrochat.bridge.model.NumericValue` ``v``."""
        value, std = v.value, v.std
        spec = self.registry.get(key)
        expl, motifs = "", []
        if explanations:
            ann = annotate(seq, "terminator" if spec.task == T.TERMINATOR else "promoter")
            motifs = [asdict(h) for h in ann.hits]
            expl = explain_annotation(ann, key, self.effects, spec.gc_median).text
        return Prediction(
            id=rid,
            sequence=seq,
            key=key,
            value=value,
            uncertainty=std,
            unit=spec.unit,
            percentile=spec.percentile(value),
            level=spec.level(value),
            text=self._format(v) + (ood_note(v.ood_reason) if v.ood else ""),
            explanation=expl,
            motifs=motifs,
            ood=v.ood,
            ood_reason=v.ood_reason,
            interval68=self.model.interval(v, LEVEL68),
            interval95=self.model.interval(v, LEVEL95),
            p_floor=self.model.p_floor(v),
        )

    # ---- the model's evidence: mutagenesis, knockouts, variants, design --------------------------------------
    def scorer(self, batch_size: int = 256, max_tokens: int = INFERENCE_MAX_TOKENS) -> Scorer:
        """A batched fast-path scorer: (sequences, key) -> (values, stds, ood flags, ood reasons); batches of at
        most ``batch_size`` sequences and ``max_tokens`` padded DNA tokens."""
        count = self.model.dna_tokenizer.count

        def score(seqs, key):
            vals = []
            for chunk in budget_batches(seqs, count, max_tokens, batch_size):
                vals += self._numbers(chunk, [key] * len(chunk))
            return (
                np.array([v.value for v in vals]),
                np.array([v.std for v in vals]),
                [v.ood for v in vals],
                [v.ood_reason for v in vals],
            )

        return score

    def explain(
        self,
        sequence: str,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        top: int = 3,
        plot: str | Path | None = None,
        heatmap: str | Path | None = None,
        method: str = ANSWER_ATTRIBUTION,
        shuffles: int = 20,
        seed: int = 0,
    ) -> Mutagenesis:
        """The model's evidence for one prediction: the effect of every single-base substitution (tangermeme's
        saturation mutagenesis), the per-base attribution by ``method`` (``ism`` or ``deeplift_shap``), the regions
        it marks (seqlets), each with its effect when its bases are shuffled ``shuffles`` times and the motif
        profiles matching it, and the explanation (at most ``top`` regions). ``plot``: an attribution logo PNG;
        ``heatmap``: the 4 x L substitution heat map PNG."""
        key = self.resolve(task, tissue)
        base = self.predict(sequence, task, tissue)[0]
        seq = base.sequence
        scorer = self.scorer()
        pred = interpret.predictor(self.model, key, lambda seqs: scorer(seqs, key)[0])
        effects = interpret.ism(pred, seq)  # (L, 4)
        n_alt = np.array([3 if c in BASES else 4 for c in seq])
        per_base = effects.sum(1) / n_alt  # (L,)
        attr = (
            interpret.ism_attribution(effects)
            if method == "ism"
            else interpret.attribution(pred, seq, method)
        )
        kind = kind_of(key)
        matches = (
            interpret.motif_matches(seq)
            if kind == "promoter"
            else interpret.annotated_matches(annotate(seq, kind))
        )
        regions = interpret.regions(pred, seq, attr, kind, matches, shuffles=shuffles, seed=seed)
        base.attribution = attr
        text = explain_text(base.text, key_label(key), regions, attr, self.effects, key, method, top)
        result = Mutagenesis(base, effects, per_base, attr, regions, method, text)
        if plot is not None:
            result.plot_path = str(plot_mutagenesis(result, plot))
        if heatmap is not None:
            result.heatmap_path = str(plot_heatmap(result, heatmap))
        return result

    def variant(
        self,
        sequence: str,
        spec: str | None = None,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        other: str | None = None,
        replicates: int = 5,
        seed: int = 0,
    ) -> VariantEffect:
        """The predicted effect of the edits in ``spec`` (see :mod:`agrochat.chat.variants`: ``G-30A``,
        ``A140G``, ``ko:TATA``, ``ins:TATA@-30``, applied together), or of replacing ``sequence`` by ``other``."""
        key = self.resolve(task, tissue)
        seq = self.check_sequence(sequence, "sequence")
        if (spec is None) == (other is None):
            raise VariantError("give either a variant spec or a second sequence to compare with")
        score = self.scorer()
        if other is not None:
            alt = self.check_sequence(other, "other sequence")
            values, stds, ood, reasons = score([seq, alt], key)
            return VariantEffect(
                "other sequence",
                "the second sequence instead of the first",
                key,
                float(values[0]),
                float(stds[0]),
                float(values[1]),
                float(stds[1]),
                float(values[1] - values[0]),
                float(np.hypot(stds[0], stds[1])),
                1,
                alt,
                ood[0] or ood[1],
                reasons[0] or reasons[1],
            )
        edits = parse_variant(spec, seq, kind_of(key))
        return variant_effects(score, seq, key, [(spec.strip(), edits)], replicates, seed)[0]

    def design(
        self,
        sequence: str,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        goal: str = "stronger",
        target: float | None = None,
        against: tuple[str, str | None] | None = None,
        max_mutations: int = 5,
        beam: int = 1,
        keep: str | None = None,
        keep_motifs: tuple[str, ...] = (),
        seed: int = 0,
        progress: bool = False,
        plot: str | Path | None = None,
    ) -> DesignResult:
        """In-silico evolution of ``sequence`` (:mod:`agrochat.chat.design`): ``goal`` ``stronger`` / ``weaker``
        for (task, tissue), or ``target`` to reach a value; ``against=(task, tissue)`` adds a key that should go
        the other way ("strong in maize protoplasts, weak in tobacco leaf"). ``keep``: positions that must not
        change (``-30,-29`` relative to the TSS, or 1-based ``140``); ``keep_motifs``: annotated motifs that
        must not change (``TATA``). At most ``max_mutations`` substitutions; ``plot``: write a PNG."""
        if goal not in GOALS:
            raise VariantError(f"goal must be one of {', '.join(GOALS)}, not {goal!r}")
        key = self.resolve(task, tissue)
        seq = self.check_sequence(sequence, "sequence")
        if (goal == "target") != (target is not None):
            raise VariantError("goal 'target' needs a target value (and a target value needs goal 'target')")
        other = (self.resolve(*against),) if against else ()
        if other and other[0] == key:
            raise VariantError("the key to go the other way is the design's own key")
        up, down = ((key,), other) if goal != "weaker" else (other, (key,))
        kind = kind_of(key)
        kept = {
            coordinate(t[0] if t[0] in "+-" else "", t.lstrip("+-"), len(seq), kind)
            for t in re.split(r"[,;\s]+", keep or "")
            if t
        }
        ann = annotate(seq, kind) if keep_motifs else None
        for name in keep_motifs:
            hit = ann.get(motif_name(name))
            if hit is None:
                raise VariantError(
                    f"cannot keep {name}: the annotator finds no {motif_name(name)} in this sequence"
                )
            kept |= set(range(hit.start, hit.end))
        config = DesignConfig(
            up=up,
            down=down,
            target=target,
            max_mutations=max_mutations,
            beam=beam,
            keep=tuple(sorted(kept)),
            seed=seed,
        )
        result = run_design(self.scorer(), seq, config, progress=progress)
        if plot is not None:
            plot_design(result, plot)
        return result

    # ---- conversation ----------------------------------------------------------------------------------------
    def plan(self, messages: list[dict], dna=None, planner: str = "auto") -> Intent:
        """What the last user turn of ``messages`` asks for (operation, key of every number, sequences, or a
        refusal), read from the whole conversation. ``planner``: ``decoder`` (the decoder reads the conversation,
        its sequences as DNA embeddings, and plans; the rules check the plan: :mod:`agrochat.chat.planning`),
        ``rules`` (:mod:`agrochat.chat.dialogue` alone) or ``auto`` (the decoder when the model has a planner marked ``default``, else the rules)."""
        if planner not in ("auto", "decoder", "rules"):
            raise InputError(f"planner must be auto, decoder or rules, not {planner!r}")
        if planner == "decoder" and self.planner is None:
            raise InputError("this model has no planner (no planner/ folder); plan with the rules")
        messages = plain_pastes(messages)
        if (
            planner == "rules"
            or self.planner is None
            or (planner == "auto" and not self.planner.config.default)
        ):
            return Resolver(self.known_keys).resolve(messages, dna)
        return DecoderPlanner(self.planner, self.known_keys, kind=self.kind).plan(messages, dna)

    def ask(
        self,
        question: str,
        dna=None,
        task: str | None = None,
        tissue: str | None = None,
        stream: bool = False,
        explanation: bool = False,
        max_new_tokens: int = 32,
    ):
        """Answer one question about one or more sequences (given as ``dna`` or pasted into the question).

        With ``task``/``tissue`` the answer is that key's prediction for every sequence; without them the question
        is read like a chat turn (:meth:`chat`). Returns an :class:`Answer`, or text pieces with ``stream=True``."""
        if task or tissue:
            key = self.resolve(task or "promoter_strength", tissue)
            _, seqs = extract_dna(question, dna)
            seqs = [_normalize(s, f"sequence {i + 1}") for i, s in enumerate(seqs)]
            if not seqs:
                raise InputError(
                    "the question refers to DNA but no sequence was given (paste it or pass dna=...)"
                )
            intent = Intent(
                "predict",
                keys=(key,) * len(seqs),
                sequences=tuple(seqs),
                labels=tuple(f"sequence {i + 1}" for i in range(len(seqs))),
            )
            return self._run(
                intent, [{"role": "user", "content": question}], stream, explanation, max_new_tokens
            )
        return self.chat(
            [{"role": "user", "content": question}],
            dna=dna,
            stream=stream,
            max_new_tokens=max_new_tokens,
            explanation=explanation,
        )

    def chat(
        self,
        messages: list[dict],
        dna=None,
        stream: bool = False,
        max_new_tokens: int = 32,
        explanation: bool = False,
    ):
        """Multi-turn chat over ``messages`` (system, user and assistant turns; DNA pasted in user turns or given
        as ``dna`` for the last one). The operation and the key of every number are read from the conversation
        (:meth:`plan`); numbers come from the regression head and equal :meth:`predict` for the same sequence and
        key; unknown species, systems or tissues get a refusal with no number. A prediction says why (the model's
        knockouts) only when asked (``explanation``, or a turn that asks why). Returns an :class:`Answer`, or text
        pieces with ``stream=True``."""
        if not messages or messages[-1].get("role") != "user":
            raise InputError("chat() needs a list of messages ending with a user message")
        messages = plain_pastes(messages)  # FASTA, GenBank, blocks, RNA: plain runs; a bad paste raises here
        content = str(messages[-1]["content"])
        if "<dna>" in content:  # explicit placeholders: exactly one sequence each (pasted or dna=...)
            _, seqs = extract_dna(content, dna)
            for seq in seqs:
                content = content.replace("<dna>", seq, 1)
            messages, dna = [*messages[:-1], {**messages[-1], "content": content}], None
        # a reply saying where the TSS is, to the question asked back about a long paste: the question before it
        intent = self.plan(messages[:-2] if answers_window_question(messages) else messages, dna)
        checked = tuple(
            _normalize(s, label) for s, label in zip(intent.sequences, intent.labels, strict=True)
        )
        intent = fit_windows(replace(intent, sequences=checked), messages)
        return self._run(intent, messages, stream, explanation, max_new_tokens)

    def _run(
        self, intent: Intent, messages: list[dict], stream: bool, explanation: bool, max_new_tokens: int
    ) -> Answer | TextStream[list[Prediction]]:
        """The answer to ``intent``: an :class:`Answer`, or with ``stream`` its text pieces as they come (a
        :class:`~agrochat.bridge.generate.TextStream` whose ``result`` is the predictions once exhausted)."""
        for seq, label in zip(intent.sequences, intent.labels, strict=True):
            self._fits(seq, label)  # every input error before the first piece
        turn = TextStream(self._turn(intent, messages, explanation, max_new_tokens))
        if stream:
            return TextStream(_predictions_of(turn))
        text = "".join(turn)
        done: Turn = turn.result
        return Answer(
            text=text,
            predictions=done.predictions,
            key=intent.keys[0] if intent.keys else None,
            intent=intent,
            evidence=done.evidence,
            written_by=done.written_by,
            problems=done.problems,
        )

    def _turn(
        self, intent: Intent, messages: list[dict], explanation: bool, max_new_tokens: int
    ) -> Generator[str, None, Turn]:
        """Compute the turn's evidence, then word it: the decoder's writer when the model has one (its answer is
        checked against the evidence; one that fails is replaced by the plain rendering, and says so), else the
        plain rendering as it is produced."""
        for note in intent.notes:
            yield note + "\n"
        if self.writer is None:
            preds, evidence = yield from self._compute(intent, messages, explanation, max_new_tokens)
            return Turn(preds, evidence, "template")
        plain = TextStream(self._compute(intent, messages, explanation, max_new_tokens, fast=True))
        text = "".join(plain)
        preds, evidence = plain.result
        question = _question(messages)
        allowed = guard(evidence, self.writer.vocabulary, question)
        answer = self.writer.write(
            question,
            evidence.text(),
            allowed,
            complete(evidence),
            sound(evidence, self.writer.vocabulary, question),
        )
        problems = check(answer, evidence, self.writer.vocabulary, question)
        if problems or not answer:
            yield text
            return Turn(preds, evidence, "template", tuple(problems or ["empty answer"]))
        yield answer
        return Turn(preds, evidence, "decoder")

    def _compute(
        self, intent: Intent, messages: list[dict], explanation: bool, max_new_tokens: int, fast: bool = False
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        """Yield the plain rendering's pieces; return the predictions behind its numbers and the evidence.
        ``fast``: predictions from the fast path (no generated prefix; the writer words them)."""
        op = intent.op
        if op == "predict":
            if fast:
                return (yield from self._say_values(intent, explanation))
            return (yield from self._say_predictions(intent, messages, explanation, max_new_tokens))
        if op == "compare":
            return (yield from self._say_comparison(intent))
        if op == "rank":
            return (yield from self._say_ranking(intent))
        if op == "explain":
            return (yield from self._say_explanation(intent))
        if op == "variant":
            return (yield from self._say_variant(intent))
        if op == "design":
            return (yield from self._say_design(intent))
        fact = None
        if op == "general":
            text, fact = self._general(messages)
        elif op in ("greet", "help"):
            text, fact = HELP_TEXT, capability_text(self.known_keys)
            if DATA in facts_for(str(messages[-1]["content"])):  # "what can you do, and from what data?"
                text, fact = f"{text} {DATA.text}", f"{fact}; {DATA.note}"
        else:  # refuse, clarify, need_dna: the planner's message, no number
            text = intent.message
        yield text
        return [], Evidence(op, [Note(op, fact or text)])

    def _spread(self, p: Prediction) -> str:
        """``value ± σ``, or for a key with a floor ``mean m, 68 % interval a to b, P % chance of exactly 0``."""
        fi = self.model.config.floor_intervals.get(p.key)
        if fi is None or p.p_floor is None or p.interval68 is None:
            return f"{p.value:.2f} ± {p.uncertainty:.2f}"
        lo, hi = p.interval68
        median = float(fi.median([p.value], [p.uncertainty / (OOD_WIDEN if p.ood else 1.0)])[0])
        return (
            f"mean {p.value:.2f}, median {median:.2f}, 68 % interval {lo:.2f} to {hi:.2f}, {p.p_floor:.0%} chance "
            f"of exactly {fi.floor:g}"
        )

    def _format(self, v: NumericValue) -> str:
        """The text of a number in an answer: the registry's format for its key, with its 68 % interval and the
        chance of the floor instead of ``± σ`` where the key's measurements pile up at a floor."""
        spec = self.registry.get(v.key)
        p_floor = self.model.p_floor(v)
        if p_floor is None:
            return spec.format_value(v.value, v.std)
        floor = self.model.config.floor_intervals[v.key].floor
        return spec.format_value(
            v.value,
            interval=self.model.interval(v, LEVEL68),
            at_floor=(floor, p_floor),
            median=self.model.median(v),
        )

    def _value(self, p: Prediction, label: str) -> Value:
        """A prediction as evidence."""
        floor = self.model.config.floor_intervals.get(p.key) is not None and p.p_floor is not None
        return Value(
            label=label,
            key=p.key,
            what=key_label(p.key),
            value=p.value,
            std=p.uncertainty,
            unit=p.unit,
            percentile=p.percentile,
            level=p.level,
            interval68=p.interval68 if floor else None,
            p_floor=p.p_floor if floor else None,
            ood=p.ood_reason if p.ood else "",
        )

    def _say_values(
        self, intent: Intent, explanation: bool
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        """A prediction from the fast path: one line per (sequence, key)."""
        preds = self._values(intent)
        several = len(set(intent.sequences)) > 1
        for n, (p, label) in enumerate(zip(preds, intent.labels, strict=True)):
            who = f"{_cap(label)}, " if several else ""
            yield ("\n" if n else "") + f"{who}{key_label(p.key)}: {p.text}."
        items: list = [self._value(p, label) for p, label in zip(preds, intent.labels, strict=True)]
        if explanation and preds:
            res = self.explain(preds[0].sequence, *T.split_key(preds[0].key))
            yield "\n" + res.text
            items += self._explain_items(res)
        return preds, Evidence("predict", items)

    def _say_predictions(
        self, intent: Intent, messages: list[dict], explanation: bool, max_new_tokens: int
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        # the decoder reads the real turn; a head that reads the decoder state (readout token) gets the fixed
        # question of the fast path instead, so its number still equals predict()
        preds: list[Prediction] = []
        reads_h = self.model.numeric_head.reads_h
        # the answer prefix names the system; a label is needed only to tell sequences apart
        several = len(set(intent.sequences)) > 1
        for n, (seq, key, label) in enumerate(zip(intent.sequences, intent.keys, intent.labels, strict=True)):
            if n:
                yield "\n"
            if several:
                yield f"{_cap(label)}: "
            question, prefix = canonical_prompt(key)
            convo = [{"role": "user", "content": question}] if reads_h else self._decoder_turn(messages)
            answer = generate.stream(
                self.model,
                convo,
                [seq],
                num_keys=[key],
                answer_prefix=prefix,
                max_new_tokens=max_new_tokens,
                formatter=self._format,
                one_sentence=True,  # the number's sentence; what follows is computed, not generated
            )
            yield from answer
            values = answer.result.values
            if not values:  # a numeric=text comparison model wrote digits: nothing calibrated to attach
                continue
            v = values[0]
            pred = self._prediction(label.replace(" ", ""), seq, key, v, explanation and n == 0)
            preds.append(pred)
            if v.ood:
                yield f"\nCaution: this sequence is unlike what I learned ({v.ood_reason}), so I doubled the interval."
            if explanation and n == 0:  # the model's own evidence: the regions its attribution marks
                res = self.explain(seq, *T.split_key(key))
                yield "\n" + explain_text(
                    pred.text,
                    key_label(key),
                    res.regions,
                    res.attribution,
                    self.effects,
                    key,
                    res.method,
                    lead=False,
                )
        if not several and len(preds) > 1:
            yield "\n" + self._across_keys(preds)
        labels = [label for label, _ in zip(intent.labels, preds, strict=False)]
        return preds, Evidence("predict", [self._value(p, x) for p, x in zip(preds, labels, strict=True)])

    def _decoder_turn(self, messages: list[dict]) -> list[dict]:
        """The conversation as the decoder reads it: system message and the last user turn, DNA as ``<dna>``
        (one placeholder, the sequence in focus)."""
        system = [
            {"role": "system", "content": m["content"]} for m in messages[:1] if m.get("role") == "system"
        ]
        first, *rest = DNA_RUN.sub("<dna>", str(messages[-1]["content"])).split("<dna>")
        last = first + ("<dna>" + "".join(rest) if rest else "")
        if "<dna>" not in last:
            last = "<dna>\n" + last
        return system + [{"role": "user", "content": last}]

    def _across_keys(self, preds: list[Prediction]) -> str:
        """One sequence in several systems: compare by percentile, since each system has its own scale."""
        ranked = sorted(preds, key=lambda p: -p.percentile)
        where = [f"{key_label(p.key)} ({ordinal(round(p.percentile))} percentile)" for p in ranked]
        if ranked[0].percentile - ranked[-1].percentile < 10:
            lead = f"It ranks about the same in each: {', '.join(where)}"
        elif len(ranked) == 2:
            lead = f"It ranks higher for {where[0]} than for {where[1]}"
        else:
            lead = f"It ranks highest for {where[0]}, then {', then '.join(where[1:])}"
        return (
            f"{lead}, each among what was measured for that key. Each key has its own scale, so compare the "
            "percentiles, not the raw values."
        )

    def _values(self, intent) -> list[Prediction]:
        """Fast-path predictions for every (sequence, key) pair of ``intent``."""
        out = []
        for seq, key, label in zip(intent.sequences, intent.keys, intent.labels, strict=True):
            out += self._score([(label.replace(" ", ""), seq)], key, False)
        return out

    def _say_comparison(self, intent: Intent) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        got = self._values(intent)
        items: list = [self._value(p, label) for p, label in zip(got, intent.labels, strict=True)]
        for key in dict.fromkeys(intent.keys):
            rows = [
                (p, label) for p, label, k in zip(got, intent.labels, intent.keys, strict=True) if k == key
            ]
            spec = self.registry.get(key)
            lines = [f"{label}: {self._format(_value_of(p))}" for p, label in rows]
            yield f"{_cap(key_label(key))}:\n" + "\n".join(f"- {x}" for x in lines) + "\n"
            best = max(rows, key=lambda r: r[0].value)
            for p, label in rows:
                if p is best[0]:
                    continue
                diff = Difference(
                    best[1],
                    label,
                    key_label(key),
                    best[0].value - p.value,
                    float(np.hypot(best[0].uncertainty, p.uncertainty)),
                    spec.unit,
                )
                items.append(diff)
                verdict = (
                    "larger than the combined uncertainty, so the difference is likely real"
                    if diff.real
                    else "within the combined uncertainty, so I cannot tell them apart with confidence"
                )
                yield (
                    f"{best[1].capitalize()} is higher than {label} by {diff.delta:.2f} {spec.unit} "
                    f"(combined uncertainty ±{diff.combined:.2f}: {verdict}).\n"
                )
            if any(p.ood for p, _ in rows):
                yield "Caution: at least one sequence is unlike what I learned; its interval was doubled.\n"
        return got, Evidence("compare", items)

    def _say_ranking(
        self, intent: Intent, top: int = 5
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        seq = intent.sequences[0]
        keys = list(intent.keys)
        values = self._numbers([seq] * len(keys), keys)
        got = [
            self._prediction(intent.labels[0].replace(" ", ""), seq, k, v, False)
            for k, v in zip(keys, values, strict=True)
        ]
        order = sorted(got, key=lambda p: p.value, reverse=True)
        species = T.split_key(keys[0])[1].split(":", 1)[0]
        spec = self.registry.get(keys[0])

        def tissue(p: Prediction) -> str:
            return T.split_key(p.key)[1].split(":", 1)[1]

        yield (
            f"Predicted expression of this {species} gene in the {len(keys)} tissues I know "
            f"({spec.unit}); highest first:\n"
        )
        for p in order[:top]:
            yield f"- {tissue(p)}: {self._spread(p)}\n"
        low = order[-1]
        yield f"Lowest: {tissue(low)} ({self._spread(low)})."
        spread = order[0].value - low.value
        typical = float(np.median([p.uncertainty for p in order]))
        weak = spread < typical
        if weak:
            yield " The spread between tissues is smaller than a typical uncertainty, so the ranking is weak."
        record = self.ranking.get(species)
        notes = []
        if record:
            said = (
                f"on {record['genes']} {record['split']} genes the tissue ranked first was the measured top "
                f"tissue for {record['top1']:.0%} of genes (chance {record['chance_top1']:.0%}), one of the first "
                f"three for {record['top3']:.0%}"
            )
            yield f" How far to trust the order: {said}."
            notes.append(Note("ranking record", said))
        facts = ranking_text(
            species,
            len(keys),
            spec.unit,
            [(tissue(p), p.value) for p in order[:top]],
            (tissue(low), low.value),
            weak,
        )
        return got, Evidence("rank", [Note("ranking", facts), *notes])

    def _explain_items(self, res: Mutagenesis, top: int = 3) -> list:
        """An explanation as evidence: its regions, largest first, each with the profiles matching it."""
        return [
            EvidenceRegion(r.rel_start, r.rel_end, r.effect, r.spread, tuple(m.name for m in r.matches[:3]))
            for r in res.regions[:top]
        ]

    def _say_explanation(
        self, intent: Intent, top: int = 3
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        seq, preds, items = intent.sequences[0], [], []
        for n, key in enumerate(dict.fromkeys(intent.keys)):  # each key asked for ("in both systems")
            task, tissue = T.split_key(key)
            res = self.explain(seq, task, tissue, top=top)
            yield ("\n" if n else "") + res.text
            preds.append(res.prediction)
            items += [self._value(res.prediction, intent.labels[0]), *self._explain_items(res, top)]
        return preds, Evidence("explain", items)

    def _say_variant(self, intent) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        seq = intent.sequences[0]
        kind = kind_of(intent.keys[0]) if intent.keys else "promoter"
        spec = variant_spec_from_text(intent.message, seq, kind)
        runs = replaced_runs(intent.message, seq.upper())[1]
        elements = element_mentions(runs[0]) if not spec and len(runs) == 1 else []
        if elements:  # "turn the TATA into TTTT" of a TATA box that is not the literal run: knock it out
            yield (
                f"{_cap(intent.labels[0])} holds no literal {runs[0]}, so I read this as destroying its "
                f"{runs[0]} element instead.\n"
            )
            spec = f"ko:{elements[0]}"
        elif not spec and runs:
            text = f"{_cap(intent.labels[0])} holds no {' or '.join(runs)}, so there is nothing to rewrite."
            yield text
            return [], Evidence("variant", [Note("clarify", text)])
        if not spec:
            text = (
                "Tell me which change to make: a substitution like G-30A (relative to the TSS) or A140G (1-based "
                "position), 'knock out the TATA box', or 'insert a TATA box at -30'."
            )
            yield text
            return [], Evidence("variant", [Note("clarify", text)])
        items: list = []
        for key in intent.keys:
            task, tissue = T.split_key(key)
            try:
                eff = self.variant(seq, spec, task, tissue)
            except VariantError as e:
                text = f"I cannot apply that to {intent.labels[0]}: {e}."
                yield text + "\n"
                return [], Evidence("variant", [Note("clarify", text)])
            spec_unit = self.registry.get(key).unit
            edit = Edit(
                eff.description,
                key_label(key),
                eff.ref_value,
                eff.alt_value,
                eff.delta,
                eff.uncertainty,
                spec_unit,
                eff.ood_reason if eff.ood else "",
            )
            items.append(edit)
            verdict = (
                "larger than its uncertainty, so the model expects a real change"
                if eff.exceeds
                else "within its uncertainty, so the model cannot tell it from no change"
            )
            yield (
                f"{_cap(key_label(key))}: {eff.description}: predicted {eff.ref_value:.2f} -> {eff.alt_value:.2f} "
                f"{spec_unit} (change {eff.delta:+.2f} ± {eff.uncertainty:.2f}: {verdict}"
                + (f"; averaged over {eff.replicates} random replacements" if eff.replicates > 1 else "")
                + ").\n"
            )
            if eff.ood:
                yield f"Caution: the edited sequence is unlike what I learned ({eff.ood_reason}).\n"
        return [], Evidence("variant", items)

    def _say_design(
        self, intent, max_mutations: int = 5
    ) -> Generator[str, None, tuple[list[Prediction], Evidence]]:
        seq, keys, low = intent.sequences[0], list(intent.keys), intent.message.lower()
        m = re.search(r"\b(\d{1,2}) (?:mutations?|substitutions?|changes?|bases?|edits?|steps?)\b", low)
        k = min(int(m.group(1)), 20) if m else max_mutations
        weaker = re.search(r"\b(weaker|lower|reduce|decrease|less active)\b", low)
        stronger = re.search(r"\b(stronger|higher|increase|boost|more active|better)\b", low)
        goal, against = ("weaker" if weaker and not stronger else "stronger"), None
        if intent.goal in ("stronger", "weaker"):  # the decoder planned the direction
            goal = intent.goal
        if (
            len(keys) == 2
            and re.search(r"\bweak\w* (in|for)\b", low)
            and re.search(r"\bstrong\w* (in|for)\b", low)
        ):
            weak_at = low.index("weak")

            def dist(key: str) -> int:  # how far after "weak" the key's system is named (words of its label)
                words = [w for w in re.findall(r"[a-z]+", key_label(key).lower()) if len(w) > 4]
                hits = [low.find(w, weak_at) for w in words if low.find(w, weak_at) >= 0]
                return min(hits) - weak_at if hits else 10**6

            down = min(keys, key=dist)
            keys, against, goal = [k_ for k_ in keys if k_ != down], down, "stronger"
        if against is None:  # every key asked for (both systems when none was named) gets its own design
            results = [(k_, self.design(seq, *T.split_key(k_), goal=goal, max_mutations=k)) for k_ in keys]
        else:
            against_key = T.split_key(against)
            results = [
                (
                    keys[0],
                    self.design(seq, *T.split_key(keys[0]), goal=goal, max_mutations=k, against=against_key),
                )
            ]
        kind = kind_of(keys[0])
        rel = promoter_rel if kind == "promoter" else terminator_rel
        items: list = []
        for key, r in results:
            start, best = r.start, r.best
            aim = f"{goal} for {key_label(key)}" + (f", weaker for {key_label(against)}" if against else "")
            yield f"Greedy in-silico evolution ({aim}; at most {k} substitutions):\n"
            steps = []
            for st in r.steps[1:]:
                label = st.mutations[-1]
                pos = int(label[1:-1]) - 1
                vals = ", ".join(f"{v:.2f} ± {st.stds[kk]:.2f}" for kk, v in st.values.items())
                steps.append(f"{label[0]}{rel(pos, len(seq)):+d}{label[-1]} (base {pos + 1}): {vals}")
                yield f"- {steps[-1]}" + (" [unlike the training sequences]" if st.ood else "") + "\n"
            items.append(
                Design(
                    aim,
                    k,
                    tuple(steps),
                    start.values[key],
                    best.values[key],
                    best.sequence,
                    r.stopped,
                    best.ood_reason if best.ood else "",
                )
            )
            changes = "; ".join(
                f"{key_label(kk)} {start.values[kk]:.2f} -> {v:.2f} ({v - start.values[kk]:+.2f})"
                for kk, v in best.values.items()
            )
            yield (
                f"With {len(best.mutations)} substitution(s): {changes}"
                + (f"; {r.stopped}" if r.stopped else "")
                + ".\n"
            )
            if best.mutations:
                yield f"Designed sequence: {best.sequence}\n"
            if best.ood:
                yield f"Caution: the design drifted away from the training sequences ({best.ood_reason}).\n"
        yield "These are the model's predictions for untested sequences: measure them before relying on them."
        return [], Evidence("design", items)

    def _general(self, messages: list[dict]) -> tuple[str, str | None]:
        """A question without DNA: what the measured library says about the elements it names ("what does a TATA
        box do?") and the facts it asks for (units, training data, GC content, the poly(A) signal;
        :mod:`agrochat.domain.facts`), else the help text; with the facts' notes for the writer (None: the text
        itself). The decoder does not answer general questions from its own knowledge: the numbers and facts
        agrochat gives come from measurements and their sources, never from the decoder's free text."""
        words = str(messages[-1]["content"])
        seqs = DNA_RUN.findall(words)
        counted = composition(seqs) if seqs and asks_composition(DNA_RUN.sub(" ", words)) else []
        elements = [d for d in (describe_element(n, self.effects) for n in element_mentions(words)) if d]
        facts = [f for f in facts_for(words) if not (elements and f is POLYA)]
        if not counted and not elements and not facts:
            return HELP_TEXT, None
        said = [f"{c[0].upper()}{c[1:]}." for c in counted]
        text = " ".join(said + elements + [f.text for f in facts])
        return text, "; ".join(counted + elements + [f.note for f in facts]) if facts or counted else None


HELP_TEXT = (
    "I predict how strongly a plant promoter or terminator (about 170 bp) drives expression, with an "
    "uncertainty: paste the sequence into your message and name the assay (tobacco leaves or maize leaf "
    "protoplasts) or a maize or sorghum tissue. I can also compare sequences, rank the tissues a gene is "
    "expressed in, and explain which bases and known motifs drive a prediction."
)


@dataclass(frozen=True)
class Turn:
    """What a turn computed and who worded it: ``written_by`` is ``decoder`` (the writer's answer passed the
    check), or ``template`` (no writer, or its answer failed: ``problems`` says why)."""

    predictions: list[Prediction]
    evidence: Evidence
    written_by: str
    problems: tuple[str, ...] = ()


def _predictions_of(turn: TextStream) -> Generator[str, None, list[Prediction]]:
    yield from turn
    return turn.result.predictions


def _question(messages: list[dict]) -> str:
    """The last user turn as the writer reads it: its sequences as [sequence 1], [sequence 2], ..."""
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        return ""
    count = iter(range(1, 1000))
    return DNA_RUN.sub(lambda _: f"[sequence {next(count)}]", str(users[-1].get("content") or "")).strip()


def _value_of(p: Prediction) -> NumericValue:
    return NumericValue(p.key, p.value, p.uncertainty, p.ood, p.ood_reason)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def ood_note(reason: str) -> str:
    """What a prediction's text adds when its sequence is out of the training distribution."""
    return f" [caution: unlike the training sequences: {reason}; interval doubled]"


def extract_dna(question: str, dna=None) -> tuple[str, list[str]]:
    """Replace DNA pasted into a question by ``<dna>`` and return (question, sequences)."""
    seqs = [dna] if isinstance(dna, str) else list(dna or [])
    if not seqs:
        found = DNA_RUN.findall(question)
        seqs = found
        question = DNA_RUN.sub("<dna>", question)
    if "<dna>" not in question:
        question = question.rstrip() + " " + " ".join(["<dna>"] * len(seqs))
    if question.count("<dna>") != len(seqs):
        raise InputError(
            f"the question has {question.count('<dna>')} <dna> placeholder(s) but "
            f"{len(seqs)} sequence(s) were given"
        )
    return question, seqs


def _normalize(seq: str, where: str) -> str:
    from agrochat.bridge import DnaSequenceError

    try:
        return normalize_dna(seq)
    except DnaSequenceError as e:
        raise DnaSequenceError(f"{where}: {e}") from None


def _looks_like_path(s: str) -> bool:
    if "\n" in s or len(s) > 4096:
        return False
    if s.endswith((".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".gz")):
        return True
    try:
        return Path(s).is_file()
    except OSError:  # a sequence longer than a file name may be
        return False


__all__ = ["Assistant", "DEFAULT_MODEL_DIR", "extract_dna", "plot_mutagenesis"]

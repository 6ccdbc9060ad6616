"""``Assistant``: calibrated predictions with grounded explanations, mutagenesis, and chat.

Numbers come from the regression head at a ``<num>`` slot. ``predict`` uses a fixed prompt per task key (the fast
path, one forward per batch); ``ask`` asks the same prompt through generation with the same forced answer prefix,
so the number in its text equals ``predict`` for the same sequence and task. Explanations are built from the
motif annotator's findings in that sequence and the published average effects, never invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from agrochat.bridge import DnaLanguageModel, normalize_dna
from agrochat.bridge.io import CONFIG_NAME, CheckpointError
from agrochat.data_gen import tasks as T
from agrochat.data_gen.effects import load_effects
from agrochat.data_gen.errors import UnknownTaskError
from agrochat.data_gen.explain import explain as explain_annotation
from agrochat.data_gen.motifs import annotate, promoter_rel, terminator_rel
from agrochat.data_gen.registry import Registry, load_registry
from agrochat.data_gen.templates import canonical_prompt

from .dialogue import DNA_RUN as _DNA_RUN
from .dialogue import Intent, Resolver, key_label
from .fasta import iter_fasta
from .prediction import Answer, Mutagenesis, Prediction

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
BASES = "ACGT"


class Assistant:
    def __init__(self, model: DnaLanguageModel, registry: Registry, effects=None) -> None:
        self.model = model.eval()
        self.registry = registry
        self.effects = effects if effects is not None else load_effects()

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> Assistant:
        """Load a checkpoint (default: the model shipped in the package)."""
        path = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if not (path / CONFIG_NAME).is_file():
            raise CheckpointError(f"{path} is not an agrochat model (no {CONFIG_NAME})")
        model = DnaLanguageModel.from_pretrained(path)
        reg = path / "registry.json"
        return cls(model, load_registry(reg if reg.is_file() else None))

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
            raise UnknownTaskError(
                f"{e.args[0]}. This model answers for: {', '.join(self.known_keys)}"
            ) from None
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
    ) -> Iterator[Prediction]:
        """Stream predictions batch by batch (bounded memory for large FASTA files)."""
        key = self.resolve(task, tissue)
        question, prefix = canonical_prompt(key)
        batch: list[tuple[str, str]] = []
        for rid, seq in self.records(sequences):
            batch.append((rid, self._fits(seq, rid)))  # records() has normalised it
            if len(batch) == batch_size:
                yield from self._score(batch, key, question, prefix, explanations)
                batch = []
        if batch:
            yield from self._score(batch, key, question, prefix, explanations)

    def predict(
        self,
        sequences,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        batch_size: int = 32,
        explanations: bool = True,
    ) -> list[Prediction]:
        """Fast path: one forward pass per batch, no sampling. Accepts str, list of str, or a FASTA path."""
        return list(self.iter_predict(sequences, task, tissue, batch_size, explanations))

    def _score(self, batch, key, question, prefix, explanations) -> list[Prediction]:
        if self.model.config.numeric != "head":
            raise ValueError(
                "this is a numeric=text (digits) comparison model: it has no regression head, so no "
                "predict/explain; use ask() or chat() and read the digits it writes"
            )
        msgs = [{"role": "user", "content": question}]
        values = self.model.score([(msgs, [seq], prefix) for _, seq in batch], [key] * len(batch))
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
            text=spec.format_value(value, std) + (ood_note(v.ood_reason) if v.ood else ""),
            explanation=expl,
            motifs=motifs,
            ood=v.ood,
            ood_reason=v.ood_reason,
        )

    # ---- in-silico mutagenesis -------------------------------------------------------------------------------
    def explain(
        self,
        sequence: str,
        task: str = "promoter_strength",
        tissue: str | None = "leaf",
        window: int = 10,
        top: int = 3,
        batch_size: int = 64,
        plot: str | Path | None = None,
    ) -> Mutagenesis:
        """Effect of every single-base substitution (batched, one forward per batch of mutants), the ``top``
        windows with the largest effects, and the annotated motifs they overlap. ``plot``: write a PNG."""
        key = self.resolve(task, tissue)
        base = self.predict(sequence, task, tissue)[0]
        seq = base.sequence
        mutants, where = [], []
        for i, ref in enumerate(seq):
            for j, b in enumerate(BASES):
                if b != ref:
                    mutants.append(seq[:i] + b + seq[i + 1 :])
                    where.append((i, j))
        question, prefix = canonical_prompt(key)
        msgs = [{"role": "user", "content": question}]
        effects = np.zeros((len(seq), 4))
        for s in range(0, len(mutants), batch_size):
            chunk = mutants[s : s + batch_size]
            vals = self.model.score([(msgs, [m], prefix) for m in chunk], [key] * len(chunk))
            for (i, j), v in zip(where[s : s + batch_size], vals, strict=True):
                effects[i, j] = v.value - base.value
        n_alt = np.array([3 if c in BASES else 4 for c in seq])[:, None]
        per_base = effects.sum(1) / n_alt[:, 0]  # (L,)
        rel = terminator_rel if key.startswith(T.TERMINATOR) else promoter_rel
        windows = _top_windows(np.abs(effects).sum(1) / n_alt[:, 0], window, top, base.motifs, len(seq), rel)
        base.attribution = per_base
        result = Mutagenesis(base, effects, per_base, windows)
        if plot is not None:
            result.plot_path = str(plot_mutagenesis(result, plot))
        return result

    # ---- conversation ----------------------------------------------------------------------------------------
    def plan(self, messages: list[dict], dna=None) -> Intent:
        """What the last user turn of ``messages`` asks for (operation, key of every number, sequences, or a
        refusal), read from the whole conversation; see :mod:`agrochat.chat.dialogue`."""
        return Resolver(self.known_keys).resolve(messages, dna)

    def ask(
        self,
        question: str,
        dna=None,
        task: str | None = None,
        tissue: str | None = None,
        stream: bool = False,
        explanation: bool = True,
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
                raise ValueError(
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
        explanation: bool = True,
    ):
        """Multi-turn chat over ``messages`` (system, user and assistant turns; DNA pasted in user turns or given
        as ``dna`` for the last one). The operation and the key of every number are read from the conversation
        (:meth:`plan`); numbers come from the regression head and equal :meth:`predict` for the same sequence and
        key; unknown species, systems or tissues get a refusal with no number. Returns an :class:`Answer`, or
        text pieces with ``stream=True``."""
        if not messages or messages[-1].get("role") != "user":
            raise ValueError("chat() needs a list of messages ending with a user message")
        content = str(messages[-1]["content"])
        if "<dna>" in content:  # explicit placeholders: exactly one sequence each (pasted or dna=...)
            _, seqs = extract_dna(content, dna)
            for seq in seqs:
                content = content.replace("<dna>", seq, 1)
            messages, dna = [*messages[:-1], {**messages[-1], "content": content}], None
        intent = self.plan(messages, dna)
        checked = tuple(
            _normalize(s, label) for s, label in zip(intent.sequences, intent.labels, strict=True)
        )
        intent = replace(intent, sequences=checked)
        return self._run(intent, messages, stream, explanation, max_new_tokens)

    def _run(
        self, intent: Intent, messages: list[dict], stream: bool, explanation: bool, max_new_tokens: int
    ):
        for seq, label in zip(intent.sequences, intent.labels, strict=True):
            self._fits(seq, label)  # every input error before the first piece
        preds: list[Prediction] = []
        pieces = self._pieces(intent, messages, explanation, max_new_tokens, preds)
        if stream:
            return pieces
        text = "".join(pieces)
        return Answer(
            text=text, predictions=preds, key=intent.keys[0] if intent.keys else None, intent=intent
        )

    def _pieces(self, intent, messages, explanation, max_new_tokens, preds: list) -> Iterator[str]:
        op = intent.op
        if op == "predict":
            yield from self._say_predictions(intent, messages, explanation, max_new_tokens, preds)
        elif op == "compare":
            yield from self._say_comparison(intent, preds)
        elif op == "rank":
            yield from self._say_ranking(intent, preds)
        elif op == "explain":
            yield from self._say_explanation(intent, preds)
        elif op == "general":
            yield self._general(messages, max_new_tokens)
        elif op in ("greet", "help"):
            yield HELP_TEXT
        else:  # refuse, clarify, need_dna, variant, design: the resolver's message, no number
            yield intent.message

    def _decoder_turn(self, messages: list[dict]) -> list[dict]:
        """The conversation as the decoder reads it: system message and the last user turn, DNA as ``<dna>``
        (one placeholder, the sequence in focus)."""
        system = [
            {"role": "system", "content": m["content"]} for m in messages[:1] if m.get("role") == "system"
        ]
        first, *rest = _DNA_RUN.sub("<dna>", str(messages[-1]["content"])).split("<dna>")
        last = first + ("<dna>" + "".join(rest) if rest else "")
        if "<dna>" not in last:
            last = "<dna>\n" + last
        return system + [{"role": "user", "content": last}]

    def _say_predictions(self, intent, messages, explanation, max_new_tokens, preds) -> Iterator[str]:
        # the decoder reads the real turn; a head that reads the decoder state (readout token) gets the fixed
        # question of the fast path instead, so its number still equals predict()
        reads_h = self.model.numeric_head.reads_h
        multi = len(intent.sequences) > 1
        for n, (seq, key, label) in enumerate(zip(intent.sequences, intent.keys, intent.labels, strict=True)):
            if multi:
                yield f"{'' if n == 0 else chr(10)}{_cap(label)}, {key_label(key)}: "
            question, prefix = canonical_prompt(key)
            convo = [{"role": "user", "content": question}] if reads_h else self._decoder_turn(messages)
            values: list = []
            yield from self.model.stream(
                convo,
                [seq],
                num_keys=[key],
                answer_prefix=prefix,
                values=values,
                max_new_tokens=max_new_tokens,
                formatter=lambda k, v, s: self.registry.get(k).format_value(v, s),
            )
            if not values:  # a numeric=text comparison model wrote digits: nothing calibrated to attach
                continue
            v = values[0]
            pred = self._prediction(label.replace(" ", ""), seq, key, v, explanation and n == 0)
            preds.append(pred)
            if v.ood:
                yield f"\nCaution: this sequence is unlike what I learned ({v.ood_reason}), so I doubled the interval."
            if explanation and pred.explanation:
                yield f"\nWhat the sequence shows: {pred.explanation}"

    def _values(self, intent) -> list[Prediction]:
        """Fast-path predictions for every (sequence, key) pair of ``intent``."""
        out = []
        for seq, key, label in zip(intent.sequences, intent.keys, intent.labels, strict=True):
            out += self._score([(label.replace(" ", ""), seq)], key, *canonical_prompt(key), False)
        return out

    def _say_comparison(self, intent, preds) -> Iterator[str]:
        got = self._values(intent)
        preds += got
        for key in dict.fromkeys(intent.keys):
            rows = [
                (p, label) for p, label, k in zip(got, intent.labels, intent.keys, strict=True) if k == key
            ]
            spec = self.registry.get(key)
            lines = [f"{label}: {spec.format_value(p.value, p.uncertainty)}" for p, label in rows]
            yield f"{_cap(key_label(key))}:\n" + "\n".join(f"- {x}" for x in lines) + "\n"
            best = max(rows, key=lambda r: r[0].value)
            for p, label in rows:
                if p is best[0]:
                    continue
                diff = best[0].value - p.value
                comb = float(np.hypot(best[0].uncertainty, p.uncertainty))
                verdict = (
                    "larger than the combined uncertainty, so the difference is likely real"
                    if diff > comb
                    else "within the combined uncertainty, so I cannot tell them apart with confidence"
                )
                yield (
                    f"{best[1].capitalize()} is higher than {label} by {diff:.2f} {spec.unit} "
                    f"(combined uncertainty ±{comb:.2f}: {verdict}).\n"
                )
            if any(p.ood for p, _ in rows):
                yield "Caution: at least one sequence is unlike what I learned; its interval was doubled.\n"

    def _say_ranking(self, intent, preds, top: int = 5) -> Iterator[str]:
        seq = intent.sequences[0]
        keys = list(intent.keys)
        values = self.model.score(
            [
                ([{"role": "user", "content": canonical_prompt(k)[0]}], [seq], canonical_prompt(k)[1])
                for k in keys
            ],
            keys,
        )
        got = [
            self._prediction(intent.labels[0].replace(" ", ""), seq, k, v, False)
            for k, v in zip(keys, values, strict=True)
        ]
        preds += got
        order = sorted(got, key=lambda p: p.value, reverse=True)
        species = T.split_key(keys[0])[1].split(":", 1)[0]
        spec = self.registry.get(keys[0])
        yield (
            f"Predicted expression of this {species} gene in the {len(keys)} tissues I know "
            f"({spec.unit}); highest first:\n"
        )
        for p in order[:top]:
            yield f"- {T.split_key(p.key)[1].split(':', 1)[1]}: {p.value:.2f} ± {p.uncertainty:.2f}\n"
        low = order[-1]
        yield f"Lowest: {T.split_key(low.key)[1].split(':', 1)[1]} ({low.value:.2f} ± {low.uncertainty:.2f})."
        spread = order[0].value - low.value
        typical = float(np.median([p.uncertainty for p in order]))
        if spread < typical:
            yield " The spread between tissues is smaller than a typical uncertainty, so the ranking is weak."

    def _say_explanation(self, intent, preds, top: int = 3) -> Iterator[str]:
        seq, key = intent.sequences[0], intent.keys[0]
        task, tissue = T.split_key(key)
        res = self.explain(seq, task, tissue, top=top)
        preds.append(res.prediction)
        yield f"For {key_label(key)} I predict {res.prediction.text}.\n"
        if res.prediction.explanation:
            yield f"What the sequence shows: {res.prediction.explanation}\n"
        yield "Where single-base changes move the prediction most (in-silico mutagenesis):\n"
        for w in res.windows:
            motifs = ", ".join(w["motifs"]) or "no annotated motif"
            yield f"- bases {w['start'] + 1}-{w['end']} (position {w['rel_start']:+d}): effect {w['score']:.3f}; {motifs}\n"

    def _general(self, messages: list[dict], max_new_tokens: int) -> str:
        """A short decoder answer to a question without DNA; sentences with digits are dropped (a number never
        comes from the decoder's text), and an empty answer becomes the help text."""
        history = [
            {"role": m["role"], "content": _DNA_RUN.sub("(a sequence)", str(m["content"]))}
            for m in messages
            if m.get("role") in ("system", "user", "assistant")
        ]
        text = "".join(self.model.stream(history, [], max_new_tokens=max_new_tokens * 2))
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s and not re.search(r"\d", s)]
        kept = " ".join(sentences).strip()
        if not kept or "<num>" in kept or "<dna>" in kept:
            return HELP_TEXT
        return (
            kept + "\n(General knowledge from the language model, not a measurement. "
            "Paste a sequence for a prediction.)"
        )


HELP_TEXT = (
    "I predict how strongly a plant promoter or terminator (about 170 bp) drives expression, with an "
    "uncertainty: paste the sequence into your message and name the assay (tobacco leaves or maize leaf "
    "protoplasts) or a maize or sorghum tissue. I can also compare sequences, rank the tissues a gene is "
    "expressed in, and explain which bases and known motifs drive a prediction."
)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def ood_note(reason: str) -> str:
    """What a prediction's text adds when its sequence is out of the training distribution."""
    return f" [caution: unlike the training sequences: {reason}; interval doubled]"


def extract_dna(question: str, dna=None) -> tuple[str, list[str]]:
    """Replace DNA pasted into a question by ``<dna>`` and return (question, sequences)."""
    seqs = [dna] if isinstance(dna, str) else list(dna or [])
    if not seqs:
        found = _DNA_RUN.findall(question)
        seqs = found
        question = _DNA_RUN.sub("<dna>", question)
    if "<dna>" not in question:
        question = question.rstrip() + " " + " ".join(["<dna>"] * len(seqs))
    if question.count("<dna>") != len(seqs):
        raise ValueError(
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
    return s.endswith((".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".gz")) or Path(s).is_file()


def _top_windows(
    importance: np.ndarray, window: int, top: int, motifs: list[dict], length: int, rel=promoter_rel
) -> list[dict]:
    """Greedy non-overlapping windows with the largest summed importance; ``rel_start`` in the annotator's
    coordinates (relative to the TSS for promoters, to the cleavage site for terminators)."""
    window = min(window, length)
    scores = np.convolve(importance, np.ones(window), mode="valid")  # (L - w + 1,)
    taken = np.zeros(length, dtype=bool)
    out = []
    for start in np.argsort(-scores):
        if len(out) == top:
            break
        s, e = int(start), int(start) + window
        if taken[s:e].any():
            continue
        taken[s:e] = True
        hits = [m["name"] for m in motifs if m["start"] < e and m["end"] > s]
        out.append(
            {"start": s, "end": e, "rel_start": rel(s, length), "score": float(scores[start]), "motifs": hits}
        )
    return out


def plot_mutagenesis(result: Mutagenesis, path: str | Path) -> Path:
    """Effect track (mean change per position) with annotated motifs shaded; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    per = result.per_base
    fig, ax = plt.subplots(figsize=(max(8, len(per) / 12), 3.2))
    ax.bar(np.arange(len(per)), -per, color=np.where(per < 0, "#2a7f62", "#b5452f"), width=1.0)
    for m in result.prediction.motifs:
        ax.axvspan(m["start"] - 0.5, m["end"] - 0.5, color="#f2c14e", alpha=0.3)
        ax.text((m["start"] + m["end"]) / 2, ax.get_ylim()[1] * 0.9, m["name"], ha="center", fontsize=7)
    for w in result.windows:
        ax.axvspan(w["start"] - 0.5, w["end"] - 0.5, fill=False, edgecolor="black", linestyle="--")
    ax.set_xlabel("position (0-based index in the sequence)")
    ax.set_ylabel("importance\n(-mean Δ on mutation)")
    ax.set_title(f"{result.prediction.key}: {result.prediction.text}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["Assistant", "DEFAULT_MODEL_DIR", "extract_dna", "plot_mutagenesis"]

"""``Assistant``: calibrated predictions with grounded explanations, mutagenesis, and chat.

Numbers come from the regression head at a ``<num>`` slot. ``predict`` uses a fixed prompt per task key (the fast
path, one forward per batch); ``ask`` asks the same prompt through generation with the same forced answer prefix,
so the number in its text equals ``predict`` for the same sequence and task. Explanations are built from the
motif annotator's findings in that sequence and the published average effects, never invented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict
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
from agrochat.data_gen.templates import SYSTEM_NAMES, canonical_prompt

from .fasta import iter_fasta
from .prediction import Answer, Mutagenesis, Prediction

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
BASES = "ACGT"
_DNA_RUN = re.compile(r"(?<![A-Za-z])[ACGTUNacgtun]{20,}(?![A-Za-z])")
_ORGANS = ("root", "flower", "seed", "stem", "fruit", "pollen", "anther", "embryo", "endosperm", "silk", "ear",
           "tassel", "shoot", "meristem", "internode", "pericarp", "inflorescence", "seedling", "petal")


class Assistant:
    def __init__(self, model: DnaLanguageModel, registry: Registry, effects=None) -> None:
        self.model = model.eval()
        self.registry = registry
        self.effects = effects if effects is not None else load_effects()
        self._last: tuple[str, str] | None = None  # (sequence, key) of the last answer, for follow-ups

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
            raise UnknownTaskError(f"{e.args[0]}. This model answers for: {', '.join(self.known_keys)}") from None
        if key not in self.known_keys:
            raise UnknownTaskError(f"this model was not trained on {key!r}; it answers for: {', '.join(self.known_keys)}")
        return key

    def intent(self, question: str) -> str:
        """Task key a free-text question asks about (tissue words it does not know are refused)."""
        q = question.lower()
        task = T.TERMINATOR if "terminator" in q else T.SYNTHETIC if "synthetic" in q else T.PROMOTER
        best: tuple[int, str] | None = None
        for key in self.known_keys:
            k_task, tissue = T.split_key(key)
            if k_task == T.TISSUE:
                names = [tissue.split(":", 1)[1].lower()]
            elif k_task == task and tissue in SYSTEM_NAMES:
                names = [n.lower() for n in SYSTEM_NAMES[tissue]] + [tissue, "tobacco" if tissue == "leaf" else "maize"]
            else:
                continue
            for n in names:
                if n in q and (best is None or len(n) > best[0]):
                    best = (len(n), key)
        if best is not None:
            return best[1]
        organ = next((w for w in _ORGANS if re.search(rf"\b{w}s?\b", q)), None)
        if organ:
            raise UnknownTaskError(f"this model was not trained on {organ!r} for {task}; it answers for: "
                                   f"{', '.join(self.known_keys)}")
        return self.resolve(task, "leaf")

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
    def iter_predict(self, sequences, task: str = "promoter_strength", tissue: str | None = "leaf",
                     batch_size: int = 32, explanations: bool = True) -> Iterator[Prediction]:
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

    def predict(self, sequences, task: str = "promoter_strength", tissue: str | None = "leaf",
                batch_size: int = 32, explanations: bool = True) -> list[Prediction]:
        """Fast path: one forward pass per batch, no sampling. Accepts str, list of str, or a FASTA path."""
        return list(self.iter_predict(sequences, task, tissue, batch_size, explanations))

    def _score(self, batch, key, question, prefix, explanations) -> list[Prediction]:
        if self.model.config.numeric != "head":
            raise ValueError("this is a numeric=text (digits) comparison model: it has no regression head, so no "
                             "predict/explain; use ask() or chat() and read the digits it writes")
        msgs = [{"role": "user", "content": question}]
        values = self.model.score([(msgs, [seq], prefix) for _, seq in batch], [key] * len(batch))
        return [self._prediction(rid, seq, key, v, explanations) for (rid, seq), v in zip(batch, values, strict=True)]

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
            id=rid, sequence=seq, key=key, value=value, uncertainty=std, unit=spec.unit,
            percentile=spec.percentile(value), level=spec.level(value),
            text=spec.format_value(value, std) + (ood_note(v.ood_reason) if v.ood else ""),
            explanation=expl, motifs=motifs, ood=v.ood, ood_reason=v.ood_reason,
        )

    # ---- in-silico mutagenesis -------------------------------------------------------------------------------
    def explain(self, sequence: str, task: str = "promoter_strength", tissue: str | None = "leaf",
                window: int = 10, top: int = 3, batch_size: int = 64, plot: str | Path | None = None) -> Mutagenesis:
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
    def ask(self, question: str, dna=None, task: str | None = None, tissue: str | None = None,
            stream: bool = False, explanation: bool = True, max_new_tokens: int = 32):
        """Answer a question about one or more sequences (given as ``dna`` or pasted into the question).

        Returns an :class:`Answer`, or an iterator of text pieces with ``stream=True``."""
        pieces = self._ask_pieces(question, dna, task, tissue, explanation, max_new_tokens)
        if stream:
            return pieces
        text = "".join(pieces)
        return Answer(text=text, predictions=self._answer_predictions, key=self._answer_key)

    def _ask_pieces(self, question, dna, task, tissue, explanation, max_new_tokens) -> Iterator[str]:
        question, seqs = extract_dna(question, dna)
        key = self.resolve(task or "promoter_strength", tissue) if (task or tissue) else self.intent(question)
        spec = self.registry.get(key)
        self._answer_key, self._answer_predictions = key, []
        # validate everything before the first piece is produced
        seqs = [_normalize(s, f"sequence {i + 1}") for i, s in enumerate(seqs)]
        if not seqs:
            raise ValueError("the question refers to DNA but no sequence was given (paste it or pass dna=...)")
        return self._generate_pieces(seqs, key, spec, explanation, max_new_tokens)

    def _generate_pieces(self, seqs, key, spec, explanation, max_new_tokens) -> Iterator[str]:
        question, prefix = canonical_prompt(key)
        msgs = [{"role": "user", "content": question}]
        for n, seq in enumerate(seqs):
            if len(seqs) > 1:
                yield f"{'' if n == 0 else chr(10)}Sequence {n + 1}: "
            values: list = []
            yield from self.model.stream(
                msgs, [seq], num_keys=[key], answer_prefix=prefix, values=values, max_new_tokens=max_new_tokens,
                formatter=lambda k, v, s: self.registry.get(k).format_value(v, s),
            )
            self._last = (seq, key)
            if not values:  # a numeric=text comparison model wrote digits: nothing calibrated to attach
                continue
            v = values[0]
            pred = self._prediction(f"seq{n + 1}", seq, key, v, explanation)
            self._answer_predictions.append(pred)
            if v.ood:
                yield f"\nCaution: this sequence is unlike what I learned ({v.ood_reason}), so I doubled the interval."
            if explanation and pred.explanation:
                yield f"\nWhat the sequence shows: {pred.explanation}"

    def chat(self, messages: list[dict], dna=None, stream: bool = False, max_new_tokens: int = 96):
        """Multi-turn chat. A turn with DNA (pasted or ``dna``) is answered like :meth:`ask`; a follow-up such as
        "why?" explains the last sequence from its motif scan; anything else is answered by the decoder."""
        if not messages or messages[-1].get("role") != "user":
            raise ValueError("chat() needs a list of messages ending with a user message")
        last = messages[-1]["content"]
        has_dna = dna is not None or _DNA_RUN.search(last) or "<dna>" in last
        if has_dna:
            return self.ask(last, dna=dna, stream=stream, max_new_tokens=max_new_tokens)
        if self._last is not None and re.search(r"\b(why|explain|motif|feature|drive)", last.lower()):
            seq, key = self._last
            pred = self._score([("last", seq)], key, *canonical_prompt(key), True)[0]
            text = pred.explanation
            return iter([text]) if stream else Answer(text, [pred], key)
        if _ASKS_FOR_NUMBER.search(last):  # a measurement question without DNA: never let the decoder guess one
            text = ("I need the DNA sequence to answer that: paste it into your question (or /load a FASTA file "
                    "in the chat). Without a sequence I will not guess a number. I can predict: "
                    f"{', '.join(self.known_keys[:6])}{', ...' if len(self.known_keys) > 6 else ''}.")
            return iter([text]) if stream else Answer(text)
        history = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] in ("user", "assistant")]
        pieces = self.model.stream(history, [], max_new_tokens=max_new_tokens)
        return pieces if stream else Answer("".join(pieces))


def ood_note(reason: str) -> str:
    """What a prediction's text adds when its sequence is out of the training distribution."""
    return f" [caution: unlike the training sequences: {reason}; interval doubled]"


_ASKS_FOR_NUMBER = re.compile(r"\b(strong|strength|express|expression|activity|level|how (much|high|active))",
                              re.IGNORECASE)


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
        raise ValueError(f"the question has {question.count('<dna>')} <dna> placeholder(s) but "
                         f"{len(seqs)} sequence(s) were given")
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


def _top_windows(importance: np.ndarray, window: int, top: int, motifs: list[dict], length: int,
                 rel=promoter_rel) -> list[dict]:
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
        out.append({"start": s, "end": e, "rel_start": rel(s, length), "score": float(scores[start]),
                    "motifs": hits})
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

"""The decoder's writer: it reads the question and the evidence the model computed and writes the answer.

A LoRA adapter named ``write`` on the decoder's top layers (:mod:`agrochat.bridge.top_adapter`); the lower layers
run the base decoder, so training caches their output once (:mod:`agrochat.train.write`). The writer reads text
only: the user's question and the evidence lines (:meth:`agrochat.domain.evidence.Evidence.text`); every number it
may write is in them, and a checker holds each answer to them (:func:`agrochat.domain.evidence.check`).

Stored in a checkpoint's ``writer/`` folder: ``writer_config.json`` and the adapter in PEFT's layout (float16).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from agrochat.errors import CheckpointError, ConfigError

from . import top_adapter as top
from .top_adapter import TopLoraConfig

ADAPTER = "write"
CONFIG_FILE = "writer_config.json"
VOCABULARY_FILE = "vocabulary.txt"  # the words of its training answers, one per line
SYSTEM = "You are agrochat. Answer the question in plain words from the evidence only; copy numbers exactly."


@dataclass
class WriterConfig(TopLoraConfig):
    """The writer's top-layer adapter (:class:`~agrochat.bridge.top_adapter.TopLoraConfig`) and

    max_new_tokens: the longest answer it writes; max_prompt_tokens: longer prompts (long evidence) are cut from
    the evidence's end; dtype: a loaded writer writes with a plain copy of the decoder, its adapter merged into
    the weights, in this type: ``bfloat16`` (about twice as fast on a CPU as ``float32``, the same answers on the
    examples checked) or ``float32``. (int8 dynamic quantisation was 3x faster but broke the answers: the
    decoder's activation outliers.)
    """

    max_new_tokens: int = 200
    max_prompt_tokens: int = 768
    dtype: str = "bfloat16"
    candidates: int = 40
    """With an ``allowed`` test (:meth:`Writer.stream`): how many of the likeliest next tokens are tried, in
    order, before the answer ends."""
    no_repeat_ngram: int = 8
    """A token that would repeat a run of this many tokens already written is never chosen (0: off): greedy
    decoding of a small model otherwise loops on a sentence."""
    rewrites: int = 3
    """With a ``sound`` test (:meth:`Writer.stream`): how many times a sentence that fails it is written again."""
    draft: int = 8
    """Up to this many tokens are guessed ahead and checked in one pass of the decoder (0: off): the tokens that
    followed the last ``draft_match`` tokens where they occurred before, in the prompt or the answer (answers
    copy much of their evidence). A guess is kept only where it is the token the writer would have chosen, so the
    answer is the one written without guesses (up to rounding: a pass over several tokens may round a near tie
    the other way in ``bfloat16``)."""
    draft_match: int = 3
    """How many of the last tokens a guess matches (fewer where that many never occurred before)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_new_tokens < 1 or self.max_prompt_tokens < 16:
            raise ConfigError("max_new_tokens must be >= 1 and max_prompt_tokens >= 16")
        if self.candidates < 1 or self.no_repeat_ngram < 0 or self.rewrites < 0 or self.draft < 0:
            raise ConfigError("candidates must be >= 1, no_repeat_ngram, rewrites and draft >= 0")
        if self.draft_match < 1:
            raise ConfigError("draft_match must be >= 1")
        if self.dtype not in ("bfloat16", "float32"):
            raise ConfigError(f"dtype must be bfloat16 or float32, not {self.dtype!r}")


def prompt_messages(question: str, evidence: str) -> list[dict]:
    """What the writer reads: the question, then the evidence lines."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Question: {question.strip()}\n\nEvidence:\n{evidence.strip()}"},
    ]


class Writer:
    """The decoder (with its ``write`` adapter) and the model's text tokenizer; ``lm``: a compiled copy that writes
    instead (:meth:`compiled`), or None (the adapted decoder writes)."""

    def __init__(
        self,
        model,
        config: WriterConfig,
        adapter: bool = True,
        lm=None,
        vocabulary: frozenset[str] | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.adapter = adapter  # False: the base decoder writes (for measuring what the adapter adds)
        self.tokenizer = model.tokenizer
        self.lm = lm
        self.vocabulary = vocabulary  # the words of its training answers (the checker holds answers to them)

    @classmethod
    def build(cls, model, config: WriterConfig) -> Writer:
        top.add(model, ADAPTER, config)
        return cls(model, config)

    @classmethod
    def from_pretrained(cls, path: str | Path, model, compiled: bool = True) -> Writer:
        """The writer saved in ``path`` on ``model``'s decoder; ``compiled=False``: the adapter stays on the
        decoder (to train it further) instead of writing with a merged copy."""
        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise CheckpointError(f"{path} has no {CONFIG_FILE}")
        config = WriterConfig(**json.loads((path / CONFIG_FILE).read_text()))
        top.load(model, ADAPTER, path)
        vocab = path / VOCABULARY_FILE
        words = frozenset(vocab.read_text().split()) if vocab.is_file() else None
        writer = cls(model, config, vocabulary=words)
        return writer.compiled() if compiled else writer

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        top.save(self.model, ADAPTER, path, dtype=torch.float16)  # half the file; loaded back as float32
        (path / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=1))
        if self.vocabulary is not None:
            (path / VOCABULARY_FILE).write_text("\n".join(sorted(self.vocabulary)) + "\n")

    def without_adapter(self) -> Writer:
        writer = Writer(self.model, self.config, adapter=False, vocabulary=self.vocabulary)
        return writer.compiled() if self.lm is not None else writer

    def compiled(self) -> Writer:
        """The same writer writing with a plain copy of the decoder (adapter merged) in ``config.dtype``."""
        lm = top.merged_copy(self.model, ADAPTER if self.adapter else None)
        dtype = getattr(torch, self.config.dtype)
        return Writer(self.model, self.config, self.adapter, lm.to(dtype), self.vocabulary)

    # ---- tokens ----------------------------------------------------------------------------------------------
    def prompt_ids(self, question: str, evidence: str) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            prompt_messages(question, evidence), tokenize=False, add_generation_prompt=True
        )
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if (
            len(ids) > self.config.max_prompt_tokens
        ):  # keep the head (question) and the tail (generation prompt)
            keep = self.config.max_prompt_tokens
            ids = ids[: keep - 8] + ids[-8:]
        return ids

    def example(self, question: str, evidence: str, answer: str) -> tuple[list[int], list[int]]:
        """Token ids and labels (-100 on the prompt) of one training example; the answer ends with the end of turn."""
        prompt = self.prompt_ids(question, evidence)
        end = self.tokenizer.eos_token or ""
        answer_ids = self.tokenizer(answer.strip() + end, add_special_tokens=False)["input_ids"]
        return prompt + answer_ids, [-100] * len(prompt) + answer_ids

    # ---- writing ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def stream(
        self,
        question: str,
        evidence: str,
        allowed: Callable[[str], bool] | None = None,
        complete: Callable[[str], bool] | None = None,
        sound: Callable[[str], bool] | None = None,
    ) -> Iterator[str]:
        """The answer's text, a sentence at a time, as it is written (greedy decoding with a key-value cache).

        ``allowed(text)``: a test of the answer so far (:func:`agrochat.domain.evidence.guard`); each step keeps
        the likeliest of the top ``config.candidates`` tokens that passes it, and the answer ends when none does.
        ``complete(text)``: whether the answer may end here (:func:`agrochat.domain.evidence.complete`); while it
        is False the end of turn is passed over for the next likeliest token. ``sound(text)``: a test of the
        sentences so far (:func:`agrochat.domain.evidence.sound`), run as each sentence ends; a sentence that
        fails is written again from its start, its first token replaced by the next likeliest (at most
        ``config.rewrites`` times; then it is kept, and the checker judges the answer)."""
        prompt = self.prompt_ids(question, evidence)
        eos = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")} - {None}
        with self._decoder() as lm:
            out = lm(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)  # (1, T) in
            cache, logits = out.cache, out.logits[0, -1]
            # guessed tokens whose keys and values are in the cache past `new`, each with the logits after it
            ahead: list[tuple[int, torch.Tensor]] = []
            new: list[int] = []
            said = ""  # the text handed out: whole sentences that passed
            begin, begin_logits, tried, rewrites = 0, logits, set(), 0  # the sentence being written
            for _ in range(self.config.max_new_tokens * (1 + self.config.rewrites)):
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                done = complete is None or complete(text)
                held = eos | (tried if len(new) == begin else set())
                nxt = self._choose(logits, new, eos if done else set(), allowed, held)
                stop = nxt is None or nxt in eos or len(new) >= self.config.max_new_tokens
                ends = stop
                if not stop and len(new) > begin and text.rstrip()[-1:] in ".!?":
                    ends = self.tokenizer.decode([nxt])[:1].isspace()  # the next token starts a sentence
                if ends and len(new) > begin:
                    if sound is not None and not sound(text) and rewrites < self.config.rewrites:
                        tried.add(new[begin])  # write the sentence again, starting otherwise
                        rewrites += 1
                        cache.crop(begin - len(new) - len(ahead))  # drop the sentence's keys and values
                        del new[begin:]
                        ahead, logits = [], begin_logits
                        continue
                    if not text.endswith("\ufffd"):
                        yield text[len(said) :]
                        said = text
                    begin, begin_logits, tried, rewrites = len(new), logits, set(), 0
                if stop:
                    break
                new.append(nxt)
                if ahead and ahead[0][0] == nxt:  # guessed right: its pass is already done
                    logits = ahead.pop(0)[1]
                    continue
                if ahead:
                    cache.crop(-len(ahead))
                guess = _guess(prompt + new, self.config.draft_match, self.config.draft)
                out = lm(input_ids=torch.tensor([[nxt, *guess]]), cache=cache, use_cache=True)  # (1, 1 + G)
                cache, logits = out.cache, out.logits[0, 0]
                ahead = list(zip(guess, out.logits[0, 1:], strict=True))
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            if len(text) > len(said):
                yield text[len(said) :]

    def _choose(
        self,
        logits: torch.Tensor,
        new: list[int],
        eos: set[int],
        allowed: Callable[[str], bool] | None,
        held: set[int] = frozenset(),
    ) -> int | None:
        """The next token: the likeliest that repeats no ``no_repeat_ngram``-token run and whose text passes
        ``allowed``; None when none of the top ``candidates`` does. ``held``: tokens passed over here (the end of turn
        while the answer is not complete, the first tokens of a sentence already written and rejected), except
        those in ``eos``."""
        n = self.config.no_repeat_ngram
        banned = set(held) - eos
        if n and len(new) >= n:
            head = tuple(new[-(n - 1) :])
            banned |= {new[i + n - 1] for i in range(len(new) - n + 1) if tuple(new[i : i + n - 1]) == head}
        k = self.config.candidates if allowed is not None else len(banned) + 1
        for tok in torch.topk(logits, min(k, logits.shape[-1])).indices.tolist():
            if tok in banned:
                continue
            if tok in eos or allowed is None:
                return tok
            text = self.tokenizer.decode([*new, tok], skip_special_tokens=True)
            if text.endswith("\ufffd") or allowed(text):
                return tok
        return None

    @contextmanager
    def _decoder(self) -> Iterator:
        if self.lm is not None:
            yield self.lm
            return
        with top.active(self.model, ADAPTER if self.adapter else None) as dec:
            yield dec.get_base_model()

    def write(
        self,
        question: str,
        evidence: str,
        allowed: Callable[[str], bool] | None = None,
        complete: Callable[[str], bool] | None = None,
        sound: Callable[[str], bool] | None = None,
    ) -> str:
        return "".join(self.stream(question, evidence, allowed, complete, sound)).strip()


def _guess(ids: list[int], match: int, n: int) -> list[int]:
    """Up to ``n`` tokens that followed the latest earlier occurrence of the last ``match`` tokens of ``ids``
    (fewer tokens are matched where ``match`` find none); [] when nothing matches or ``n`` is 0."""
    if n == 0:
        return []
    for m in range(min(match, len(ids) - 1), 0, -1):
        tail = ids[-m:]
        for start in range(len(ids) - m - 1, -1, -1):
            if ids[start : start + m] == tail:
                return ids[start + m : start + m + n]
    return []

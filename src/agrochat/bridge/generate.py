"""Answer generation for :class:`~agrochat.bridge.model.DnaLanguageModel` (the network stays in ``model.py``).

One per-step function, :func:`next_token`, holds the decoding rules that streaming (:func:`stream`, one answer,
greedy or sampled, with an optional forced answer prefix) and batched generation (:func:`generate_batch`, greedy,
left-padded, one KV cache) share:

- tokens the decoder may never write are suppressed: ``<dna>`` always; with ``numeric=head`` every token with a
  digit, so each number in an answer comes from the numeric head through ``<num>`` (``numeric=text``: ``<num>``),
  and ``<num>`` too when the answer has no key to read a number for;
- no n-gram of the answer repeats (``no_repeat_ngram``; stops greedy loops);
- an answer that still owes ``<num>`` slots (``require_numbers``: one per key asked for) may not end yet;
- when the token budget left only just fits the owed slots, ``<num>`` is forced.

The first two are transformers' own logits processors; the others use two small :class:`LogitsProcessor` subclasses
here. Each ``<num>`` a row writes is filled from the numeric head by the same code in both paths
(:meth:`DnaLanguageModel.number_at`), then formatted by the caller's :data:`Formatter`.

Results come back as :class:`Generation` objects; :func:`stream` returns a :class:`TextStream`, an iterator of text
pieces whose ``result`` (the :class:`Generation`) is available once it is exhausted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import torch
from transformers import LogitsProcessor, NoRepeatNGramLogitsProcessor, SuppressTokensLogitsProcessor

from agrochat.errors import UnknownTaskError

from .decoder import NUM_TOKEN
from .model import NumericValue
from .ood import OodCheck

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from .config import ModelConfig
    from .model import DnaLanguageModel

Formatter = Callable[[NumericValue], str]
"""``value -> text`` written in place of a ``<num>`` slot (e.g. through the registry's
:meth:`~agrochat.domain.registry.TaskSpec.format_value`)."""

R = TypeVar("R")


def plain_formatter(decimals: int = 2) -> Formatter:
    """``value ± std`` with ``decimals`` decimals and no unit: the formatter used when the caller has no registry."""

    def fmt(v: NumericValue) -> str:
        return f"{v.value:.{decimals}f} ± {v.std:.{decimals}f}"

    return fmt


# ---- results -------------------------------------------------------------------------------------------------
@dataclass
class Generation:
    """One generated answer.

    ``text``: the answer, every ``<num>`` replaced by its formatted value; ``values``: those values, in order;
    ``held_open``: steps where ending the answer was the best token but numbers were still owed (see
    ``require_numbers``); ``forced``: ``<num>`` slots written because the token budget was about to run out."""

    text: str
    values: list[NumericValue] = field(default_factory=list)
    held_open: int = 0
    forced: int = 0


class TextStream(Iterator[str], Generic[R]):
    """Text pieces as they are produced; once the stream is exhausted, :attr:`result` holds what the producer
    returned (a :class:`Generation` for :func:`stream`).

    Wraps a generator that yields ``str`` and returns ``R``. ``result = yield from text_stream`` also works.
    :meth:`finish` drains the pieces left and returns the result."""

    def __init__(self, pieces: Generator[str, None, R]) -> None:
        self._pieces = pieces
        self._done = False
        self._result: R | None = None

    def __iter__(self) -> TextStream[R]:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration(self._result)
        try:
            return next(self._pieces)
        except StopIteration as stop:
            self._done, self._result = True, stop.value
            raise StopIteration(stop.value) from None

    @property
    def done(self) -> bool:
        """True once every piece has been produced."""
        return self._done

    @property
    def result(self) -> R:
        """What the producer returned; only once the stream is exhausted."""
        if not self._done:
            raise RuntimeError("the stream is not exhausted yet: iterate it to the end or call finish()")
        return self._result  # type: ignore[return-value]

    def finish(self) -> R:
        """Produce the remaining pieces (discarded) and return the result."""
        for _ in self:
            pass
        return self.result

    def close(self) -> None:
        """Stop the producer early; the result stays unavailable."""
        self._pieces.close()


GenerationStream = TextStream[Generation]


# ---- vocabulary facts ----------------------------------------------------------------------------------------
def stop_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """The tokens that end an answer: the tokenizer's EOS and ``<|im_end|>``."""
    return sorted({tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")})


_DIGITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> (vocabulary size, digit ids)


def digit_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Every token of ``tokenizer`` that contains a digit (cached per tokenizer and vocabulary size)."""
    try:
        size, ids = _DIGITS.get(tokenizer, (-1, []))
    except TypeError:  # a tokenizer that cannot be weakly referenced: no cache
        size, ids = -1, []
    if size != len(tokenizer):
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        ids = [i for i, t in enumerate(vocab) if t and any(c.isdigit() for c in t)]
        try:
            _DIGITS[tokenizer] = (len(tokenizer), ids)
        except TypeError:
            pass
    return ids


def numbers_needed(config: ModelConfig, num_keys: Sequence[str], require_numbers: bool) -> int:
    """How many ``<num>`` an answer must write before it may end (``require_numbers``; head models only)."""
    return len(num_keys) if require_numbers and config.numeric == "head" else 0


def answer_keys(config: ModelConfig, num_keys: Sequence[str] | None) -> list[str]:
    """The keys an answer's ``<num>`` slots read: ``num_keys``, or the only key of a one-key model."""
    keys = list(num_keys or [])
    if not keys and len(config.numeric_head.keys) == 1:
        keys = list(config.numeric_head.keys)
    return keys


def slot_key(keys: Sequence[str], n: int) -> str:
    """The task/tissue key of the ``n``-th ``<num>`` (0-based) of an answer: the ``n``-th key, the last one for
    every slot after it."""
    if not keys:
        raise UnknownTaskError("the answer has a <num> slot but no task/tissue key was given (num_keys)")
    return keys[min(n, len(keys) - 1)]


# ---- the decoding rules --------------------------------------------------------------------------------------
class BanInRowsLogitsProcessor(LogitsProcessor):
    """Forbid ``token_ids`` in the selected rows only (transformers' ``SuppressTokensLogitsProcessor`` bans them in
    every row). Holds an answer open (the end tokens, in rows that still owe ``<num>`` slots, like
    ``MinNewTokensLengthLogitsProcessor`` for numbers rather than tokens) and keeps ``<num>`` out of rows with no
    key to read a number for.

    ``rows``: (B,) bool, the rows the ban applies to."""

    def __init__(self, token_ids: Sequence[int], rows: torch.Tensor) -> None:
        self.token_ids = list(token_ids)
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        banned = torch.zeros_like(scores, dtype=torch.bool)  # (B, V)
        banned[:, self.token_ids] = True
        return scores.masked_fill(banned & self.rows[:, None], float("-inf"))  # (B, V)


class ForceTokenLogitsProcessor(LogitsProcessor):
    """Only ``token_id`` may come next in the selected rows. Its score is kept (0 where it was -inf, e.g. banned as
    a repeat), so greedy decoding and sampling both pick it.

    ``rows``: (B,) bool, the rows to force."""

    def __init__(self, token_id: int, rows: torch.Tensor) -> None:
        self.token_id = token_id
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        keep = scores[:, self.token_id]  # (B,)
        keep = torch.where(torch.isfinite(keep), keep, torch.zeros_like(keep))
        only = torch.full_like(scores, float("-inf"))  # (B, V)
        only[:, self.token_id] = keep
        return torch.where(self.rows[:, None], only, scores)  # (B, V)


@dataclass(frozen=True)
class DecodingRules:
    """What stays fixed during one generation: the tokens never written, the rows that may not write ``<num>``, the
    n-gram rule, the end tokens and ``<num>``. Build with :meth:`for_model`."""

    never: SuppressTokensLogitsProcessor
    no_number: BanInRowsLogitsProcessor
    no_repeat: NoRepeatNGramLogitsProcessor | None
    stop_ids: list[int]
    stop: torch.Tensor  # (S,) the end tokens, on the model's device
    num_id: int

    @classmethod
    def for_model(
        cls, model: DnaLanguageModel, row_keys: Sequence[Sequence[str]], no_repeat_ngram: int = 3
    ) -> DecodingRules:
        """The rules for ``model`` writing one answer per entry of ``row_keys`` (each row's keys, after
        :func:`answer_keys`): never ``<dna>``; with ``numeric=head`` never a digit (every number comes from the
        head through ``<num>``) and no ``<num>`` in a row without a key to read it for; with ``numeric=text`` never
        ``<num>``. ``no_repeat_ngram``: 0 turns the n-gram rule off."""
        tok = model.tokenizer
        never = [model.dna_token_id]
        never += [model.num_token_id] if model.config.numeric == "text" else digit_ids(tok)
        keyless = torch.tensor([not keys for keys in row_keys], device=model.device)  # (B,)
        stops = stop_ids(tok)
        return cls(
            never=SuppressTokensLogitsProcessor(never, device=model.device),
            no_number=BanInRowsLogitsProcessor([model.num_token_id], keyless),
            no_repeat=NoRepeatNGramLogitsProcessor(no_repeat_ngram) if no_repeat_ngram > 0 else None,
            stop_ids=stops,
            stop=torch.tensor(stops, device=model.device),
            num_id=model.num_token_id,
        )


@dataclass
class Step:
    """One decoding step of every row: the chosen ``tokens`` (B,), and where the rules changed the choice:
    ``held_open`` (B,) bool, ending was the best token while numbers were owed; ``forced`` (B,) bool, ``<num>`` was
    forced although it was not the best token."""

    tokens: torch.Tensor
    held_open: torch.Tensor
    forced: torch.Tensor


def next_token(
    scores: torch.Tensor,
    generated: torch.Tensor,
    owed: torch.Tensor,
    budget_left: int,
    rules: DecodingRules,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> Step:
    """Choose the next token of every row under the decoding rules (see the module docstring).

    ``scores``: (B, V) float logits at the last position; ``generated``: (B, t) the tokens each row has generated
    (the prompt and a forced prefix excluded); ``owed``: (B,) ``<num>`` slots each row must still write before it
    may end (0 for finished rows); ``budget_left``: tokens left in the budget, this one included. Greedy with
    ``temperature`` 0, else sampled from ``softmax(scores / temperature)`` with ``generator``."""
    scores = rules.never(generated, scores)  # (B, V)
    scores = rules.no_number(generated, scores)  # (B, V)
    if rules.no_repeat is not None:
        scores = rules.no_repeat(generated, scores)
    hold = owed > 0  # (B,)
    held = forced = torch.zeros_like(hold)
    if bool(hold.any()):
        held = hold & torch.isin(scores.argmax(-1), rules.stop)  # ending was the best token
        scores = BanInRowsLogitsProcessor(rules.stop_ids, hold)(generated, scores)
        force = owed >= budget_left  # (B,) the budget only just fits the numbers owed
        if bool(force.any()):
            forced = force & (scores.argmax(-1) != rules.num_id)
            scores = ForceTokenLogitsProcessor(rules.num_id, force)(generated, scores)
    if temperature > 0:
        probs = torch.softmax(scores / temperature, dim=-1)  # (B, V)
        tokens = torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0]  # (B,)
    else:
        tokens = scores.argmax(-1)  # (B,)
    return Step(tokens, held, forced)


# ---- one answer being written --------------------------------------------------------------------------------
class _Answer:
    """One answer being written (a row of a batch): the key of each ``<num>`` in turn, the numbers read so far,
    how often the rules changed it, and its text so far (``said``: the pieces streamed; ``segments``: token ids
    between the numbers and the formatted numbers, decoded at the end of a batch)."""

    def __init__(
        self, model: DnaLanguageModel, keys: Sequence[str], sequences: Sequence[str], need: int
    ) -> None:
        self.model, self.keys, self.sequences, self.need = model, list(keys), sequences, need
        self.values: list[NumericValue] = []
        self.held_open = 0
        self.forced = 0
        self.said: list[str] = []
        self.segments: list[list[int] | str] = [[]]
        self._checks: dict[str, OodCheck] = {}

    @property
    def owed(self) -> int:
        """``<num>`` slots still to write before the answer may end."""
        return max(self.need - len(self.values), 0)

    def count(self, step: Step, row: int) -> None:
        """Add where the rules changed row ``row`` of ``step``."""
        self.held_open += int(step.held_open[row])
        self.forced += int(step.forced[row])

    def _ood(self, key: str) -> OodCheck:
        """Whether the answer's DNA is unlike the training sequences of ``key`` (computed once per key)."""
        if key not in self._checks:
            self._checks[key] = self.model.ood_check(self.sequences, key)
        return self._checks[key]

    def read_number(
        self, hidden: torch.Tensor, embeds: torch.Tensor, dna_context: torch.Tensor
    ) -> NumericValue:
        """Fill the next ``<num>`` from the numeric head. ``hidden``: (1, D) decoder state at the slot; ``embeds``:
        (1, L, D) the prompt's embeddings; ``dna_context``: (1, L) bool, the DNA positions the head may read."""
        key = slot_key(self.keys, len(self.values))
        v = self.model.number_at(key, self.sequences, hidden, embeds, dna_context, lambda: self._ood(key))
        self.values.append(v)
        return v

    def say(self, piece: str) -> str:
        """Record a streamed piece and hand it back."""
        self.said.append(piece)
        return piece

    def decoded(self, tokenizer: PreTrainedTokenizerBase) -> str:
        """The text of ``segments``: token runs decoded, numbers as formatted."""
        return "".join(
            s if isinstance(s, str) else tokenizer.decode(s, skip_special_tokens=True) for s in self.segments
        )

    def result(self, text: str) -> Generation:
        """The finished answer, with ``text`` as its text."""
        return Generation(text, self.values, self.held_open, self.forced)


class _Pieces:
    """Decoded text of the tokens written since the last number, handed out as new pieces; a multi-byte character
    split over several tokens waits for its last token."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.pending: list[int] = []
        self.emitted = ""

    def add(self, token: int) -> str:
        """The new text once ``token`` is added ("" while a character is incomplete)."""
        self.pending.append(token)
        text = self.tokenizer.decode(self.pending, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # incomplete multi-byte character: wait for more tokens
            return ""
        piece, self.emitted = text[len(self.emitted) :], text
        return piece

    def flush(self) -> str | None:
        """The text not handed out yet, and start over; None when no token is pending."""
        if not self.pending:
            return None
        rest = self.tokenizer.decode(self.pending, skip_special_tokens=True)[len(self.emitted) :]
        self.pending, self.emitted = [], ""
        return rest


def _cache_kwargs(out: Mapping) -> dict:
    """The KV cache of a decoder output, under the keyword this transformers version expects."""
    return {"cache": out["cache"]} if "cache" in out else {"past_key_values": out["past_key_values"]}


# ---- streaming: one answer -----------------------------------------------------------------------------------
def stream(
    model: DnaLanguageModel,
    messages: list[dict],
    sequences: Sequence[str] = (),
    num_keys: Sequence[str] | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    formatter: Formatter | None = None,
    seed: int | None = None,
    answer_prefix: str = "",
    no_repeat_ngram: int = 3,
    require_numbers: bool = True,
    one_sentence: bool = False,
) -> GenerationStream:
    """The answer of ``model`` to ``messages`` (DNA ``sequences`` at their ``<dna>`` placeholders), piece by piece.

    When the decoder emits ``<num>``, the head's value for the slot's key (``num_keys`` in turn, the last for any
    later slot; a model with one key needs none) is de-normalised, written into the text by ``formatter``
    (default: :func:`plain_formatter`) and kept in the result's ``values``.

    ``answer_prefix`` forces the start of the answer (it may hold ``<num>`` slots, filled the same way); with the
    prefix the fast path uses, the number equals :meth:`DnaLanguageModel.score` exactly. A ``numeric=text`` model
    has no head: its prefix loses its ``<num>`` slots and the decoder writes the digits. ``temperature`` 0 is
    greedy, else sampling with ``seed``. ``no_repeat_ngram``, ``require_numbers`` (one ``<num>`` per key of
    ``num_keys`` before the answer may end): see :func:`next_token`. ``one_sentence``: once every number owed is
    said, the answer ends with its sentence (a decoder that goes on past the number writes nothing more).

    Returns a :class:`TextStream`: iterate it for the pieces; its ``result`` is the :class:`Generation` (text,
    values, held-open and forced counts). Nothing runs before the first piece is asked for."""
    return TextStream(
        _stream_pieces(
            model,
            messages,
            sequences,
            num_keys,
            max_new_tokens,
            temperature,
            formatter,
            seed,
            answer_prefix,
            no_repeat_ngram,
            require_numbers,
            one_sentence,
        )
    )


def generate(
    model: DnaLanguageModel, messages: list[dict], sequences: Sequence[str] = (), **kwargs
) -> Generation:
    """The whole answer of :func:`stream` (same arguments) as one :class:`Generation`."""
    return stream(model, messages, sequences, **kwargs).finish()


@torch.no_grad()
def _stream_pieces(
    model: DnaLanguageModel,
    messages: list[dict],
    sequences: Sequence[str],
    num_keys: Sequence[str] | None,
    max_new_tokens: int,
    temperature: float,
    formatter: Formatter | None,
    seed: int | None,
    answer_prefix: str,
    no_repeat_ngram: int,
    require_numbers: bool,
    one_sentence: bool = False,
) -> Generator[str, None, Generation]:
    """The producer behind :func:`stream`: yields the pieces, returns the :class:`Generation`."""
    if model.config.numeric == "text":
        answer_prefix = answer_prefix.replace(NUM_TOKEN, "")
    ex = model.processor.encode(messages, sequences, answer_prefix=answer_prefix)
    ids = torch.tensor([ex.input_ids], device=model.device)  # (1, L)
    batch = model.processor.collate([ex])
    dna = batch.get("dna_input_ids")
    embeds = model.embed(  # (1, L, D)
        ids,
        dna.to(model.device) if dna is not None else None,
        batch["dna_attention_mask"].to(model.device) if dna is not None else None,
    )
    gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
    keys = answer_keys(model.config, num_keys)
    answer = _Answer(model, keys, sequences, numbers_needed(model.config, num_keys or [], require_numbers))
    rules = DecodingRules.for_model(model, [keys], no_repeat_ngram)
    fmt = formatter or plain_formatter(model.config.text_decimals)
    dna_mask = ids == model.dna_token_id  # (1, L)
    attn = torch.ones_like(ids)  # (1, L)
    out = model.decoder(inputs_embeds=embeds, attention_mask=attn, use_cache=True, output_hidden_states=True)
    if answer_prefix:  # the forced prefix: its text, with every <num> filled from the prompt pass
        # the prefix's tokens, tokenised on their own as the processor appends them
        prefix_ids = model.tokenizer(answer_prefix, add_special_tokens=False)["input_ids"]
        start = ids.shape[1] - len(prefix_ids)
        text_ids: list[int] = []
        for j, tok in enumerate(prefix_ids):
            if tok != rules.num_id:
                text_ids.append(tok)
                continue
            if text_ids:
                yield answer.say(model.tokenizer.decode(text_ids, skip_special_tokens=True))
                text_ids = []
            at = start + j  # the slot's position in the prompt; its head reads the DNA before it
            before = torch.arange(ids.shape[1], device=ids.device)[None] < at  # (1, L)
            v = answer.read_number(out.hidden_states[-1][:, at], embeds, dna_mask & before)
            yield answer.say(fmt(v))
        if text_ids:
            yield answer.say(model.tokenizer.decode(text_ids, skip_special_tokens=True))
    pieces = _Pieces(model.tokenizer)
    generated = ids.new_zeros((1, 0))  # (1, t)
    for step in range(max_new_tokens):
        owed = torch.tensor([answer.owed], device=ids.device)  # (1,)
        choice = next_token(
            out.logits[:, -1].float(), generated, owed, max_new_tokens - step, rules, temperature, gen
        )
        answer.count(choice, 0)
        nxt = int(choice.tokens[0])
        if nxt in rules.stop_ids:
            break
        generated = torch.cat([generated, generated.new_full((1, 1), nxt)], dim=1)  # (1, t + 1)
        attn = torch.cat([attn, attn.new_ones(1, 1)], dim=1)  # (1, L + t + 1)
        out = model.decoder(
            input_ids=torch.tensor([[nxt]], device=ids.device),
            attention_mask=attn,
            use_cache=True,
            output_hidden_states=True,
            **_cache_kwargs(out),
        )
        if nxt == rules.num_id:  # the head reads the decoder state at the <num> and all of the prompt's DNA
            v = answer.read_number(out.hidden_states[-1][:, -1], embeds, dna_mask)
            piece = pieces.flush()
            if piece is not None:
                yield answer.say(piece)
            yield answer.say(fmt(v))
            continue
        piece = pieces.add(nxt)
        if piece and one_sentence and answer.owed == 0:
            end = min((piece.find(c) for c in ".!?\n" if c in piece), default=-1)
            if end >= 0:  # the sentence that carries the last number is complete: the answer ends here
                yield answer.say(piece[: end + (piece[end] != "\n")])
                pieces = _Pieces(model.tokenizer)
                break
        if piece:
            yield answer.say(piece)
    rest = pieces.flush()
    if rest:
        yield answer.say(rest)
    return answer.result("".join(answer.said))


# ---- batched: many answers at once ---------------------------------------------------------------------------
@torch.no_grad()
def generate_batch(
    model: DnaLanguageModel,
    prompts: Sequence[tuple[list[dict], Sequence[str]]],
    num_keys: Sequence[Sequence[str]],
    max_new_tokens: int = 64,
    formatter: Formatter | None = None,
    no_repeat_ngram: int = 3,
    require_numbers: bool = True,
) -> list[Generation]:
    """Greedy answers to a batch of ``(messages, sequences)`` prompts at once (left-padded, one KV cache): the
    rules of :func:`stream` with ``temperature=0`` and no prefix, at batch throughput. ``num_keys[i]``: the key of
    each ``<num>`` prompt ``i``'s answer may write (with ``require_numbers``, must write before it may end)."""
    exs = [model.processor.encode(m, s, answer_prefix="") for m, s in prompts]
    batch = {k: v.to(model.device) for k, v in model.processor.collate(exs).items()}
    ids, mask = batch["input_ids"], batch["attention_mask"]  # (B, L) right-padded
    embeds = model.embed(ids, batch.get("dna_input_ids"), batch.get("dna_attention_mask"))  # (B, L, D)
    lengths = mask.sum(1)  # (B,)
    B, L = ids.shape
    shift = (L - lengths).tolist()
    left = torch.stack([torch.roll(embeds[b], shift[b], dims=0) for b in range(B)])  # (B, L, D) left-padded
    lmask = torch.stack([torch.roll(mask[b], shift[b]) for b in range(B)])  # (B, L)
    pos = (lmask.cumsum(1) - 1).clamp(min=0)  # (B, L)
    out = model.decoder(inputs_embeds=left, attention_mask=lmask, position_ids=pos, use_cache=True)
    row_keys = [answer_keys(model.config, keys) for keys in num_keys]
    rules = DecodingRules.for_model(model, row_keys, no_repeat_ngram)
    fmt = formatter or plain_formatter(model.config.text_decimals)
    rows = [
        _Answer(model, row, seqs, numbers_needed(model.config, keys, require_numbers))
        for (_, seqs), keys, row in zip(prompts, num_keys, row_keys, strict=True)
    ]
    done = torch.zeros(B, dtype=torch.bool, device=model.device)  # (B,)
    generated = ids.new_zeros((B, 0))  # (B, t); finished rows get padding
    for step in range(max_new_tokens):
        owed = torch.tensor(  # (B,)
            [0 if d else row.owed for row, d in zip(rows, done.tolist(), strict=True)], device=ids.device
        )
        choice = next_token(out.logits[:, -1].float(), generated, owed, max_new_tokens - step, rules)
        for b, row in enumerate(rows):
            row.count(choice, b)
        nxt = choice.tokens  # (B,)
        done |= torch.isin(nxt, rules.stop)
        if bool(done.all()):
            break
        nxt = nxt.masked_fill(done, model.tokenizer.pad_token_id)
        generated = torch.cat([generated, nxt[:, None]], dim=1)  # (B, t + 1)
        lmask = torch.cat([lmask, (~done).long()[:, None]], dim=1)  # (B, L + t + 1)
        pos = pos[:, -1:] + 1  # (B, 1)
        out = model.decoder(
            input_ids=nxt[:, None],
            attention_mask=lmask,
            position_ids=pos,
            use_cache=True,
            output_hidden_states=bool((nxt == rules.num_id).any()),
            **_cache_kwargs(out),
        )
        for b in (nxt == rules.num_id).nonzero().flatten().tolist():  # rows that wrote <num>
            n = int(lengths[b])  # the row's prompt, without padding
            hidden = out.hidden_states[-1][b, -1][None]  # (1, D)
            v = rows[b].read_number(hidden, embeds[b, :n][None], (ids[b, :n] == model.dna_token_id)[None])
            rows[b].segments += [fmt(v), []]
        for b in (~done & (nxt != rules.num_id)).nonzero().flatten().tolist():
            rows[b].segments[-1].append(int(nxt[b]))  # type: ignore[union-attr]
    return [row.result(row.decoded(model.tokenizer)) for row in rows]


__all__ = [
    "DecodingRules",
    "ForceTokenLogitsProcessor",
    "Formatter",
    "Generation",
    "GenerationStream",
    "BanInRowsLogitsProcessor",
    "Step",
    "answer_keys",
    "TextStream",
    "digit_ids",
    "generate",
    "generate_batch",
    "next_token",
    "numbers_needed",
    "plain_formatter",
    "slot_key",
    "stop_ids",
    "stream",
]

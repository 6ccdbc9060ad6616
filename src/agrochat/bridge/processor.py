"""Turns conversations with ``<dna>``/``<num>`` placeholders into padded model batches.

Each ``<dna>`` in a user message stands for one sequence (in order). It is expanded to as many ``<dna>`` tokens
as the projector emits for that sequence, so the model can fill them with a placeholder mask. Each ``<num>`` in
an assistant message is one number; in ``numeric=head`` mode it stays a token (the head reads the decoder state
there), in ``numeric=text`` mode it is replaced by the target written as digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from agrochat.errors import InputError, UnknownTaskError

from .config import ModelConfig
from .decoder import DNA_TOKEN, NUM_TOKEN
from .tokenizer import DnaSequenceError, normalize_dna, token_count

IGNORE = -100


class PlaceholderError(InputError):
    """The number of ``<dna>``/``<num>`` placeholders does not match the sequences/targets given."""


@dataclass
class Example:
    """One tokenised conversation, before padding."""

    input_ids: list[int]
    labels: list[int]
    dna_ids: list[list[int]]
    num_key_ids: list[int]
    num_targets: list[float]


class DnaChatProcessor:
    """Builds :class:`Example` s and collates them. ``output_length`` is the projector's length rule."""

    def __init__(self, tokenizer, dna_tokenizer, config: ModelConfig, output_length: Callable[[int], int]):
        self.tokenizer = tokenizer
        self.dna_tokenizer = dna_tokenizer
        self.config = config
        self.output_length = output_length
        self.dna_token_id = tokenizer.convert_tokens_to_ids(DNA_TOKEN)
        self.num_token_id = tokenizer.convert_tokens_to_ids(NUM_TOKEN)
        self.key_index = {k: i for i, k in enumerate(config.numeric_head.keys)}

    # ---- DNA -------------------------------------------------------------------------------------------------
    def dna_token_ids(self, seq: str) -> list[int]:
        """Encoder ids for one sequence (AgroNT: ``<cls>`` + 6-mers, with the encoder's overflow strategy;
        CNN: one id per base, any length)."""
        enc = self.config.encoder
        ids = self.dna_tokenizer.sequence_ids(seq)
        if enc.type == "agront" and len(ids) > enc.max_tokens:
            if enc.overflow == "truncate":
                ids = ids[: enc.max_tokens]
            elif enc.overflow == "error":
                raise self._too_long(len(normalize_dna(seq)), len(ids))
        return ids

    def check_fits(self, seq: str) -> None:
        """Raise the error :meth:`dna_token_ids` would for a normalised ``seq``, by the token-count formula
        (no tokenisation)."""
        enc = self.config.encoder
        if enc.type != "agront":
            return
        n = token_count(seq)
        if n > enc.max_tokens and enc.overflow == "error":
            raise self._too_long(len(seq), n)

    def _too_long(self, bp: int, n_tokens: int) -> DnaSequenceError:
        w = self.config.encoder.max_tokens
        return DnaSequenceError(
            f"sequence of {bp} bp gives {n_tokens} tokens, more than the encoder window of {w} "
            f"(~{(w - 1) * 6} bp); set encoder.overflow to 'truncate' or 'window'"
        )

    # ---- text ------------------------------------------------------------------------------------------------
    def _render(self, messages: list[dict], generation_prompt: bool) -> str:
        msgs = [{"role": "system", "content": self.config.system_prompt}] + list(messages)
        return self.tokenizer.apply_chat_template(
            msgs, tokenize=False, add_generation_prompt=generation_prompt
        )

    def _encode_text(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def format_number(self, value: float) -> str:
        return f"{value:.{self.config.text_decimals}f}"

    def encode(
        self,
        messages: Sequence[dict],
        sequences: Sequence[str] = (),
        targets: Sequence[float] | None = None,
        target_keys: Sequence[str] | None = None,
        answer_prefix: str | None = None,
    ) -> Example:
        """Tokenise one conversation.

        With ``answer_prefix`` the conversation is a prompt: a generation prompt is added and the prefix (the
        start of the assistant's answer, e.g. ending in ``<num>``) is appended; no labels are set.
        """
        n_dna = sum(m["content"].count(DNA_TOKEN) for m in messages)
        if n_dna != len(sequences):
            raise PlaceholderError(
                f"the conversation has {n_dna} {DNA_TOKEN} placeholder(s) but {len(sequences)} sequence(s)"
            )
        if any(m["role"] != "user" and DNA_TOKEN in m["content"] for m in messages):
            raise PlaceholderError(f"{DNA_TOKEN} may only appear in user messages")
        answer_nums = sum(m["content"].count(NUM_TOKEN) for m in messages if m["role"] == "assistant")
        answer_nums += (answer_prefix or "").count(NUM_TOKEN)
        targets = list(targets) if targets is not None else []
        target_keys = list(target_keys) if target_keys is not None else []
        if targets and len(targets) != answer_nums:
            raise PlaceholderError(
                f"the answers have {answer_nums} {NUM_TOKEN} slot(s) but {len(targets)} target(s)"
            )
        if target_keys and len(target_keys) != answer_nums:
            raise PlaceholderError(
                f"the answers have {answer_nums} {NUM_TOKEN} slot(s) but {len(target_keys)} target key(s)"
            )
        unknown = [k for k in target_keys if k not in self.key_index]
        if unknown:
            raise UnknownTaskError(
                f"unknown task/tissue key(s) {unknown}; this model knows {list(self.key_index)}"
            )

        dna_ids = [self.dna_token_ids(s) for s in sequences]
        it = iter(dna_ids)
        text_mode = self.config.numeric == "text"
        num_iter = iter(targets)
        expanded = []
        for m in messages:
            content = m["content"]
            if DNA_TOKEN in content:
                parts = content.split(DNA_TOKEN)
                content = parts[0] + "".join(
                    DNA_TOKEN * self.output_length(len(next(it))) + p for p in parts[1:]
                )
            if m["role"] == "assistant" and text_mode and NUM_TOKEN in content:
                parts = content.split(NUM_TOKEN)
                content = parts[0] + "".join(self.format_number(next(num_iter)) + p for p in parts[1:])
            expanded.append({"role": m["role"], "content": content})

        input_ids: list[int] = []
        labels: list[int] = []
        done = ""
        for i, m in enumerate(expanded):
            if m["role"] != "assistant":
                continue
            before = self._render(expanded[:i], generation_prompt=True)
            after = self._render(expanded[: i + 1], generation_prompt=False)
            if not before.startswith(done) or not after.startswith(before):
                raise ValueError("the chat template does not render conversations as growing prefixes")
            prompt_ids = self._encode_text(before[len(done) :])
            answer_ids = self._encode_text(after[len(before) :])
            input_ids += prompt_ids + answer_ids
            labels += [IGNORE] * len(prompt_ids) + answer_ids
            done = after
        if answer_prefix is not None or not done:
            # the prompt tail and the answer prefix are tokenised apart, as prompt and answer are in training
            prefix = (answer_prefix or "").replace(NUM_TOKEN, "") if text_mode else (answer_prefix or "")
            ids = self._encode_text(self._render(expanded, generation_prompt=True)[len(done) :])
            ids += self._encode_text(prefix) if prefix else []
            input_ids += ids
            labels += [IGNORE] * len(ids)

        norm = self.config.numeric_head
        num_targets = []
        for k, y in zip(target_keys, targets, strict=False):
            mean, std = norm.stats(k)
            num_targets.append((float(y) - mean) / std)
        return Example(
            input_ids=input_ids,
            labels=labels,
            dna_ids=dna_ids,
            num_key_ids=[self.key_index[k] for k in target_keys],
            num_targets=num_targets,
        )

    # ---- batching --------------------------------------------------------------------------------------------
    def pad_dna(self, seqs: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """AgroNT id lists -> (ids, mask), both (S, T) with T the longest sequence (never the window)."""
        T = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), T), self.dna_tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), T), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return ids, mask

    def collate(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        """Right-pad text to the longest example and DNA to the longest sequence (never to the window)."""
        L = max(len(e.input_ids) for e in examples)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(examples), L), pad, dtype=torch.long)
        labels = torch.full((len(examples), L), IGNORE, dtype=torch.long)
        attention = torch.zeros((len(examples), L), dtype=torch.long)
        for i, e in enumerate(examples):
            n = len(e.input_ids)
            input_ids[i, :n] = torch.tensor(e.input_ids)
            labels[i, :n] = torch.tensor(e.labels)
            attention[i, :n] = 1
        batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
        seqs = [ids for e in examples for ids in e.dna_ids]
        if seqs:
            batch["dna_input_ids"], batch["dna_attention_mask"] = self.pad_dna(seqs)
        keys = [k for e in examples for k in e.num_key_ids]
        if keys:
            batch["num_key_ids"] = torch.tensor(keys, dtype=torch.long)
        targets = [t for e in examples for t in e.num_targets]
        if targets:
            batch["num_targets"] = torch.tensor(targets, dtype=torch.float32)
        return batch

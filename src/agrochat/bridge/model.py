"""``DnaLanguageModel``: DNA encoder + projector + causal LM + numeric head.

Parts are passed in (see :func:`build_model` and :meth:`DnaLanguageModel.from_pretrained` for loading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .decoder import DNA_TOKEN, NUM_TOKEN
from .encoder import DnaEncoder
from .head import NumericHead, gaussian_nll
from .ood import OodCheck, OodReference
from .processor import IGNORE, DnaChatProcessor, PlaceholderError
from .projector import Projector


@dataclass
class ModelOutput:
    loss: torch.Tensor | None
    lm_loss: torch.Tensor | None
    num_loss: torch.Tensor | None
    logits: torch.Tensor
    num_mean: torch.Tensor | None = None  # (N,) normalised
    num_log_var: torch.Tensor | None = None  # (N,) normalised


@dataclass
class NumericValue:
    """A number written into an answer: de-normalised value and its standard deviation. ``ood``: the DNA it was
    read from is unlike the training sequences (see :mod:`agrochat.bridge.ood`); ``std`` is then widened by
    ``OOD_WIDEN``."""

    key: str
    value: float
    std: float
    ood: bool = False
    ood_reason: str = ""


OOD_WIDEN = 2.0


@dataclass
class Generation:
    text: str
    values: list[NumericValue] = field(default_factory=list)
    held_open: int = (
        0  # steps where the answer wanted to end before its requested numbers (see ``require_numbers``)
    )
    forced: int = (
        0  # <num> slots written because the token budget was about to run out (see :func:`_force_number`)
    )


Formatter = Callable[[str, float, float], str]


def _ban_repeats(logits: torch.Tensor, tokens: list[int], n: int) -> None:
    """Forbid the tokens that would repeat an n-gram already in ``tokens`` (logits: (V,), in place)."""
    if n <= 0 or len(tokens) < n - 1:
        return
    tail = tuple(tokens[len(tokens) - (n - 1) :]) if n > 1 else ()
    banned = {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n - 1]) == tail}
    if banned:
        logits[list(banned)] = float("-inf")


def _hold_open(logits: torch.Tensor, stop: list[int]) -> bool:
    """Forbid ending the answer (logits: (V,), in place). True when ending was the best token, i.e. the rule
    changed the answer."""
    best = int(logits.argmax())
    logits[stop] = float("-inf")
    return best in stop


def _force_number(logits: torch.Tensor, num_id: int) -> bool:
    """Only ``<num>`` may come next (logits: (V,), in place): the answer's last tokens are about to run out before
    the numbers it must write. True when ``<num>`` was not already the best token (the rule changed the answer)."""
    best = int(logits.argmax())
    keep = logits[num_id].clone()
    logits.fill_(float("-inf"))
    logits[num_id] = keep if torch.isfinite(keep) else 0.0
    return best != num_id


def _path_numbers(
    projector: Projector,
    head: NumericHead,
    h: torch.Tensor,
    hmask: torch.Tensor,
    n: list[int],
    key_ids: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (mean, log-variance) per prompt from encoder states h (S, T, H) of its ``n[b]`` sequences."""
    proj, pmask = projector(h, hmask)  # (S, T', D), (S, T')
    if max(n) == 1:
        ctx, cmask = proj, pmask.bool()  # (B, T', D), (B, T')
    else:  # a prompt with several sequences reads all of them: concatenate each prompt's rows
        rows = torch.repeat_interleave(torch.arange(len(n)), torch.tensor(n))  # (S,) prompt of each sequence
        width = max(int(pmask[rows == b].sum()) for b in range(len(n)))
        ctx = proj.new_zeros(len(n), width, proj.shape[-1])
        cmask = torch.zeros(len(n), width, dtype=torch.bool, device=proj.device)
        for b in range(len(n)):
            feats = proj[rows == b][pmask[rows == b].bool()]  # (t_b, D) in placeholder order
            ctx[b, : len(feats)], cmask[b, : len(feats)] = feats, True
    return head(None, key_ids, ctx, cmask)  # (B,), (B,)


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, T, H), (N, T) -> (N, H) mean over the unmasked positions."""
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1)


def _merge_checks(checks: list[OodCheck]) -> OodCheck:
    """One verdict for a prompt with several sequences (flagged when any is; reasons numbered)."""
    bad = [(i, c) for i, c in enumerate(checks) if c.ood]
    if not bad:
        return OodCheck(False)
    if len(checks) == 1:
        return bad[0][1]
    return OodCheck(True, "; ".join(f"sequence {i + 1}: {c.reason}" for i, c in bad))


def _cache_kwargs(out) -> dict:
    """The KV cache of a decoder output, under the keyword this transformers version expects."""
    return {"cache": out["cache"]} if "cache" in out else {"past_key_values": out["past_key_values"]}


class NumberPath(nn.Module):
    """An extra ensemble member: its own encoder, projector and numeric head (``readout: dna``)."""

    def __init__(self, encoder: DnaEncoder, projector: Projector, numeric_head: NumericHead) -> None:
        super().__init__()
        self.encoder, self.projector, self.numeric_head = encoder, projector, numeric_head


class DnaLanguageModel(nn.Module):
    def __init__(
        self,
        encoder: DnaEncoder,
        projector: Projector,
        decoder: nn.Module,
        numeric_head: NumericHead,
        config: ModelConfig,
        tokenizer=None,
        dna_tokenizer=None,
        ood: OodReference | None = None,
        members: Sequence[NumberPath] = (),
    ) -> None:
        super().__init__()
        self.ood = ood
        self.members = nn.ModuleList(members)  # ensemble members 2.. (config.ensemble - 1 of them)
        self.encoder = encoder
        self.projector = projector
        self.decoder = decoder
        self.numeric_head = numeric_head
        self.config = config
        self.tokenizer = tokenizer
        self.dna_tokenizer = dna_tokenizer
        self.processor = (
            DnaChatProcessor(tokenizer, dna_tokenizer, config, self.dna_positions)
            if tokenizer is not None and dna_tokenizer is not None
            else None
        )
        self.dna_token_id = tokenizer.convert_tokens_to_ids(DNA_TOKEN) if tokenizer is not None else None
        self.num_token_id = tokenizer.convert_tokens_to_ids(NUM_TOKEN) if tokenizer is not None else None

    # ---- embedding ---------------------------------------------------------------------------------------------
    def dna_positions(self, n_ids: int) -> int:
        """Decoder positions (``<dna>`` tokens) a sequence of ``n_ids`` encoder ids occupies."""
        return self.projector.output_length(self.encoder.output_length(n_ids))

    def encode_dna(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder + projector: ids, mask (S, T) -> decoder-space DNA embeddings (S, T', D) and their mask."""
        h, hmask = self.encoder(ids, mask)  # (S, T_enc, H_enc), (S, T_enc)
        return self.projector(h, hmask)  # (S, T', D), (S, T')

    def embed(
        self,
        input_ids: torch.Tensor,
        dna_input_ids: torch.Tensor | None = None,
        dna_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Text embeddings with every ``<dna>`` position replaced by projected DNA embeddings. (B, L, D)"""
        embeds = self.decoder.get_input_embeddings()(input_ids)  # (B, L, D)
        dna_mask = input_ids == self.dna_token_id  # (B, L)
        n_slots = int(dna_mask.sum())
        if dna_input_ids is None:
            if n_slots:
                raise PlaceholderError(f"{n_slots} {DNA_TOKEN} position(s) but no DNA sequences were given")
            return embeds
        proj, pmask = self.encode_dna(dna_input_ids, dna_attention_mask)  # (S, T', D), (S, T')
        feats = proj[pmask.bool()]  # (sum_s T'_s, D), sequences in placeholder order
        if feats.shape[0] != n_slots:
            raise PlaceholderError(
                f"{n_slots} {DNA_TOKEN} position(s) in the text but the projector produced {feats.shape[0]} "
                "embeddings; expand each placeholder with the processor"
            )
        return embeds.masked_scatter(dna_mask.unsqueeze(-1), feats.to(embeds.dtype))  # (B, L, D)

    # ---- training forward --------------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        dna_input_ids: torch.Tensor | None = None,
        dna_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_key_ids: torch.Tensor | None = None,
        num_targets: torch.Tensor | None = None,
    ) -> ModelOutput:
        embeds = self.embed(input_ids, dna_input_ids, dna_attention_mask)  # (B, L, D)
        out = self.decoder(  # without labels only the last position's logits are computed (no LM loss)
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            output_hidden_states=True,
            use_cache=False,
            logits_to_keep=0 if labels is not None else 1,
        )
        logits = out.logits  # (B, L, V), or (B, 1, V) without labels
        lm_loss = None
        if labels is not None and (labels[:, 1:] != IGNORE).any():
            lm_loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=IGNORE
            )
        num_mean = num_log_var = num_loss = None
        num_pos = input_ids == self.num_token_id  # (B, L)
        if self.config.numeric == "head" and num_key_ids is not None and num_pos.any():
            if int(num_pos.sum()) != num_key_ids.shape[0]:
                raise PlaceholderError(
                    f"{int(num_pos.sum())} {NUM_TOKEN} tokens but {num_key_ids.shape[0]} keys"
                )
            num_mean, num_log_var = self._read_numbers(
                out.hidden_states[-1], num_pos, embeds, input_ids, num_key_ids
            )  # (N,), (N,)
            if num_targets is not None:
                num_loss = gaussian_nll(num_mean, num_log_var, num_targets)
        parts = [
            x
            for x in (lm_loss, None if num_loss is None else self.config.num_loss_weight * num_loss)
            if x is not None
        ]
        loss = sum(parts) if parts else None
        return ModelOutput(loss, lm_loss, num_loss, logits, num_mean, num_log_var)

    # ---- numbers -----------------------------------------------------------------------------------------------
    def _read_numbers(
        self,
        hidden: torch.Tensor,
        num_pos: torch.Tensor,
        embeds: torch.Tensor,
        input_ids: torch.Tensor,
        key_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Head values at every ``<num>`` position (row-major order). hidden, embeds: (B, L, D); num_pos: (B, L)."""
        rows, cols = num_pos.nonzero(as_tuple=True)  # (N,), (N,)
        before = torch.arange(embeds.shape[1], device=embeds.device)[None] < cols[:, None]  # (N, L)
        ctx_mask = (input_ids[rows] == self.dna_token_id) & before  # (N, L) DNA positions before each <num>
        return self._head(hidden[rows, cols], key_ids, embeds, ctx_mask, rows)

    def _head(
        self,
        h: torch.Tensor,
        key_ids: torch.Tensor,
        embeds: torch.Tensor,
        ctx_mask: torch.Tensor,
        ctx_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The numeric head on decoder states ``h`` (N, D), given the prompt embeddings it may read when its
        readout reads DNA: ``embeds`` (N or B, L, D), ``ctx_mask`` (N, L), ``ctx_rows`` (N,) as in the head."""
        if not self.numeric_head.reads_dna:
            return self.numeric_head(h, key_ids)
        return self.numeric_head(h, key_ids, embeds, ctx_mask, ctx_rows=ctx_rows)

    def denormalize(self, key: str, mean: float, log_var: float) -> NumericValue:
        m, s = self.config.numeric_head.stats(key)
        return NumericValue(key, mean * s + m, float(torch.tensor(log_var).exp().sqrt()) * s)

    def format_value(self, v: NumericValue) -> str:
        unit = self.config.numeric_head.units.get(v.key, "")
        d = self.config.text_decimals
        return f"{v.value:.{d}f} ± {v.std:.{d}f}" + (f" {unit}" if unit else "")

    def _key_ids(self, keys: Sequence[str]) -> torch.Tensor:
        known = self.config.numeric_head.keys
        bad = [k for k in keys if k not in known]
        if bad:
            raise KeyError(f"unknown task/tissue key(s) {bad}; this model knows {known}")
        return torch.tensor([known.index(k) for k in keys], dtype=torch.long, device=self.device)

    @property
    def reads_dna_only(self) -> bool:
        """readout=dna: every number is the fast path's (:meth:`score`) for the prompt's DNA and the slot's key."""
        return self.config.numeric == "head" and self.config.numeric_head.readout == "dna"

    @property
    def device(self) -> torch.device:
        return next(self.numeric_head.parameters()).device

    @torch.no_grad()
    def score(
        self, prompts: Sequence[tuple[list[dict], list[str], str]], keys: Sequence[str]
    ) -> list[NumericValue]:
        """Fast path: one forward pass over a batch of prompts, no sampling.

        Each prompt is ``(messages, sequences, answer_prefix)`` where the prefix ends in ``<num>``; ``keys`` gives
        the task/tissue key of each prompt. Returns one value per prompt.
        """
        if self.config.numeric != "head":
            raise NotImplementedError("the fast path needs numeric=head; numeric=text models must generate")
        examples = []
        for messages, seqs, prefix in prompts:
            if not prefix.rstrip().endswith(NUM_TOKEN) or prefix.count(NUM_TOKEN) != 1:
                raise PlaceholderError(f"the answer prefix must end with exactly one {NUM_TOKEN}: {prefix!r}")
            if (
                self.config.numeric_head.readout == "dna"
            ):  # the placeholder check of the full path, minus the text
                n_dna = sum(m["content"].count(DNA_TOKEN) for m in messages)
                if n_dna != len(seqs):
                    raise PlaceholderError(
                        f"the conversation has {n_dna} {DNA_TOKEN} placeholder(s) but {len(seqs)} sequence(s)"
                    )
            else:
                examples.append(self.processor.encode(messages, seqs, answer_prefix=prefix))
        if self.config.numeric_head.readout == "dna":
            return self._score_dna_only([seqs for _, seqs, _ in prompts], keys)
        batch = {k: v.to(self.device) for k, v in self.processor.collate(examples).items()}
        embeds = self.embed(batch["input_ids"], batch.get("dna_input_ids"), batch.get("dna_attention_mask"))
        out = self.decoder(
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"],
            output_hidden_states=True,
            use_cache=False,
            logits_to_keep=1,
        )
        num_pos = batch["input_ids"] == self.num_token_id  # (B, L), one per row
        mean, log_var = self._read_numbers(
            out.hidden_states[-1], num_pos, embeds, batch["input_ids"], self._key_ids(keys)
        )
        return [
            self.flag(self.denormalize(k, float(m), float(lv)), self.ood_check(seqs, k))
            for k, m, lv, (_, seqs, _) in zip(keys, mean, log_var, prompts, strict=True)
        ]

    def _score_dna_only(self, sequences: Sequence[Sequence[str]], keys: Sequence[str]) -> list[NumericValue]:
        """readout=dna: the head reads only the projected DNA of the prompt, so the decoder pass is skipped.
        Equals the value at ``<num>`` in a full pass (same features, same attention over the same positions)."""
        per_prompt = [[self.processor.dna_token_ids(s) for s in seqs] for seqs in sequences]
        ids, mask = self.processor.pad_dna([t for p in per_prompt for t in p])  # (S, T)
        ids, mask = ids.to(self.device), mask.to(self.device)
        n = [len(p) for p in per_prompt]
        key_ids = self._key_ids(keys)
        h, hmask = self.encoder(ids, mask)  # (S, T_enc, H_enc), (S, T_enc)
        mean, log_var = _path_numbers(self.projector, self.numeric_head, h, hmask, n, key_ids)  # (B,), (B,)
        if len(self.members):  # ensemble: mean of the members, variance = mean variance + spread of the means
            means, variances = [mean], [log_var.exp()]
            for mem in self.members:
                mh, mm = mem.encoder(ids, mask)
                m_i, lv_i = _path_numbers(mem.projector, mem.numeric_head, mh, mm, n, key_ids)
                means.append(m_i)
                variances.append(lv_i.exp())
            stacked = torch.stack(means)  # (K, B)
            mean = stacked.mean(0)
            log_var = (torch.stack(variances).mean(0) + stacked.var(0, unbiased=False)).log()
        values = [
            self.denormalize(k, float(m), float(lv)) for k, m, lv in zip(keys, mean, log_var, strict=True)
        ]
        if self.ood is None:
            return values
        pooled = _masked_mean(h, hmask).cpu().numpy()  # (S, H_enc)
        per_seq = [s for seqs in sequences for s in seqs]
        out, i = [], 0
        for v, k, m in zip(values, keys, n, strict=True):
            checks = [self.ood.check(per_seq[j], k, pooled[j]) for j in range(i, i + m)]
            out.append(self.flag(v, _merge_checks(checks)))
            i += m
        return out

    # ---- out-of-distribution -----------------------------------------------------------------------------------
    @torch.no_grad()
    def dna_features(self, sequences: Sequence[str]) -> torch.Tensor:
        """Mean-pooled encoder states of each sequence (N, H_enc): what the OOD reference compares."""
        ids, mask = self.processor.pad_dna([self.processor.dna_token_ids(s) for s in sequences])  # (N, T)
        h, hmask = self.encoder(ids.to(self.device), mask.to(self.device))
        return _masked_mean(h, hmask)  # (N, H_enc)

    def ood_check(self, sequences: Sequence[str], key: str) -> OodCheck:
        """Whether any of a prompt's sequences is unlike the training sequences of ``key``'s family."""
        if self.ood is None or not sequences:
            return OodCheck(False)
        feats = self.dna_features(sequences).cpu().numpy()
        return _merge_checks([self.ood.check(s, key, f) for s, f in zip(sequences, feats, strict=True)])

    @staticmethod
    def flag(v: NumericValue, check: OodCheck) -> NumericValue:
        """``v`` marked out-of-distribution with its interval widened by ``OOD_WIDEN``, when ``check`` says so."""
        if not check.ood:
            return v
        return NumericValue(v.key, v.value, v.std * OOD_WIDEN, True, check.reason)

    # ---- generation --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def stream(
        self,
        messages: list[dict],
        sequences: Sequence[str] = (),
        num_keys: Sequence[str] | None = None,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        formatter: Formatter | None = None,
        values: list[NumericValue] | None = None,
        seed: int | None = None,
        answer_prefix: str = "",
        no_repeat_ngram: int = 3,
        require_numbers: bool = True,
        held_open: list[int] | None = None,
        forced: list[int] | None = None,
    ) -> Iterator[str]:
        """Yield the answer text piece by piece. When the decoder emits ``<num>``, the head's value (for the next
        key of ``num_keys``) is de-normalised, formatted, written into the text and appended to ``values``.

        ``answer_prefix`` forces the start of the answer (it may hold ``<num>`` slots, filled the same way);
        with the prefix the fast path uses, the number equals :meth:`score` exactly. A ``numeric=text`` model
        has no head: its prefix loses its ``<num>`` slots and the decoder writes the digits. ``no_repeat_ngram``:
        a generated token may not repeat an n-gram of the answer (0: off), which stops greedy loops.
        ``require_numbers``: when ``num_keys`` is given, the answer may not end before it has written one ``<num>``
        per key (the question asked for those numbers; like ``min_new_tokens``, only the end tokens are masked);
        each step where ending was the best token is counted in ``held_open[0]`` when a list is passed. When the
        remaining token budget only just fits the numbers still owed, ``<num>`` is forced (counted in
        ``forced[0]``), so an answer that must write a number always does."""
        if self.config.numeric == "text":
            answer_prefix = answer_prefix.replace(NUM_TOKEN, "")
        ex = self.processor.encode(messages, sequences, answer_prefix=answer_prefix)
        ids = torch.tensor([ex.input_ids], device=self.device)
        batch = self.processor.collate([ex])
        dna = batch.get("dna_input_ids")
        embeds = self.embed(
            ids,
            dna.to(self.device) if dna is not None else None,
            batch["dna_attention_mask"].to(self.device) if dna is not None else None,
        )
        gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        keys = list(num_keys or [])
        need = self.numbers_needed(keys, require_numbers)
        if not keys and len(self.config.numeric_head.keys) == 1:
            keys = list(self.config.numeric_head.keys)
        stop = self._stop_ids()
        attn = torch.ones_like(ids)
        out = self.decoder(
            inputs_embeds=embeds, attention_mask=attn, use_cache=True, output_hidden_states=True
        )
        fmt = formatter or (lambda k, x, s: self.format_value(NumericValue(k, x, s)))
        checks: dict[str, OodCheck] = {}

        def ood(key: str) -> OodCheck:  # computed once per key, at the first number
            if key not in checks:
                checks[key] = self.ood_check(sequences, key)
            return checks[key]

        n_num = 0
        if answer_prefix:  # the forced prefix: its text, with every <num> filled from the prompt pass
            prefix_ids = self._encode_prefix(answer_prefix)
            start = ids.shape[1] - len(prefix_ids)
            text_ids: list[int] = []
            for j, tok in enumerate(prefix_ids):
                if tok != self.num_token_id:
                    text_ids.append(tok)
                    continue
                if text_ids:
                    yield self.tokenizer.decode(text_ids, skip_special_tokens=True)
                    text_ids = []
                key = self._slot_key(keys, n_num)
                n_num += 1
                if self.reads_dna_only and sequences:
                    v = self._score_dna_only([list(sequences)], [key])[0]
                else:
                    pos = torch.zeros_like(ids, dtype=torch.bool)
                    pos[0, start + j] = True
                    m, lv = self._read_numbers(out.hidden_states[-1], pos, embeds, ids, self._key_ids([key]))
                    v = self.flag(self.denormalize(key, float(m), float(lv)), ood(key))
                if values is not None:
                    values.append(v)
                yield fmt(key, v.value, v.std)
            if text_ids:
                yield self.tokenizer.decode(text_ids, skip_special_tokens=True)
        pending: list[int] = []
        generated: list[int] = []
        emitted = ""
        for step in range(max_new_tokens):
            logits = out.logits[0, -1].float()  # (V,)
            self._mask_logits(logits)
            _ban_repeats(logits, generated, no_repeat_ngram)
            if n_num < need and _hold_open(logits, stop) and held_open is not None:
                held_open[0] += 1
            if (
                need - n_num >= max_new_tokens - step
                and _force_number(logits, self.num_token_id)
                and forced is not None
            ):
                forced[0] += 1
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = int(torch.multinomial(probs.cpu(), 1, generator=gen))
            else:
                nxt = int(logits.argmax())
            if nxt in stop:
                break
            generated.append(nxt)
            attn = torch.cat([attn, attn.new_ones(1, 1)], dim=1)
            out = self.decoder(
                input_ids=torch.tensor([[nxt]], device=self.device),
                attention_mask=attn,
                use_cache=True,
                output_hidden_states=True,
                **_cache_kwargs(out),
            )
            if nxt == self.num_token_id:
                key = self._slot_key(keys, n_num)
                n_num += 1
                if self.reads_dna_only and sequences:  # the number depends on the DNA and the key only
                    v = self._score_dna_only([list(sequences)], [key])[0]
                else:  # decoder state at the generated <num>; its DNA context is all of the prompt's
                    m, lv = self._head(
                        out.hidden_states[-1][:, -1], self._key_ids([key]), embeds, ids == self.dna_token_id
                    )
                    v = self.flag(self.denormalize(key, float(m), float(lv)), ood(key))
                if values is not None:
                    values.append(v)
                if pending:
                    piece = self.tokenizer.decode(pending, skip_special_tokens=True)[len(emitted) :]
                    pending, emitted = [], ""
                    yield piece
                yield fmt(key, v.value, v.std)
                continue
            pending.append(nxt)
            text = self.tokenizer.decode(pending, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # incomplete multi-byte character: wait for more tokens
                continue
            piece, emitted = text[len(emitted) :], text
            if piece:
                yield piece
        if pending:
            rest = self.tokenizer.decode(pending, skip_special_tokens=True)[len(emitted) :]
            if rest:
                yield rest

    def numbers_needed(self, num_keys: Sequence[str], require_numbers: bool) -> int:
        """How many ``<num>`` an answer must write before it may end (``require_numbers``; head models only)."""
        return len(num_keys) if require_numbers and self.config.numeric == "head" else 0

    def _stop_ids(self) -> list[int]:
        return sorted({self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")})

    def _mask_logits(self, logits: torch.Tensor) -> None:
        """Tokens the decoder may not write: ``<dna>`` never; with ``numeric=head`` no digits either, so every
        number in an answer comes from the head through ``<num>`` (``numeric=text``: never ``<num>``)."""
        logits[..., self.dna_token_id] = float("-inf")
        if self.config.numeric == "text":
            logits[..., self.num_token_id] = float("-inf")
        else:
            logits[..., self._digit_ids()] = float("-inf")

    def _digit_ids(self) -> torch.Tensor:
        if getattr(self, "_digits", None) is None:
            vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
            self._digits = torch.tensor(
                [i for i, t in enumerate(vocab) if t and any(c.isdigit() for c in t)],
                dtype=torch.long,
                device=self.device,
            )
        return self._digits

    @staticmethod
    def _slot_key(keys: list[str], n: int) -> str:
        if not keys:
            raise KeyError("the answer has a <num> slot but no task/tissue key was given (num_keys)")
        return keys[min(n, len(keys) - 1)]

    def _encode_prefix(self, prefix: str) -> list[int]:
        return self.processor._encode_text(prefix)

    @torch.no_grad()
    def generate_batch(
        self,
        prompts: Sequence[tuple[list[dict], Sequence[str]]],
        num_keys: Sequence[Sequence[str]],
        max_new_tokens: int = 64,
        formatter: Formatter | None = None,
        no_repeat_ngram: int = 3,
        require_numbers: bool = True,
    ) -> list[Generation]:
        """Greedy answers to a batch of prompts at once (left-padded, one KV cache): the same rules as
        :meth:`stream` with ``temperature=0`` and no prefix, at batch throughput. ``num_keys[i]``: the key of each
        ``<num>`` prompt ``i``'s answer may emit (with ``require_numbers``, must emit before it may end)."""
        exs = [self.processor.encode(m, s, answer_prefix="") for m, s in prompts]
        batch = {k: v.to(self.device) for k, v in self.processor.collate(exs).items()}
        ids, mask = batch["input_ids"], batch["attention_mask"]  # (B, L) right-padded
        embeds = self.embed(ids, batch.get("dna_input_ids"), batch.get("dna_attention_mask"))  # (B, L, D)
        lengths = mask.sum(1)  # (B,)
        B, L = ids.shape
        shift = (L - lengths).tolist()
        left = torch.stack(
            [torch.roll(embeds[b], shift[b], dims=0) for b in range(B)]
        )  # (B, L, D) left-padded
        lmask = torch.stack([torch.roll(mask[b], shift[b]) for b in range(B)])  # (B, L)
        pos = (lmask.cumsum(1) - 1).clamp(min=0)  # (B, L)
        out = self.decoder(inputs_embeds=left, attention_mask=lmask, position_ids=pos, use_cache=True)
        stop = self._stop_ids()
        need = [self.numbers_needed(k, require_numbers) for k in num_keys]
        held, forced = [0] * B, [0] * B
        fmt = formatter or (lambda k, x, sd: self.format_value(NumericValue(k, x, sd)))
        parts: list[list] = [[[]] for _ in range(B)]  # per row: token-id lists and formatted numbers
        values: list[list[NumericValue]] = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool, device=self.device)
        history: list[list[int]] = [[] for _ in range(B)]
        for step in range(max_new_tokens):
            logits = out.logits[:, -1].float()  # (B, V)
            self._mask_logits(logits)
            for b in range(B):
                _ban_repeats(logits[b], history[b], no_repeat_ngram)
                if not done[b] and len(values[b]) < need[b]:
                    held[b] += _hold_open(logits[b], stop)
                    if (
                        need[b] - len(values[b]) >= max_new_tokens - step
                    ):  # the budget only fits the numbers owed
                        forced[b] += _force_number(logits[b], self.num_token_id)
            nxt = logits.argmax(-1)  # (B,)
            done |= torch.tensor([int(t) in stop for t in nxt.tolist()], device=self.device)
            if bool(done.all()):
                break
            nxt = nxt.masked_fill(done, self.tokenizer.pad_token_id)
            for b in (~done).nonzero().flatten().tolist():
                history[b].append(int(nxt[b]))
            lmask = torch.cat([lmask, (~done).long()[:, None]], dim=1)  # (B, L + t)
            pos = pos[:, -1:] + 1
            out = self.decoder(
                input_ids=nxt[:, None],
                attention_mask=lmask,
                position_ids=pos,
                use_cache=True,
                output_hidden_states=bool((nxt == self.num_token_id).any()),
                **_cache_kwargs(out),
            )
            for b in (nxt == self.num_token_id).nonzero().flatten().tolist():  # rows that emitted <num>
                key = self._slot_key(list(num_keys[b]), len(values[b]))
                if self.reads_dna_only and prompts[b][1]:
                    v = self._score_dna_only([list(prompts[b][1])], [key])[0]
                else:
                    n = int(lengths[b])  # the row's prompt, without padding
                    m, lv = self._head(
                        out.hidden_states[-1][b, -1][None],
                        self._key_ids([key]),
                        embeds[b, :n][None],
                        (ids[b, :n] == self.dna_token_id)[None],
                    )
                    v = self.flag(
                        self.denormalize(key, float(m), float(lv)), self.ood_check(prompts[b][1], key)
                    )
                values[b].append(v)
                parts[b] += [fmt(key, v.value, v.std), []]
            for b in (~done & (nxt != self.num_token_id)).nonzero().flatten().tolist():
                parts[b][-1].append(int(nxt[b]))
        texts = [
            "".join(
                p if isinstance(p, str) else self.tokenizer.decode(p, skip_special_tokens=True) for p in row
            )
            for row in parts
        ]
        return [Generation(t, v, h, f) for t, v, h, f in zip(texts, values, held, forced, strict=True)]

    def generate_answer(self, messages: list[dict], sequences: Sequence[str] = (), **kwargs) -> Generation:
        values: list[NumericValue] = []
        held = [0]
        forced = [0]
        text = "".join(
            self.stream(messages, sequences, values=values, held_open=held, forced=forced, **kwargs)
        )
        return Generation(text=text, values=values, held_open=held[0], forced=forced[0])

    # ---- persistence -------------------------------------------------------------------------------------------
    def save_pretrained(self, path) -> None:
        from .io import save_model_dir

        save_model_dir(self, path)

    @classmethod
    def from_pretrained(cls, path, trainable: bool = False) -> DnaLanguageModel:
        from .io import load_model_dir

        return load_model_dir(path, trainable=trainable)

"""``DnaLanguageModel``: DNA encoder + projector + causal LM + numeric head.

Parts are passed in (see :func:`build_model` and :meth:`DnaLanguageModel.from_pretrained` for loading).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from agrochat.errors import ConfigError, UnknownTaskError

from .assembly import load_model
from .config import ModelConfig
from .decoder import DNA_TOKEN, NUM_TOKEN
from .encoder import DnaEncoder
from .fused import FusedCnn, FusedReadout
from .head import NumericHead, gaussian_nll
from .intervals import Z, interval
from .io import save_model_dir
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
# distinct sequences up to which the fast path fuses its number paths (faster up to 16 on 2 cores)
FUSE_MAX = 16


def _unwidened_std(v: NumericValue) -> float:
    """``v``'s standard deviation before any OOD widening."""
    return v.std / OOD_WIDEN if v.ood else v.std


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


def _combine(
    means: torch.Tensor, variances: torch.Tensor, answers: torch.Tensor, rule: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ensemble numbers: means, variances, answers (P, B) for P paths, ``answers`` marking the paths that answer
    each prompt's key -> the mean over those paths and its log-variance by ``rule`` (see
    ``ModelConfig.ensemble_variance``), each (B,)."""
    w = answers.to(means.dtype)  # (P, B)
    count = w.sum(0)  # (B,) >= 1: every key is answered by some path
    mean = (w * means).sum(0) / count  # (B,)
    spread = (w * (means - mean) ** 2).sum(0) / count  # (B,)
    mean_var = (w * variances).sum(0) / count  # (B,)
    if rule == "mixture":
        return mean, (mean_var + spread).log()
    return mean, torch.maximum(mean_var - spread, mean_var / count).log()  # ambiguity


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
        self._fused: dict[
            tuple[int, ...], FusedCnn | None
        ] = {}  # see _fused_states; dropped by train() and loading
        self._readouts: dict[tuple[int, ...], FusedReadout | None] = {}  # see _fused_numbers; the same
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
        s_out = s * self.config.std_scale.get(key, 1.0)  # calibrated on validation rows (agrochat calibrate)
        return NumericValue(key, mean * s + m, float(torch.tensor(log_var).exp().sqrt()) * s_out)

    def interval(self, v: NumericValue, level: float) -> tuple[float, float]:
        """(low, high) of the interval holding ``level`` (0.6827 or 0.95) of ``v``'s predictive distribution:
        ``value ± zσ``, or from the key's floor-aware distribution (``config.floor_intervals``). An OOD value's
        interval is widened by ``OOD_WIDEN`` (for a floor key: read at the unwidened σ, then extended by the
        same amount as a Gaussian one, so widening never moves mass onto the floor)."""
        fi = self.config.floor_intervals.get(v.key)
        if fi is None:
            return interval(v.value, v.std, level)
        base = _unwidened_std(v)
        lo, hi = interval(v.value, base, level, fi)
        if v.ood:
            extra = (OOD_WIDEN - 1.0) * Z[level] * base
            lo, hi = max(fi.floor, lo - extra), hi + extra
        return lo, hi

    def median(self, v: NumericValue) -> float:
        """The median of ``v``'s predictive distribution: its mean, except for a key with a floor, where the point
        mass pulls the median below the mean (to the floor when it holds half or more)."""
        fi = self.config.floor_intervals.get(v.key)
        if fi is None:
            return v.value
        return float(fi.median([v.value], [_unwidened_std(v)])[0])

    def p_floor(self, v: NumericValue) -> float | None:
        """Probability that the measurement is at the key's floor (None: the key has no floor)."""
        fi = self.config.floor_intervals.get(v.key)
        if fi is None:
            return None
        return float(fi.p_floor([v.value], [_unwidened_std(v)])[0])

    def number_at(
        self,
        key: str,
        sequences: Sequence[str],
        hidden: torch.Tensor,
        embeds: torch.Tensor,
        dna_context: torch.Tensor,
        check: Callable[[], OodCheck],
    ) -> NumericValue:
        """The value of one ``<num>`` slot for ``key`` in an answer being generated: the head on the decoder state
        ``hidden`` (1, D) at the slot, reading the prompt embeddings ``embeds`` (1, L, D) at the DNA positions
        ``dna_context`` (1, L), de-normalised and flagged by ``check()`` (called once the number is read).
        ``readout=dna`` with ``sequences``: the fast path's number for them (equal to the full pass's)."""
        if self.reads_dna_only and sequences:  # the number depends on the DNA and the key only
            return self._score_dna_only([list(sequences)], [key])[0]
        m, lv = self._head(hidden, self._key_ids([key]), embeds, dna_context)  # (1,), (1,)
        return self.flag(self.denormalize(key, float(m), float(lv)), check())

    def _key_ids(self, keys: Sequence[str]) -> torch.Tensor:
        known = self.config.numeric_head.keys
        bad = [k for k in keys if k not in known]
        if bad:
            raise UnknownTaskError(f"unknown task/tissue key(s) {bad}; this model knows {known}")
        return torch.tensor([known.index(k) for k in keys], dtype=torch.long, device=self.device)

    @property
    def reads_dna_only(self) -> bool:
        """readout=dna: every number is the fast path's (:meth:`score`) for the prompt's DNA and the slot's key."""
        return self.config.numeric == "head" and self.config.numeric_head.readout == "dna"

    def train(self, mode: bool = True) -> DnaLanguageModel:
        self._fused.clear()  # fused copies of the weights would go stale
        self._readouts.clear()
        return super().train(mode)

    def load_state_dict(self, *args, **kwargs):
        self._fused.clear()
        self._readouts.clear()
        return super().load_state_dict(*args, **kwargs)

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
        flat = [s for seqs in sequences for s in seqs]
        first = {s: i for i, s in reversed(list(enumerate(flat)))}  # each sequence read once ...
        unique = sorted(first.values())
        where = {flat[j]: u for u, j in enumerate(unique)}
        inv = torch.tensor([where[s] for s in flat], device=self.device)  # (S,) ... and shared by its prompts
        ids, mask = self.processor.pad_dna([self.processor.dna_token_ids(flat[j]) for j in unique])  # (U, T)
        ids, mask = ids.to(self.device), mask.to(self.device)
        n = [len(seqs) for seqs in sequences]
        key_ids = self._key_ids(keys)
        fused = self._fused_states(ids, mask, keys)  # small batches: every encoder needed in one pass
        # (U, T_enc, H_enc), (U, T_enc): the own encoder's states, also the OOD check's features
        h, hmask = fused[None] if fused else self.encoder(ids, mask)
        h, hmask = h[inv], hmask[inv]  # (S, T_enc, H_enc), (S, T_enc): a ranking's 23 keys read one sequence
        own = self._generalists_answer(keys) if len(self.members) else None  # (B,) the own path answers
        if own is None or own.any():
            mean, log_var = _path_numbers(
                self.projector, self.numeric_head, h, hmask, n, key_ids
            )  # (B,), (B,)
        else:  # specialists answer every key: the own head's numbers would be computed and not used
            mean = log_var = torch.zeros(len(keys), device=h.device)
        if len(self.members):  # ensemble: mean of the paths answering each key, variance by ensemble_variance
            means, variances, answers = [mean], [log_var.exp()], [own]
            readouts = self._fused_numbers(fused, inv, n, keys)  # {member: numbers} from one fused readout
            for i, mem in enumerate(self.members):
                m_i, v_i, known = readouts.get(i) or self._member_numbers(
                    mem, ids, mask, inv, n, keys, fused.get(i)
                )
                means.append(m_i)
                variances.append(v_i)
                answers.append(known & (answers[0] | self._is_specialist(mem)))
            mean, log_var = _combine(
                torch.stack(means),
                torch.stack(variances),
                torch.stack(answers),
                self.config.ensemble_variance,
            )
        values = [
            self.denormalize(k, float(m), float(lv)) for k, m, lv in zip(keys, mean, log_var, strict=True)
        ]
        if self.ood is None:
            return values
        pooled = _masked_mean(h, hmask).cpu().numpy()  # (S, H_enc)
        per_seq = flat
        out, i = [], 0
        for v, k, m in zip(values, keys, n, strict=True):
            checks = [self.ood.check(per_seq[j], k, pooled[j]) for j in range(i, i + m)]
            out.append(self.flag(v, _merge_checks(checks)))
            i += m
        return out

    def answering_paths(self, key: str) -> list[tuple[nn.Module, nn.Module, NumericHead, int]]:
        """(encoder, projector, numeric head, index of ``key`` in that head) of every number path whose mean the
        fast path averages for ``key``: the model's own unless a specialist replaces it, and the members that
        know the key (a same-recipe member only where the model's own path answers)."""
        own = bool(self._generalists_answer([key])[0])
        paths = (
            [(self.encoder, self.projector, self.numeric_head, int(self._key_ids([key])[0]))] if own else []
        )
        for mem in self.members:
            keys = mem.numeric_head.cfg.keys
            if key in keys and (own or self._is_specialist(mem)):
                paths.append((mem.encoder, mem.projector, mem.numeric_head, keys.index(key)))
        return paths

    def _is_specialist(self, mem: NumberPath) -> bool:
        return mem.numeric_head.cfg.keys != self.config.numeric_head.keys

    def _generalists_answer(self, keys: Sequence[str]) -> torch.Tensor:
        """(B,) whether the paths of every key (the model's own and same-recipe members) answer each prompt's key:
        always, unless ``specialists_replace`` and a specialist member answers it."""
        taken = set()
        if self.config.specialists_replace:
            taken = {k for m in self.members if self._is_specialist(m) for k in m.numeric_head.cfg.keys}
        return torch.tensor([k not in taken for k in keys], device=self.device)

    def _fused_states(
        self, ids: torch.Tensor, mask: torch.Tensor, keys: Sequence[str]
    ) -> dict[int | None, tuple[torch.Tensor, torch.Tensor]]:
        """For at most ``FUSE_MAX`` distinct sequences, outside training and gradients, where the model's own
        encoder and every member encoder the keys need are CNNs of one configuration: their states of all the
        sequences from one :class:`~agrochat.bridge.fused.FusedCnn` pass, by member index (None: the own
        encoder). Empty otherwise (each encoder runs alone)."""
        if ids.shape[0] > FUSE_MAX or self.training or torch.is_grad_enabled() or not len(self.members):
            return {}
        wanted = set(keys)
        needed = [i for i, m in enumerate(self.members) if wanted & set(m.numeric_head.cfg.keys)]
        if not needed:
            return {}
        sign = tuple(needed)
        if sign not in self._fused:  # built once per set of encoders (weights change in training, loading)
            encoders = [self.encoder] + [self.members[i].encoder for i in needed]
            try:  # None: not CNNs of one configuration, each encoder runs alone
                self._fused[sign] = FusedCnn(encoders).to(ids.device).eval()
            except ConfigError:
                self._fused[sign] = None
        if self._fused[sign] is None:
            return {}
        h, out_mask = self._fused[sign](ids, mask)  # (P, U, T_enc, H_enc), (U, T_enc)
        return {path: (h[j], out_mask) for j, path in enumerate([None, *needed])}

    def _fused_numbers(
        self,
        fused: dict[int | None, tuple[torch.Tensor, torch.Tensor]],
        inv: torch.Tensor,
        n: list[int],
        keys: Sequence[str],
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """After a fused encoder pass, with one sequence per prompt: the (mean, variance, answers) of every member
        that shares its keys with another and knows every prompt's key, from one
        :class:`~agrochat.bridge.fused.FusedReadout` per such group (empty where none applies)."""
        if not fused or max(n) != 1:
            return {}
        groups: dict[tuple[str, ...], list[int]] = {}
        for i in (j for j in fused if j is not None):
            groups.setdefault(tuple(self.members[i].numeric_head.cfg.keys), []).append(i)
        out = {}
        for member_keys, group in groups.items():
            if len(group) < 2 or not set(keys) <= set(member_keys):
                continue
            sign = tuple(group)
            if sign not in self._readouts:
                try:
                    self._readouts[sign] = FusedReadout([self.members[i] for i in group]).to(inv.device)
                except ConfigError:
                    self._readouts[sign] = None
            readout = self._readouts[sign]
            if readout is None:
                continue
            h = torch.stack([fused[i][0] for i in group])[:, inv]  # (P, B, T_enc, H_enc)
            key_ids = torch.tensor([member_keys.index(k) for k in keys], device=inv.device)  # (B,)
            mean, log_var = readout(h, fused[group[0]][1][inv], key_ids)  # (P, B), (P, B)
            answers = torch.ones(len(keys), dtype=torch.bool, device=inv.device)
            out.update({i: (mean[j], log_var[j].exp(), answers) for j, i in enumerate(group)})
        return out

    @staticmethod
    def _member_numbers(
        mem: NumberPath,
        ids: torch.Tensor,
        mask: torch.Tensor,
        inv: torch.Tensor,
        n: list[int],
        keys: Sequence[str],
        states: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """An ensemble member's normalised (mean, variance) per prompt and whether it answers the prompt's key
        (B,) each; a specialist reads only the prompts of its own keys (the others get 0 and are not used).
        ``ids``, ``mask`` (U, T): the distinct sequences; ``inv`` (S,): which of them each prompt sequence is;
        ``states``: the member encoder's states of all U sequences when a fused pass computed them."""
        own = mem.numeric_head.cfg.keys
        known = torch.tensor([k in own for k in keys], device=ids.device)  # (B,)
        mean = torch.zeros(len(keys), device=ids.device)
        var = torch.ones(len(keys), device=ids.device)
        if not known.any():
            return mean, var, known
        rows = torch.repeat_interleave(known, torch.tensor(n, device=ids.device))  # (S,) sequences to read
        need, back = torch.unique(inv[rows], return_inverse=True)  # (U',) distinct, (S',) which of them
        if states is None:
            mh, mm = mem.encoder(ids[need], mask[need])  # (U', T_enc, H_enc), (U', T_enc)
        else:  # computed already for every distinct sequence (a fused pass)
            mh, mm = states[0][need], states[1][need]
        mh, mm = mh[back], mm[back]  # (S', T_enc, H_enc), (S', T_enc)
        mem_ids = torch.tensor([own.index(k) for k in keys if k in own], device=ids.device)
        picked = [m for m, k in zip(n, known.tolist(), strict=True) if k]
        m_i, lv_i = _path_numbers(mem.projector, mem.numeric_head, mh, mm, picked, mem_ids)
        mean[known], var[known] = m_i, lv_i.exp()
        return mean, var, known

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

    # ---- persistence -------------------------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """Write this model as a checkpoint directory (safetensors + JSON; see :mod:`agrochat.bridge.io`)."""
        save_model_dir(self, path)

    @classmethod
    def from_pretrained(cls, path: str | Path, trainable: bool = False) -> DnaLanguageModel:
        """Load a checkpoint written by :meth:`save_pretrained` (reads only JSON and safetensors). Frozen and in
        eval mode unless ``trainable`` (then the configured trainable modes apply, as after building)."""
        return load_model(path, model_cls=cls, member_cls=NumberPath, trainable=trainable)

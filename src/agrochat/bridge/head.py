"""Numeric head: decoder hidden state at a ``<num>`` token -> (mean, log-variance) for its task/tissue key."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from agrochat.errors import ConfigError

from .config import QUERYLESS_POOLS, NumericHeadConfig


class NumericHead(nn.Module):
    """One (mean, log-variance) output pair per key; both are in normalised target units.

    ``readout=token``: an MLP on the decoder state ``h`` at ``<num>``.

    ``readout=dna_attention``: a learned per-key query, plus a projection of ``h``, attends over the projected DNA
    embeddings of the prompt (``ctx``); the MLP reads the pooled DNA and ``h``. Every ``h`` path starts at zero,
    so ``forward(None, ...)`` (the ``regress`` stage, no decoder) and ``forward(h, ...)`` at the start of the
    decoder stages give the same numbers; the decoder stages then learn how much of ``h`` to use.
    """

    def __init__(self, dim: int, cfg: NumericHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.reads_dna = cfg.readout in ("dna", "dna_attention")
        self.reads_h = cfg.readout in ("token", "dna_attention")
        if self.reads_dna:
            a = cfg.hidden
            self.ctx_norm = nn.LayerNorm(dim)
            if cfg.pool not in QUERYLESS_POOLS:
                self.query = nn.Parameter(torch.randn(len(cfg.keys), a) * a**-0.5)  # (K, A) one query per key
                self.k = nn.Linear(dim, a)
            self.v = nn.Linear(dim, a)
            width = {"attention": a, "attention_mean_max": 3 * a, "mean_max": 2 * a}.get(cfg.pool)
            if cfg.pool == "mean_max_position":
                self.position = nn.Linear(a, cfg.position_width)
                width = 2 * a + cfg.position_slots * cfg.position_width
            self.pool_in = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, cfg.hidden))
        if cfg.readout == "dna_attention":
            self.h_norm, self.q_h, self.h_in = (
                nn.LayerNorm(dim),
                nn.Linear(dim, a),
                nn.Linear(dim, cfg.hidden),
            )
            for lin in (self.q_h, self.h_in):  # h paths start silent
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        else:
            self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, cfg.hidden), nn.GELU())
        self.out = nn.Linear(cfg.hidden, 2 * len(cfg.keys))
        self.act, self.softmax = nn.GELU(), nn.Softmax(-1)  # modules, so attribution hooks see them

    def forward(
        self,
        h: torch.Tensor | None,
        key_ids: torch.Tensor,
        ctx: torch.Tensor | None = None,
        ctx_mask: torch.Tensor | None = None,
        ctx_rows: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (N, D) hidden states at <num> tokens (None: no decoder, dna_attention only); key_ids: (N,)
        # ctx: (N, S, D) embeddings the <num> may read, or (B, S, D) shared rows with ctx_rows: (N,) picking the
        # row of each <num> (keys and values are then computed once per row); ctx_mask: (N, S) what each may read
        if self.reads_dna:
            x = self._attend(h if self.reads_h else None, key_ids, ctx, ctx_mask, ctx_rows)  # (N, hidden)
        else:
            if h is None:
                raise ConfigError("readout=token needs the decoder state at each <num>")
            x = self.net(h.float())  # (N, hidden)
        z = self.out(x).view(x.shape[0], -1, 2)  # (N, K, 2)
        rows = torch.arange(x.shape[0], device=x.device)
        sel = z[rows, key_ids]  # (N, 2)
        log_var = sel[:, 1]
        if self.cfg.variance_detached:  # the same output weights on features that send no gradient back
            lv = F.linear(x.detach(), self.out.weight, self.out.bias).view(x.shape[0], -1, 2)  # (N, K, 2)
            log_var = lv[rows, key_ids, 1]
        return sel[:, 0], log_var.clamp(min=self.cfg.min_log_var)  # (N,), (N,)

    def _attend(self, h, key_ids, ctx, ctx_mask, ctx_rows) -> torch.Tensor:
        if ctx is None or ctx_mask is None:
            raise ConfigError(f"readout={self.cfg.readout} needs the DNA context of each <num>")
        c = self.ctx_norm(ctx.float())  # (B or N, S, D)
        values = self.v(c)  # (B or N, S, A)
        if ctx_rows is not None:
            values = values[ctx_rows]  # (N, S, A)
        hn = None if h is None else self.h_norm(h.float())  # (N, D)
        parts = []
        if self.cfg.pool not in QUERYLESS_POOLS:
            keys = self.k(c) if ctx_rows is None else self.k(c)[ctx_rows]  # (N, S, A)
            q = self.query[key_ids]  # (N, A)
            if hn is not None:
                q = q + self.q_h(hn)
            scores = torch.einsum("na,nsa->ns", q, keys) / q.shape[-1] ** 0.5  # (N, S)
            scores = scores.masked_fill(~ctx_mask.bool(), float("-inf"))
            weights = torch.nan_to_num(self.softmax(scores))  # (N, S); a <num> without DNA reads nothing
            parts.append(torch.einsum("ns,nsa->na", weights, values))  # (N, A)
        if self.cfg.pool != "attention":
            m = ctx_mask.bool().unsqueeze(-1)  # (N, S, 1)
            mean = (values * m).sum(1) / m.sum(1).clamp(min=1)  # (N, A)
            peak = torch.nan_to_num(values.masked_fill(~m, float("-inf")).amax(1), neginf=0.0)  # (N, A)
            parts += [mean, peak]
        if self.cfg.pool == "mean_max_position":
            parts.append(self._slots(values, ctx_mask.bool()))  # (N, P*W)
        pooled = torch.cat(parts, dim=-1)  # (N, A), (N, 3A), (N, 2A) or (N, 2A + P*W)
        x = self.pool_in(pooled)  # (N, hidden)
        return self.act(x if hn is None else x + self.h_in(hn))

    def _slots(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The ``position_slots`` positions ending at each row's last readable one, reduced and concatenated."""
        # values: (N, S, A); mask: (N, S), the readable positions of a row are contiguous
        n, s, _ = values.shape
        p = self.cfg.position_slots
        pos = torch.arange(s, device=values.device)
        end = (mask * (pos + 1)).amax(1) - 1  # (N,) last readable position, -1 if none
        idx = end[:, None] - (p - 1) + torch.arange(p, device=values.device)[None]  # (N, P) 3'-aligned
        safe = idx.clamp(min=0)
        ok = (idx >= 0) & mask.gather(1, safe)  # (N, P) slots before the sequence's 5' end stay empty
        reduced = self.position(values)  # (N, S, W)
        picked = reduced.gather(1, safe[..., None].expand(-1, -1, reduced.shape[-1]))  # (N, P, W)
        return (picked * ok[..., None]).reshape(n, -1)  # (N, P*W)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (constant dropped); each number comes with its own variance."""
    return F.gaussian_nll_loss(mean, target.to(mean.dtype), log_var.exp(), full=False, eps=1e-6)

"""Numeric head: decoder hidden state at a ``<num>`` token -> (mean, log-variance) for its task/tissue key."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import NumericHeadConfig


class NumericHead(nn.Module):
    """MLP with one (mean, log-variance) output pair per key; both are in normalised target units.

    With ``readout=dna_attention`` the ``<num>`` state first attends over the DNA embeddings of its prompt
    (``ctx``), and the MLP reads both."""

    def __init__(self, dim: int, cfg: NumericHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        in_dim = dim
        if cfg.readout == "dna_attention":
            self.ctx_norm = nn.LayerNorm(dim)
            self.q, self.k, self.v = (nn.Linear(dim, cfg.hidden) for _ in range(3))
            in_dim = dim + cfg.hidden
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, cfg.hidden), nn.GELU())
        self.out = nn.Linear(cfg.hidden, 2 * len(cfg.keys))

    def forward(
        self,
        h: torch.Tensor,
        key_ids: torch.Tensor,
        ctx: torch.Tensor | None = None,
        ctx_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (N, D) hidden states at <num> tokens; key_ids: (N,) index into cfg.keys
        # ctx: (N, S, D) embeddings the <num> may read (DNA positions before it); ctx_mask: (N, S)
        x = h.float()
        if self.cfg.readout == "dna_attention":
            if ctx is None or ctx_mask is None:
                raise ValueError("readout=dna_attention needs the DNA context of each <num>")
            c = self.ctx_norm(ctx.float())  # (N, S, D)
            scores = torch.einsum("na,nsa->ns", self.q(x), self.k(c)) / self.cfg.hidden**0.5  # (N, S)
            scores = scores.masked_fill(~ctx_mask.bool(), float("-inf"))
            weights = torch.nan_to_num(scores.softmax(-1))  # (N, S); a <num> without DNA reads nothing
            x = torch.cat([x, torch.einsum("ns,nsa->na", weights, self.v(c))], dim=-1)  # (N, D + A)
        z = self.out(self.net(x)).view(h.shape[0], -1, 2)  # (N, K, 2)
        sel = z[torch.arange(h.shape[0], device=h.device), key_ids]  # (N, 2)
        return sel[:, 0], sel[:, 1].clamp(min=self.cfg.min_log_var)  # (N,), (N,)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (constant dropped); each number comes with its own variance."""
    return F.gaussian_nll_loss(mean, target.to(mean.dtype), log_var.exp(), full=False, eps=1e-6)

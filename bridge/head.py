"""Numeric head: decoder hidden state at a ``<num>`` token -> (mean, log-variance) for its task/tissue key."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import NumericHeadConfig


class NumericHead(nn.Module):
    """MLP with one (mean, log-variance) output pair per key; both are in normalised target units."""

    def __init__(self, dim: int, cfg: NumericHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, cfg.hidden), nn.GELU())
        self.out = nn.Linear(cfg.hidden, 2 * len(cfg.keys))

    def forward(self, h: torch.Tensor, key_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (N, D) hidden states at <num> tokens; key_ids: (N,) index into cfg.keys
        z = self.out(self.net(h.float())).view(h.shape[0], -1, 2)  # (N, K, 2)
        sel = z[torch.arange(h.shape[0], device=h.device), key_ids]  # (N, 2)
        return sel[:, 0], sel[:, 1].clamp(min=self.cfg.min_log_var)  # (N,), (N,)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood (constant dropped); each number comes with its own variance."""
    return F.gaussian_nll_loss(mean, target.to(mean.dtype), log_var.exp(), full=False, eps=1e-6)

"""Direct regression objective for the encoder (stage ``regress``): mean-pooled encoder states -> numeric head.

The encoder learns from (sequence, label) rows without any decoder forward, which is ~100x cheaper per example
than a conversation; the decoder stages then start from an encoder that already knows promoter strength.
"""

from __future__ import annotations

import torch
from torch import nn

from agrochat.bridge.config import NumericHeadConfig
from agrochat.bridge.head import NumericHead


class PooledProbe(nn.Module):
    def __init__(self, enc_dim: int, cfg: NumericHeadConfig) -> None:
        super().__init__()
        self.head = NumericHead(enc_dim, cfg)

    def forward(
        self, h: torch.Tensor, mask: torch.Tensor, key_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (B, T, H) encoder states; mask: (B, T); key_ids: (B,)
        m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)  # (B, H)
        return self.head(pooled, key_ids)  # (B,), (B,)

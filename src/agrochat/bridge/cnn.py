"""A convolutional DNA encoder on one-hot bases, in the family that wins promoter-expression benchmarks.

Design (after LegNet, Penzar et al. 2023, and DeepSTARR): a one-hot stem convolution, stages of residual
convolution blocks with batch norm, SiLU and squeeze-and-excitation, a max-pool by 2 after each stage, and a 1x1
convolution to the output width. It returns per-position states (B, L', H) with a padding mask (B, L'), so the
projector, the ``<dna>`` placeholders, the numeric head and the decoder work as with the AgroNT encoder.

Any length works: there are no position embeddings and no window; a 6 kb sequence is one pass.
Padding never leaks into real positions: every convolution's input is zeroed at padded positions, so a sequence
gives the same states alone or in a padded batch (in eval mode; batch norm uses its running statistics).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import CnnSettings

# Base ids: 0 is padding, then A C G T, and N (or any ambiguity code after normalisation).
BASE_IDS = {"A": 1, "C": 2, "G": 3, "T": 4, "N": 5}
PAD_ID = 0


def one_hot(ids: torch.Tensor) -> torch.Tensor:
    """(B, L) base ids -> (B, 4, L) one-hot; N is 0.25 everywhere, padding all zeros."""
    table = torch.zeros(6, 4, device=ids.device)
    table[1:5] = torch.eye(4, device=ids.device)
    table[5] = 0.25
    return table[ids].transpose(1, 2)  # (B, 4, L)


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.net = nn.Sequential(
            nn.Linear(channels, hidden), nn.SiLU(), nn.Linear(hidden, channels), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, C, L); mask: (B, 1, L)
        pooled = (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)  # (B, C)
        return x * self.net(pooled).unsqueeze(-1)  # (B, C, L)


class _ResBlock(nn.Module):
    """conv-BN-SiLU-conv-BN (+ SE) with a residual (1x1 when the width changes), then SiLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dropout: float, se: bool) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.se = _SqueezeExcite(c_out) if se else None
        self.skip = nn.Conv1d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()
        self.drop = nn.Dropout(dropout)
        # activations as modules (one per use), so attribution hooks (DeepLIFT) see every nonlinearity
        self.act1, self.act2 = nn.SiLU(), nn.SiLU()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, C_in, L), zero at padding; mask: (B, 1, L)
        h = self.act1(self.bn1(self.conv1(x))) * mask  # (B, C_out, L)
        h = self.bn2(self.conv2(self.drop(h))) * mask
        if self.se is not None:
            h = self.se(h, mask)
        return self.act2(h + self.skip(x)) * mask  # (B, C_out, L)


class CnnEncoder(nn.Module):
    """One-hot bases (B, L) -> per-position states (B, L', H), L' = ceil(L / 2**len(stages))."""

    def __init__(self, cfg: CnnSettings) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(
            nn.Conv1d(4, cfg.stem_channels, cfg.stem_kernel, padding=cfg.stem_kernel // 2, bias=False),
            nn.BatchNorm1d(cfg.stem_channels),
            nn.SiLU(),
        )
        blocks, c = [], cfg.stem_channels
        for width in cfg.channels:
            stage = nn.ModuleList()
            for _ in range(cfg.blocks_per_stage):
                stage.append(_ResBlock(c, width, cfg.kernel, cfg.dropout, cfg.squeeze_excite))
                c = width
            blocks.append(stage)
        self.stages = nn.ModuleList(blocks)
        self.pools = nn.ModuleList(nn.MaxPool1d(2) for _ in blocks)  # one per stage (attribution hooks)
        self.out = nn.Conv1d(c, cfg.hidden_size, 1)
        self.position = (
            nn.Embedding(cfg.position_embedding, cfg.hidden_size) if cfg.position_embedding else None
        )
        self.out_norm = nn.LayerNorm(cfg.hidden_size)

    @property
    def hidden_size(self) -> int:
        return self.cfg.hidden_size

    def output_length(self, n: int) -> int:
        """Positions of the output for an input of ``n`` bases."""
        for _ in self.cfg.channels:
            n = -(-n // 2)
        return n

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, attention_mask: (B, L)
        return self.forward_one_hot(one_hot(ids), attention_mask)

    def forward_one_hot(
        self, x: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The same from one-hot bases (B, 4, L): differentiable in ``x``, for gradient attributions."""
        mask = attention_mask[:, None].to(x.dtype)  # (B, 1, L)
        x = self.stem(x) * mask  # (B, C0, L)
        for stage, pool in zip(self.stages, self.pools, strict=True):
            for block in stage:
                x = block(x, mask)
            if x.shape[-1] % 2:  # pad to even so every position is pooled (ceil)
                x, mask = F.pad(x, (0, 1)), F.pad(mask, (0, 1))
            x = pool(x)  # (B, C, L/2); padded positions are 0 and activations >= -0.28 (SiLU)
            mask = F.max_pool1d(mask, 2)  # (B, 1, L/2)
            x = x * mask
        h = self.out(x).transpose(1, 2)  # (B, L', H)
        out_mask = mask[:, 0].to(attention_mask.dtype)  # (B, L')
        if self.position is not None:  # position counted from each sequence's own 3' end
            from_end = (
                out_mask.sum(1, keepdim=True) - 1 - torch.arange(h.shape[1], device=h.device)
            )  # (B, L')
            h = h + self.position(from_end.clamp(0, self.cfg.position_embedding - 1))
        h = self.out_norm(h)  # (B, L', H)
        return h * out_mask[..., None], out_mask

"""Projection adapters: encoder states (B, T, H_enc) -> decoder input embeddings (B, T', H_dec)."""

from __future__ import annotations

import torch
from torch import nn

from agrochat.errors import ConfigError

from .config import ProjectorConfig


class Projector(nn.Module):
    """Base class: ``forward(x, mask) -> (y, out_mask)`` and ``output_length(n_tokens)``."""

    def output_length(self, n_tokens: int) -> int:
        """Decoder positions one sequence of ``n_tokens`` encoder tokens occupies."""
        return n_tokens


class LinearProjector(Projector):
    def __init__(self, enc_dim: int, dec_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(enc_dim, dec_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.proj(x), mask  # (B, T, D), (B, T)


class MlpProjector(Projector):
    """LLaVA-1.5's ``mlp2x_gelu``: Linear -> GELU -> Linear."""

    def __init__(self, enc_dim: int, dec_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(enc_dim, dec_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dec_dim, dec_dim)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x), mask  # (B, T, D), (B, T)


class _ResamplerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, q: torch.Tensor, kv: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        # q: (B, N, D) queries; kv: (B, T, D) tokens; pad: (B, T) True where padding
        kv = self.norm_kv(kv)
        h, _ = self.attn(self.norm_q(q), kv, kv, key_padding_mask=pad, need_weights=False)
        q = q + h  # (B, N, D)
        return q + self.ff(self.norm_ff(q))  # (B, N, D)


class ResamplerProjector(Projector):
    """Perceiver-style resampler: N learned queries cross-attend to the tokens, so any input length costs the
    decoder exactly N positions (a 6 kb, 1000-token gene -> N embeddings)."""

    def __init__(self, enc_dim: int, dec_dim: int, cfg: ProjectorConfig) -> None:
        super().__init__()
        if dec_dim % cfg.num_heads:
            raise ConfigError(
                f"projector.num_heads={cfg.num_heads} must divide decoder hidden size {dec_dim}"
            )
        self.num_queries = cfg.num_queries
        self.inp = nn.Linear(enc_dim, dec_dim)
        self.queries = nn.Parameter(torch.randn(cfg.num_queries, dec_dim) * dec_dim**-0.5)
        self.blocks = nn.ModuleList(
            _ResamplerBlock(dec_dim, cfg.num_heads, cfg.dropout) for _ in range(cfg.num_layers)
        )
        self.out_norm = nn.LayerNorm(dec_dim)

    def output_length(self, n_tokens: int) -> int:
        return self.num_queries

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        kv = self.inp(x)  # (B, T, D)
        q = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)  # (B, N, D)
        pad = ~mask.bool()  # (B, T)
        for block in self.blocks:
            q = block(q, kv, pad)  # (B, N, D)
        out_mask = torch.ones(x.shape[0], self.num_queries, dtype=mask.dtype, device=mask.device)
        return self.out_norm(q), out_mask  # (B, N, D), (B, N)


def build_projector(cfg: ProjectorConfig, enc_dim: int, dec_dim: int) -> Projector:
    """Dispatch on ``cfg.type``; unknown types raise :class:`ConfigError`."""
    if cfg.type == "linear":
        return LinearProjector(enc_dim, dec_dim)
    if cfg.type == "mlp2x_gelu":
        return MlpProjector(enc_dim, dec_dim, cfg.dropout)
    if cfg.type == "resampler":
        return ResamplerProjector(enc_dim, dec_dim, cfg)
    raise ConfigError(f"unknown projector type {cfg.type!r}; known: linear, mlp2x_gelu, resampler")

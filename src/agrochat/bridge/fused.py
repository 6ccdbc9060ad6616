"""Several CNN encoders of one architecture run as one network, for small inference batches.

At batch 1 a promoter or terminator number reads three or four CNN encoders (the model's own for the OOD check,
then each specialist), and each pass is ~80 small operations whose fixed cost outweighs their arithmetic.
:class:`FusedCnn` stacks P encoders' weights so every convolution is one grouped convolution (``groups=P``),
every batch norm is folded into the convolution before it, and the squeeze-and-excitation and output layers are
batched matrix products: one pass of ~80 operations gives all P encoders' states. The same arithmetic as the
encoders one by one (to float rounding; a test holds them equal); inference only (no gradients, no hooks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from agrochat.errors import ConfigError

from .cnn import CnnEncoder, _ResBlock, one_hot


def _folded(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight (C_out, C_in, k) and bias (C_out,) of ``conv`` followed by ``bn`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale[:, None, None], bias


def _stack_conv(
    pairs: list[tuple[torch.Tensor, torch.Tensor | None]],
) -> tuple[torch.Tensor, torch.Tensor | None]:
    weight = torch.cat([w for w, _ in pairs])  # (P * C_out, C_in, k)
    bias = None if pairs[0][1] is None else torch.cat([b for _, b in pairs])  # (P * C_out,)
    return weight, bias


class _FusedBlock(nn.Module):
    def __init__(self, blocks: list[_ResBlock]) -> None:
        super().__init__()
        p, first = len(blocks), blocks[0]
        self.p, self.pad = p, first.conv1.padding[0]
        w1, b1 = _stack_conv([_folded(b.conv1, b.bn1) for b in blocks])
        w2, b2 = _stack_conv([_folded(b.conv2, b.bn2) for b in blocks])
        self.register_buffer("w1", w1)
        self.register_buffer("b1", b1)
        self.register_buffer("w2", w2)
        self.register_buffer("b2", b2)
        self.se = first.se is not None
        if self.se:  # (P, hidden, C), (P, hidden), (P, C, hidden), (P, C)
            self.register_buffer("s1", torch.stack([b.se.net[0].weight for b in blocks]))
            self.register_buffer("t1", torch.stack([b.se.net[0].bias for b in blocks]))
            self.register_buffer("s2", torch.stack([b.se.net[2].weight for b in blocks]))
            self.register_buffer("t2", torch.stack([b.se.net[2].bias for b in blocks]))
        self.skip = isinstance(first.skip, nn.Conv1d)
        if self.skip:
            self.register_buffer("ws", torch.cat([b.skip.weight for b in blocks]))  # (P * C_out, C_in, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x: (B, P * C_in, L), zero at padding; mask: (B, 1, L)
        h = F.silu(F.conv1d(x, self.w1, self.b1, padding=self.pad, groups=self.p)) * mask  # (B, P*C, L)
        h = F.conv1d(h, self.w2, self.b2, padding=self.pad, groups=self.p) * mask
        if self.se:
            b, pc, _ = h.shape
            pooled = (h.sum(-1) / mask.sum(-1).clamp(min=1)).view(b, self.p, -1)  # (B, P, C)
            z = F.silu(torch.einsum("bpc,phc->bph", pooled, self.s1) + self.t1)  # (B, P, hidden)
            gate = torch.sigmoid(torch.einsum("bph,pch->bpc", z, self.s2) + self.t2)  # (B, P, C)
            h = h * gate.reshape(b, pc, 1)
        skip = F.conv1d(x, self.ws, groups=self.p) if self.skip else x
        return F.silu(h + skip) * mask


class FusedCnn(nn.Module):
    """P :class:`~agrochat.bridge.cnn.CnnEncoder` of one configuration as one network: ``(ids, mask)`` ->
    states (P, B, L', H) and the mask (B, L'), the same as each encoder's ``forward``."""

    def __init__(self, encoders: list[CnnEncoder]) -> None:
        super().__init__()
        if not encoders or not all(isinstance(e, CnnEncoder) for e in encoders):
            raise ConfigError("FusedCnn fuses CNN encoders only")
        cfg = encoders[0].cfg
        if any(e.cfg != cfg for e in encoders):
            raise ConfigError("FusedCnn fuses encoders of one configuration only")
        if cfg.blocks_per_stage < 1:
            raise ConfigError("FusedCnn needs at least one block per stage")
        self.p, self.cfg = len(encoders), cfg
        ws, bs = zip(*[_folded(e.stem[0], e.stem[1]) for e in encoders], strict=True)
        self.register_buffer("stem_w", torch.cat(ws))  # (P * C0, 4, k)
        self.register_buffer("stem_b", torch.cat(bs))
        self.stem_pad = encoders[0].stem[0].padding[0]
        self.stages = nn.ModuleList(
            nn.ModuleList(
                _FusedBlock([e.stages[s][j] for e in encoders]) for j in range(len(encoders[0].stages[s]))
            )
            for s in range(len(encoders[0].stages))
        )
        self.register_buffer("out_w", torch.cat([e.out.weight for e in encoders]))  # (P * H, C, 1)
        self.register_buffer("out_b", torch.cat([e.out.bias for e in encoders]))
        self.position = encoders[0].position is not None
        if self.position:
            self.register_buffer("pos", torch.stack([e.position.weight for e in encoders]))  # (P, E, H)
        self.register_buffer("ln_w", torch.stack([e.out_norm.weight for e in encoders])[:, None, None])
        self.register_buffer("ln_b", torch.stack([e.out_norm.bias for e in encoders])[:, None, None])
        self.ln_eps = encoders[0].out_norm.eps

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ids, attention_mask: (B, L)
        x = one_hot(ids).repeat(1, self.p, 1)  # (B, P * 4, L)
        mask = attention_mask[:, None].to(x.dtype)  # (B, 1, L)
        x = F.silu(F.conv1d(x, self.stem_w, self.stem_b, padding=self.stem_pad, groups=self.p)) * mask
        for stage in self.stages:
            for block in stage:
                x = block(x, mask)
            if x.shape[-1] % 2:  # pad to even so every position is pooled (ceil)
                x, mask = F.pad(x, (0, 1)), F.pad(mask, (0, 1))
            x = F.max_pool1d(x, 2) * F.max_pool1d(mask, 2)
            mask = F.max_pool1d(mask, 2)  # (B, 1, L/2)
        b, _, length = x.shape
        h = F.conv1d(x, self.out_w, self.out_b, groups=self.p)  # (B, P * H, L')
        h = h.view(b, self.p, -1, length).permute(1, 0, 3, 2)  # (P, B, L', H)
        out_mask = mask[:, 0].to(attention_mask.dtype)  # (B, L')
        if self.position:
            from_end = out_mask.sum(1, keepdim=True) - 1 - torch.arange(length, device=h.device)  # (B, L')
            h = h + self.pos[:, from_end.clamp(0, self.pos.shape[1] - 1)]  # (P, B, L', H)
        h = F.layer_norm(h, h.shape[-1:], eps=self.ln_eps) * self.ln_w + self.ln_b
        return h * out_mask[None, ..., None], out_mask


class FusedReadout(nn.Module):
    """The projector (:class:`~agrochat.bridge.projector.MlpProjector`) and numeric head (``readout: dna``,
    ``pool: mean_max``) of P members with the same keys as one computation: states (P, B, T, H) of one sequence
    per prompt -> normalised means and log-variances (P, B), the same as each member's own."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        from .projector import MlpProjector

        heads = [m.numeric_head for m in members]
        cfg = heads[0].cfg
        if not all(isinstance(m.projector, MlpProjector) for m in members):
            raise ConfigError("FusedReadout fuses MLP projectors only")
        if any(h.cfg != cfg for h in heads) or cfg.readout != "dna" or cfg.pool != "mean_max":
            raise ConfigError("FusedReadout fuses heads of one configuration with readout dna, pool mean_max")

        def stack(get, transpose: bool = False) -> torch.Tensor:
            ws = [get(m) for m in members]
            return torch.stack([w.T if transpose else w for w in ws])

        self.register_buffer("w1", stack(lambda m: m.projector.net[0].weight, True))  # (P, H, D)
        self.register_buffer("b1", stack(lambda m: m.projector.net[0].bias)[:, None])  # (P, 1, D)
        self.register_buffer("w2", stack(lambda m: m.projector.net[3].weight, True))  # (P, D, D)
        self.register_buffer("b2", stack(lambda m: m.projector.net[3].bias)[:, None])
        self.register_buffer("n1w", stack(lambda m: m.numeric_head.ctx_norm.weight)[:, None])  # (P, 1, D)
        self.register_buffer("n1b", stack(lambda m: m.numeric_head.ctx_norm.bias)[:, None])
        self.register_buffer("wv", stack(lambda m: m.numeric_head.v.weight, True))  # (P, D, A)
        self.register_buffer("bv", stack(lambda m: m.numeric_head.v.bias)[:, None])
        self.register_buffer("n2w", stack(lambda m: m.numeric_head.pool_in[0].weight)[:, None])  # (P, 1, 2A)
        self.register_buffer("n2b", stack(lambda m: m.numeric_head.pool_in[0].bias)[:, None])
        self.register_buffer("wp", stack(lambda m: m.numeric_head.pool_in[1].weight, True))  # (P, 2A, X)
        self.register_buffer("bp", stack(lambda m: m.numeric_head.pool_in[1].bias)[:, None])
        self.register_buffer("wo", stack(lambda m: m.numeric_head.out.weight, True))  # (P, X, 2K)
        self.register_buffer("bo", stack(lambda m: m.numeric_head.out.bias)[:, None])
        self.eps = (heads[0].ctx_norm.eps, heads[0].pool_in[0].eps)
        self.min_log_var = cfg.min_log_var

    @torch.no_grad()
    def forward(
        self, h: torch.Tensor, mask: torch.Tensor, key_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (P, B, T, H) one sequence per prompt; mask: (B, T); key_ids: (B,) the key of each prompt
        p, b, t, _ = h.shape
        x = F.gelu(torch.baddbmm(self.b1, h.reshape(p, b * t, -1), self.w1))  # (P, B*T, D)
        c = torch.baddbmm(self.b2, x, self.w2)  # (P, B*T, D): the projected DNA
        c = F.layer_norm(c, c.shape[-1:], eps=self.eps[0]) * self.n1w + self.n1b
        values = torch.baddbmm(self.bv, c, self.wv).view(p, b, t, -1)  # (P, B, T, A)
        m = mask.bool()[None, ..., None]  # (1, B, T, 1)
        mean = (values * m).sum(2) / m.sum(2).clamp(min=1)  # (P, B, A)
        peak = torch.nan_to_num(values.masked_fill(~m, float("-inf")).amax(2), neginf=0.0)  # (P, B, A)
        pooled = torch.cat([mean, peak], dim=-1)  # (P, B, 2A)
        pooled = F.layer_norm(pooled, pooled.shape[-1:], eps=self.eps[1]) * self.n2w + self.n2b
        z = torch.baddbmm(self.bo, F.gelu(torch.baddbmm(self.bp, pooled, self.wp)), self.wo)  # (P, B, 2K)
        z = z.view(p, b, -1, 2)[:, torch.arange(b), key_ids]  # (P, B, 2)
        return z[..., 0], z[..., 1].clamp(min=self.min_log_var)  # (P, B), (P, B)

"""DNA encoders and their builder.

Every encoder maps ids and a padding mask (B, T) to per-position states and their mask, ``(B, T', H), (B, T')``,
and tells how many positions a sequence of ``n`` ids gives (``output_length``). ``agront``: an AgroNT-family
``EsmForMaskedLM`` on 6-mer tokens (T' = T). ``cnn``: :class:`~agrochat.bridge.cnn.CnnEncoder` on one-hot bases.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import EsmConfig, EsmForMaskedLM

from agrochat import hub
from agrochat.errors import ConfigError

from . import quantize
from .cnn import CnnEncoder
from .config import EncoderConfig, LoraSettings
from .tokenizer import AgroNTTokenizer, BaseTokenizer, DnaSequenceError, load_agront_tokenizer
from .trainable import apply_trainable

# Architecture presets (random init). ``agront-1b`` is the real AgroNT-1B architecture
# (InstaDeepAI/agro-nucleotide-transformer-1b): 40 layers, hidden 1500, 20 heads, FFN 5120, absolute positions.
_COMMON = dict(
    vocab_size=4105,
    pad_token_id=1,
    mask_token_id=2,
    max_position_embeddings=1026,
    position_embedding_type="absolute",
    token_dropout=False,
    emb_layer_norm_before=False,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    hidden_act="gelu",
    is_folding_model=False,
    tie_word_embeddings=False,
)
ENCODER_PRESETS: dict[str, dict] = {
    "agront-1b": dict(hidden_size=1500, num_hidden_layers=40, num_attention_heads=20, intermediate_size=5120),
    "agront-mini": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=8, intermediate_size=1024),
    "agront-tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64),
}


def encoder_preset_config(name: str) -> EsmConfig:
    """The ``EsmConfig`` of an architecture preset."""
    if name not in ENCODER_PRESETS:
        raise ConfigError(f"unknown encoder preset {name!r}; known: {sorted(ENCODER_PRESETS)}")
    return EsmConfig(**_COMMON, **ENCODER_PRESETS[name])


class DnaEncoder(nn.Module):
    """Wraps the ESM trunk; ``forward`` gives per-token states of ``layer`` (B, T, H).

    Batches are padded to the longest sequence by the caller (never to ``max_tokens``). With
    ``overflow=window`` a longer sequence is encoded in overlapping windows and each token's embedding is the
    mean over the windows that cover it.
    """

    def __init__(self, esm: nn.Module, cfg: EncoderConfig) -> None:
        super().__init__()
        self.esm = esm  # EsmModel (no LM head)
        self.cfg = cfg

    @property
    def hidden_size(self) -> int:
        return self.esm.config.hidden_size

    @staticmethod
    def output_length(n: int) -> int:
        """One state per token."""
        return n

    def set_trainable(self, mode: str, lora: LoraSettings) -> None:
        """frozen | lora (PEFT adapters on ``lora.target_modules``) | full."""
        self.esm = apply_trainable(self.esm, mode, lora)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # input_ids, attention_mask: (B, T)
        if input_ids.shape[1] <= self.cfg.max_tokens:
            return self._encode(input_ids, attention_mask), attention_mask  # (B, T, H), (B, T)
        if self.cfg.overflow != "window":
            raise DnaSequenceError(
                f"{input_ids.shape[1]} tokens exceed the encoder window of {self.cfg.max_tokens}; "
                "set encoder.overflow=window or truncate"
            )
        return self._encode_windows(input_ids, attention_mask), attention_mask

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.esm(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state  # (B, T, H); layers after cfg.layer were removed at build time

    def _encode_windows(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        B, T = input_ids.shape
        W, S = self.cfg.max_tokens, self.cfg.window_stride
        cls = input_ids[:, :1]  # (B, 1) every window starts with <cls>
        body, body_mask = input_ids[:, 1:], attention_mask[:, 1:]  # (B, T-1)
        span = W - 1
        starts = list(range(0, max(T - 1 - span, 0) + 1, S))
        if starts[-1] + span < T - 1:
            starts.append(T - 1 - span)
        total = torch.zeros(B, T, self.hidden_size, dtype=torch.float32, device=input_ids.device)
        count = torch.zeros(B, T, 1, dtype=torch.float32, device=input_ids.device)
        for s in starts:
            ids = torch.cat([cls, body[:, s : s + span]], dim=1)  # (B, W)
            mask = torch.cat([attention_mask[:, :1], body_mask[:, s : s + span]], dim=1)
            h = self._encode(ids, mask).float()  # (B, W, H)
            total[:, :1] += h[:, :1]
            total[:, 1 + s : 1 + s + span] += h[:, 1:]
            count[:, :1] += 1
            count[:, 1 + s : 1 + s + span] += 1
        return (total / count.clamp(min=1)).to(h.dtype)  # (B, T, H)


def _truncate_layers(esm: nn.Module, layer: int) -> None:
    n = len(esm.encoder.layer)
    keep = layer % n + 1 if layer < 0 else layer
    if not 1 <= keep <= n:
        raise ConfigError(f"encoder.layer={layer} is out of range for a {n}-layer encoder")
    esm.encoder.layer = esm.encoder.layer[:keep]
    esm.config.num_hidden_layers = keep


class ConvEncoder(CnnEncoder):
    """:class:`CnnEncoder` with the encoder interface of the model (trainable modes, its config)."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__(cfg.cnn)
        self.encoder_cfg = cfg

    def set_trainable(self, mode: str, lora: LoraSettings) -> None:
        """frozen | full (a CNN of a few hundred thousand weights needs no adapters)."""
        if mode == "lora":
            raise ConfigError("encoder.type=cnn trains full or stays frozen; LoRA is for agront")
        self.requires_grad_(mode == "full")


DnaEncoderModule = DnaEncoder | ConvEncoder


def build_encoder(cfg: EncoderConfig) -> DnaEncoderModule:
    """Dispatch on ``cfg.type``: ``agront`` (see :func:`build_agront_encoder`) or ``cnn`` (random init)."""
    if cfg.type == "agront":
        return build_agront_encoder(cfg)
    if cfg.type == "cnn":
        return ConvEncoder(cfg)
    raise ConfigError(f"unknown encoder type {cfg.type!r}; known: agront, cnn")


def build_dna_tokenizer(cfg: EncoderConfig, path=None) -> AgroNTTokenizer | BaseTokenizer:
    """The ids an encoder reads: AgroNT 6-mers or one id per base. AgroNT's comes from ``path`` (a saved
    agrochat checkpoint), else from the pretrained encoder's own folder (``source=pretrained``), else it is
    built from the rule; a loaded one is checked against the rule."""
    if cfg.type == "agront":
        if path is None and cfg.source == "pretrained":
            path = hub.resolve(cfg.name_or_path, "model.encoder.name_or_path")
            if not Path(path).is_dir():  # a hub id the hub can serve: transformers downloads it
                from transformers import AutoTokenizer

                path = Path(AutoTokenizer.from_pretrained(path).vocab_file).parent
        return load_agront_tokenizer(path, model_max_length=cfg.max_tokens)
    if cfg.type == "cnn":
        return BaseTokenizer.from_pretrained(path) if path is not None else BaseTokenizer()
    raise ConfigError(f"unknown encoder type {cfg.type!r}; known: agront, cnn")


def build_agront_encoder(cfg: EncoderConfig) -> DnaEncoder:
    """Build the AgroNT encoder from a preset (random init) or ``from_pretrained`` (hub id or local dir)."""
    if cfg.source == "preset":
        esm_cfg = encoder_preset_config(cfg.preset)
        esm_cfg._attn_implementation = cfg.attn_implementation
        esm_cfg.hidden_dropout_prob = esm_cfg.attention_probs_dropout_prob = cfg.dropout
        mlm = EsmForMaskedLM(esm_cfg)
    elif cfg.source == "pretrained":
        mlm = EsmForMaskedLM.from_pretrained(
            hub.resolve(cfg.name_or_path, "model.encoder.name_or_path"),
            attn_implementation=cfg.attn_implementation,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            **quantize.from_pretrained_kwargs("encoder", cfg.load_in_bits, torch.bfloat16),
        )
        if cfg.load_in_bits:
            mlm = quantize.prepare(mlm, cfg.gradient_checkpointing)
    else:  # pragma: no cover - validated in EncoderConfig
        raise ConfigError(f"unknown encoder source {cfg.source!r}")
    esm = mlm.esm
    if esm.config.position_embedding_type != "absolute":
        raise ConfigError("AgroNT encoders use absolute position embeddings")
    esm.pooler = None
    esm.contact_head = None
    _truncate_layers(esm, cfg.layer)
    if cfg.gradient_checkpointing:
        esm.gradient_checkpointing_enable()
    return DnaEncoder(esm, cfg)

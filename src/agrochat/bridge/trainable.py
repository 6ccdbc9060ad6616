"""Trainable parts as config values: ``frozen | lora | full`` for the encoder and the decoder.

PEFT has no built-in target-module mapping for ESM, which is why "PEFT doesn't support ESM" errors appear;
we always pass explicit ``target_modules`` (``query``/``key``/``value``/``dense`` for ESM), so it works.
"""

from __future__ import annotations

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn

from .config import LoraSettings


def lora_config(settings: LoraSettings, trainable_token_indices: list[int] | None = None) -> LoraConfig:
    kwargs = {}
    if trainable_token_indices:
        kwargs["trainable_token_indices"] = {"embed_tokens": list(trainable_token_indices)}
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
        **kwargs,
    )


def apply_trainable(
    module: nn.Module,
    mode: str,
    settings: LoraSettings,
    trainable_token_indices: list[int] | None = None,
) -> nn.Module:
    """Return ``module`` set up for ``mode``: frozen (no grads), lora (PEFT-wrapped) or full (all grads)."""
    if mode == "lora":
        if isinstance(module, PeftModel):
            for n, p in module.named_parameters():
                p.requires_grad = "lora_" in n or "trainable_tokens" in n
            return module
        return get_peft_model(module, lora_config(settings, trainable_token_indices))
    base = module.get_base_model() if isinstance(module, PeftModel) else module
    if base is not module and mode == "full":
        raise ValueError("cannot switch a LoRA-wrapped model to full training; merge it first")
    for p in module.parameters():
        p.requires_grad = mode == "full"
    return module


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total

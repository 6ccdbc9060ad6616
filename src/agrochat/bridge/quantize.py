"""4/8-bit base weights (bitsandbytes, CUDA only) for a pretrained encoder or decoder, LoRA trained on top.

What ``from_pretrained`` needs to load quantised weights, and the PEFT preparation that keeps norms and
embeddings in full precision and lets gradients reach the adapters through the frozen quantised layers.
Quantised weights never train themselves (:func:`agrochat.bridge.config.check_bits_mode`).
"""

from __future__ import annotations

import torch
from torch import nn

from agrochat.errors import ConfigError


def from_pretrained_kwargs(part: str, bits: int, compute_dtype: torch.dtype) -> dict:
    """``from_pretrained`` keyword arguments for ``bits`` (0: none). Fails at once without CUDA."""
    if not bits:
        return {}
    if not torch.cuda.is_available():
        raise ConfigError(f"{part}.load_in_bits needs a CUDA GPU (bitsandbytes); set it to 0 on CPU")
    from transformers import BitsAndBytesConfig

    if bits == 4:
        q = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            bnb_4bit_use_double_quant=True,
        )
    else:
        q = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": q, "device_map": {"": torch.cuda.current_device()}}


def prepare(model: nn.Module, gradient_checkpointing: bool) -> nn.Module:
    """PEFT's preparation of a quantised model for LoRA training."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)


def has_quantised_weights(module: nn.Module) -> bool:
    """Whether any parameter is stored as integers (bitsandbytes int8/4-bit)."""
    return any(not p.dtype.is_floating_point for p in module.parameters())

"""agrochat.bridge: AgroNT encoder + projection adapter + LLaMA-family decoder + numeric head.

Names are loaded on first use (PEP 562): importing a light module such as ``agrochat.bridge.config`` does not
import torch, transformers or peft.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "build_model": "build",
    "ConfigError": "config",
    "DecoderConfig": "config",
    "EncoderConfig": "config",
    "LoraSettings": "config",
    "ModelConfig": "config",
    "NumericHeadConfig": "config",
    "ProjectorConfig": "config",
    "DNA_TOKEN": "decoder",
    "NUM_TOKEN": "decoder",
    "build_decoder": "decoder",
    "ENCODER_PRESETS": "encoder",
    "DnaEncoder": "encoder",
    "build_encoder": "encoder",
    "encoder_preset_config": "encoder",
    "Generation": "generate",
    "GenerationStream": "generate",
    "TextStream": "generate",
    "plain_formatter": "generate",
    "NumericHead": "head",
    "gaussian_nll": "head",
    "CheckpointError": "io",
    "save_model_dir": "io",
    "DnaLanguageModel": "model",
    "NumericValue": "model",
    "DnaChatProcessor": "processor",
    "PlaceholderError": "processor",
    "build_projector": "projector",
    "DnaSequenceError": "tokenizer",
    "load_agront_tokenizer": "tokenizer",
    "normalize_dna": "tokenizer",
    "token_count": "tokenizer",
    "set_trainable": "trainable",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value

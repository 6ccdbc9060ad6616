"""Building, saving and loading a :class:`DnaLanguageModel` (safetensors + JSON only, no pickles).

Checkpoint layout (``save_model``)::

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
from pathlib import Path

import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model
from transformers import AutoTokenizer

from .config import ConfigError, ModelConfig
from .decoder import DNA_TOKEN, NUM_TOKEN, build_decoder
from .encoder import build_dna_tokenizer, build_encoder
from .head import NumericHead
from .model import DnaLanguageModel, NumberPath
from .ood import FILE_NAME as OOD_FILE
from .ood import OodReference
from .projector import build_projector
from .trainable import apply_trainable

CONFIG_NAME = "agrochat_config.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, or holds a corrupted file."""


def added_token_ids(tokenizer) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in (DNA_TOKEN, NUM_TOKEN)]


def set_trainable(model: DnaLanguageModel, encoder: str | None = None, decoder: str | None = None) -> None:
    """Apply ``frozen|lora|full`` to encoder and decoder (updating the config); projector and head train fully."""
    cfg = model.config
    if encoder is not None:
        cfg.encoder.trainable = encoder
    if decoder is not None:
        cfg.decoder.trainable = decoder
    model.encoder.set_trainable(cfg.encoder.trainable, cfg.encoder.lora)
    model.decoder = apply_trainable(
        model.decoder,
        cfg.decoder.trainable,
        cfg.decoder.lora,
        trainable_token_indices=added_token_ids(model.tokenizer),
    )
    for p in list(model.projector.parameters()) + list(model.numeric_head.parameters()):
        p.requires_grad = True
    model.members.requires_grad_(False)  # ensemble members are trained as models of their own


def encoder_weights(model: DnaLanguageModel) -> torch.nn.Module:
    """The module whose weights a checkpoint's ``encoder/`` holds: the ESM trunk (maybe PEFT-wrapped) or the CNN."""
    return _weights_of(model.encoder, model.config)


def _weights_of(encoder: torch.nn.Module, cfg: ModelConfig) -> torch.nn.Module:
    return encoder.esm if cfg.encoder.type == "agront" else encoder


def add_ensemble_members(model: DnaLanguageModel, others: list[DnaLanguageModel]) -> DnaLanguageModel:
    """Add the number paths (encoder, projector, numeric head) of independently trained models as ensemble
    members. They must have this model's encoder, projector and head configs and normalisation."""
    cfg = model.config
    if cfg.numeric_head.readout != "dna":
        raise ConfigError("an ensemble needs numeric_head.readout: dna")
    for other in others:
        o = other.config
        if (o.encoder, o.projector, o.numeric_head) != (cfg.encoder, cfg.projector, cfg.numeric_head):
            raise ConfigError(
                "ensemble members must have the same encoder, projector and numeric head configs "
                "(and normalisation: the same training data)"
            )
        if len(other.members):
            raise ConfigError("an ensemble member must be a single model")
        model.members.append(NumberPath(other.encoder, other.projector, other.numeric_head))
    cfg.ensemble = 1 + len(model.members)
    return model


def build_model(cfg: ModelConfig, tokenizer=None, dna_tokenizer=None) -> DnaLanguageModel:
    """Build every part from ``cfg`` (random projector/head) and apply the configured trainable modes."""
    encoder = build_encoder(cfg.encoder)
    decoder, built_tok = build_decoder(cfg.decoder)
    tokenizer = tokenizer or built_tok
    dna_tokenizer = dna_tokenizer or build_dna_tokenizer(cfg.encoder)
    dim = decoder.config.hidden_size
    projector = build_projector(cfg.projector, encoder.hidden_size, dim)
    head = NumericHead(dim, cfg.numeric_head)
    model = DnaLanguageModel(encoder, projector, decoder, head, cfg, tokenizer, dna_tokenizer)
    set_trainable(model)
    return model


def _full_base(part_cfg) -> bool:
    return part_cfg.source == "preset" or part_cfg.trainable == "full"


def _save_part(module: torch.nn.Module, part_cfg, folder: Path) -> None:
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


def _load_part(module: torch.nn.Module, part_cfg, folder: Path) -> None:
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


def _safe(fn, where: Path):
    try:
        return fn()
    except FileNotFoundError as e:
        raise CheckpointError(f"{where}: missing file ({e})") from e
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(f"{where}: cannot read checkpoint file ({e})") from e


def save_model_dir(model: DnaLanguageModel, path: str | Path) -> None:
    """Write the checkpoint atomically (temp dir + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".tmp-{path.name}-"))
    tmp.chmod(0o755)
    try:
        model.config.save(tmp / CONFIG_NAME)
        model.dna_tokenizer.save_pretrained(str(tmp / "dna_tokenizer"))
        model.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        _save_part(encoder_weights(model), model.config.encoder, tmp / "encoder")
        _save_part(model.decoder, model.config.decoder, tmp / "decoder")
        emb = model.decoder.get_input_embeddings()
        base_emb = emb.token_adapter.base_layer if hasattr(emb, "token_adapter") else emb
        rows = base_emb.weight[added_token_ids(model.tokenizer)].detach().contiguous().clone()
        save_file({"embed_tokens": rows}, str(tmp / "decoder" / "added_tokens.safetensors"))
        save_model(model.projector, str(tmp / "projector.safetensors"))
        save_model(model.numeric_head, str(tmp / "numeric_head.safetensors"))
        if model.ood is not None:
            model.ood.save(tmp / OOD_FILE)
        for i, mem in enumerate(model.members, start=2):  # ensemble members 2..
            folder = tmp / "members" / str(i)
            _save_part(_weights_of(mem.encoder, model.config), model.config.encoder, folder / "encoder")
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


def load_model_dir(path: str | Path, trainable: bool = False) -> DnaLanguageModel:
    """Rebuild a model saved by :func:`save_model_dir`. Reads only JSON and safetensors."""
    path = Path(path)
    if not (path / CONFIG_NAME).is_file():
        raise CheckpointError(f"{path} is not an agrochat checkpoint (no {CONFIG_NAME})")
    cfg = ModelConfig.load(path / CONFIG_NAME)
    tokenizer = AutoTokenizer.from_pretrained(str(path / "tokenizer"), trust_remote_code=False)
    dna_tokenizer = build_dna_tokenizer(cfg.encoder, path / "dna_tokenizer")
    encoder = build_encoder(cfg.encoder)
    decoder, _ = build_decoder(cfg.decoder)
    if decoder.get_input_embeddings().num_embeddings != len(tokenizer):
        raise CheckpointError(
            f"{path}: tokenizer has {len(tokenizer)} tokens but the decoder has "
            f"{decoder.get_input_embeddings().num_embeddings} embeddings"
        )
    rows = _safe(lambda: load_file(str(path / "decoder" / "added_tokens.safetensors")), path / "decoder")
    with torch.no_grad():
        decoder.get_input_embeddings().weight[added_token_ids(tokenizer)] = rows["embed_tokens"]
    dim = decoder.config.hidden_size
    projector = build_projector(cfg.projector, encoder.hidden_size, dim)
    head = NumericHead(dim, cfg.numeric_head)
    ood = OodReference.load(path / OOD_FILE) if (path / OOD_FILE).is_file() else None
    members = []
    for i in range(2, cfg.ensemble + 1):
        folder = path / "members" / str(i)
        mem = NumberPath(
            build_encoder(cfg.encoder),
            build_projector(cfg.projector, encoder.hidden_size, dim),
            NumericHead(dim, cfg.numeric_head),
        )
        _load_part(_weights_of(mem.encoder, cfg), cfg.encoder, folder / "encoder")
        _safe(
            lambda mem=mem, folder=folder: load_model(mem.projector, str(folder / "projector.safetensors")),
            folder,
        )
        _safe(
            lambda mem=mem, folder=folder: load_model(
                mem.numeric_head, str(folder / "numeric_head.safetensors")
            ),
            folder,
        )
        members.append(mem)
    model = DnaLanguageModel(
        encoder, projector, decoder, head, cfg, tokenizer, dna_tokenizer, ood=ood, members=members
    )
    set_trainable(model)
    _load_part(encoder_weights(model), cfg.encoder, path / "encoder")
    _load_part(model.decoder, cfg.decoder, path / "decoder")
    _safe(lambda: load_model(model.projector, str(path / "projector.safetensors")), path)
    _safe(lambda: load_model(model.numeric_head, str(path / "numeric_head.safetensors")), path)
    if not trainable:
        model.requires_grad_(False)
        model.eval()
    return model


def checkpoint_summary(path: str | Path) -> dict:
    """What a checkpoint holds (for ``agrochat info``)."""
    path = Path(path)
    cfg = json.loads((path / CONFIG_NAME).read_text())
    files = {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()}
    return {"config": cfg, "files": files, "bytes": sum(files.values())}

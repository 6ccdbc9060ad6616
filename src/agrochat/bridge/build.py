"""Making models: a new :class:`DnaLanguageModel` from a config, a saved one from its directory, an ensemble of
independently trained ones (a saved model: :meth:`DnaLanguageModel.from_pretrained`). Both build and load go through :func:`~agrochat.bridge.assembly.assemble_model`."""

from __future__ import annotations

import dataclasses

from agrochat.errors import ConfigError

from .assembly import assemble_model
from .config import ModelConfig
from .model import DnaLanguageModel, NumberPath


def build_model(cfg: ModelConfig, tokenizer=None, dna_tokenizer=None) -> DnaLanguageModel:
    """Build every part from ``cfg`` (random projector/head) and apply the configured trainable modes."""
    return assemble_model(
        cfg,
        model_cls=DnaLanguageModel,
        member_cls=NumberPath,
        tokenizer=tokenizer,
        dna_tokenizer=dna_tokenizer,
    )


def add_ensemble_members(model: DnaLanguageModel, others: list[DnaLanguageModel]) -> DnaLanguageModel:
    """Add the number paths (encoder, projector, numeric head) of independently trained models as ensemble
    members. They must have this model's encoder and projector configs. A member whose head answers a subset of
    this model's keys (same normalisation) is a specialist: it joins the numbers of its own keys only."""
    cfg = model.config
    if cfg.numeric_head.readout != "dna":
        raise ConfigError("an ensemble needs numeric_head.readout: dna")
    heads = [cfg.member_head(i) for i in range(2, cfg.ensemble + 1)]
    for other in others:
        o = other.config
        modes = {o.encoder.trainable, cfg.encoder.trainable}
        encoder = dataclasses.replace(o.encoder, trainable=cfg.encoder.trainable)  # members never train here
        if (encoder, o.projector) != (cfg.encoder, cfg.projector) or ("lora" in modes and len(modes) > 1):
            raise ConfigError("ensemble members must have the same encoder and projector configs")
        if len(other.members):
            raise ConfigError("an ensemble member must be a single model")
        heads.append(o.numeric_head)
    checked = dataclasses.replace(  # checks every member's keys and normalisation against the model's
        cfg,
        ensemble=1 + len(heads),
        member_heads=[] if all(h == cfg.numeric_head for h in heads) else heads,
    )
    cfg.ensemble, cfg.member_heads = checked.ensemble, checked.member_heads
    model.members.extend(NumberPath(o.encoder, o.projector, o.numeric_head) for o in others)
    return model

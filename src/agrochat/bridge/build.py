"""Making models: a new :class:`DnaLanguageModel` from a config, a saved one from its directory, an ensemble of
independently trained ones (a saved model: :meth:`DnaLanguageModel.from_pretrained`). Both build and load go through :func:`~agrochat.bridge.assembly.assemble_model`."""

from __future__ import annotations

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

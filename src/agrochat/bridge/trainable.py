"""What trains: the one place that turns ``frozen | lora | full`` per part into gradients and train/eval modes.

A :class:`TrainableModes` names a mode per part (encoder and decoder: ``frozen | lora | full``; projector and
numeric head: ``frozen | full``). :func:`set_trainable` applies it to a model (LoRA wrapping included) and
:func:`set_train_mode` puts the frozen parts in eval mode. Building and loading a model apply the modes of its
config (:meth:`TrainableModes.of_config`); each training stage applies the modes its stage config decides
(:meth:`agrochat.train.config.StageConfig.trainable_modes`).

PEFT has no built-in target-module mapping for ESM, which is why "PEFT doesn't support ESM" errors appear;
we always pass explicit ``target_modules`` (``query``/``key``/``value``/``dense`` for ESM), so it works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agrochat.errors import ConfigError

from .config import TRAINABLE, LoraSettings, ModelConfig

if TYPE_CHECKING:  # torch and peft are imported where they are used: the train config imports this module
    from peft import LoraConfig
    from torch import nn

PART_MODES = ("frozen", "full")
"""Modes of the projector and the numeric head (they are small: no LoRA)."""


@dataclass(frozen=True)
class TrainableModes:
    """How each part of a :class:`~agrochat.bridge.model.DnaLanguageModel` trains.

    Ensemble members never train inside a model (each was trained as a model of its own).
    """

    encoder: str = "frozen"
    """frozen | lora | full."""
    decoder: str = "frozen"
    """frozen | lora | full."""
    projector: str = "full"
    """frozen | full."""
    numeric_head: str = "full"
    """frozen | full."""

    def __post_init__(self) -> None:
        for part in ("encoder", "decoder"):
            if getattr(self, part) not in TRAINABLE:
                raise ConfigError(f"{part}={getattr(self, part)!r} not in {list(TRAINABLE)}")
        for part in ("projector", "numeric_head"):
            if getattr(self, part) not in PART_MODES:
                raise ConfigError(f"{part}={getattr(self, part)!r} not in {list(PART_MODES)}")

    @classmethod
    def of_config(cls, cfg: ModelConfig) -> TrainableModes:
        """The modes a built or loaded model starts with: its config's encoder/decoder modes, projector and
        numeric head fully trainable."""
        return cls(encoder=cfg.encoder.trainable, decoder=cfg.decoder.trainable)


def added_token_ids(tokenizer) -> list[int]:
    """Ids of ``<dna>`` and ``<num>``: the embedding rows a LoRA decoder trains (and a checkpoint stores)."""
    from .decoder import DNA_TOKEN, NUM_TOKEN

    return [tokenizer.convert_tokens_to_ids(t) for t in (DNA_TOKEN, NUM_TOKEN)]


def set_trainable(model: nn.Module, modes: TrainableModes | None = None) -> None:
    """Set what trains in ``model`` (a ``DnaLanguageModel``): ``requires_grad`` of every part, LoRA adapters
    where a part's mode is ``lora``. Default: :meth:`TrainableModes.of_config`.

    The encoder and decoder modes are written into ``model.config``: a saved checkpoint records how its parts
    are wrapped (a LoRA part is stored as an adapter), so loading rebuilds the same wrapping.
    """
    cfg = model.config
    modes = modes if modes is not None else TrainableModes.of_config(cfg)
    cfg.encoder.trainable = modes.encoder
    cfg.decoder.trainable = modes.decoder
    model.encoder.set_trainable(modes.encoder, cfg.encoder.lora)
    model.decoder = apply_trainable(
        model.decoder,
        modes.decoder,
        cfg.decoder.lora,
        trainable_token_indices=added_token_ids(model.tokenizer),
    )
    model.projector.requires_grad_(modes.projector == "full")
    model.numeric_head.requires_grad_(modes.numeric_head == "full")
    model.members.requires_grad_(False)  # ensemble members are trained as models of their own


def set_train_mode(model: nn.Module, modes: TrainableModes) -> None:
    """Train mode for what trains, eval mode for the frozen encoder, projector, numeric head and ensemble
    members, so their batch-norm statistics and dropout do not change while others train (a frozen CNN encoder
    gives the same numbers after a stage as before). The decoder keeps train mode even when frozen: it is
    only a path for the gradients of the parts before it, and it always trained in this mode."""
    model.train()
    frozen = [model.members]
    if modes.encoder == "frozen":
        frozen.append(model.encoder)
    if modes.projector == "frozen":
        frozen.append(model.projector)
    if modes.numeric_head == "frozen":
        frozen.append(model.numeric_head)
    for m in frozen:
        m.eval()


def lora_config(settings: LoraSettings, trainable_token_indices: list[int] | None = None) -> LoraConfig:
    """The PEFT config for ``settings``; ``trainable_token_indices``: embedding rows trained alongside."""
    from peft import LoraConfig

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
    from peft import PeftModel, get_peft_model

    from .quantize import has_quantised_weights

    if mode == "lora":
        if isinstance(module, PeftModel):
            for n, p in module.named_parameters():
                p.requires_grad = "lora_" in n or "trainable_tokens" in n
            return module
        return get_peft_model(module, lora_config(settings, trainable_token_indices))
    base = module.get_base_model() if isinstance(module, PeftModel) else module
    if base is not module and mode == "full":
        raise ValueError("cannot switch a LoRA-wrapped model to full training; merge it first")
    if mode == "full" and has_quantised_weights(module):
        raise ConfigError("quantised (load_in_bits) weights cannot train fully; train them with lora")
    for p in module.parameters():
        p.requires_grad = mode == "full"
    return module


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total

"""Named LoRA adapters on the decoder's top layers (the planner's ``plan``, the writer's ``write``).

An adapter on the top ``layers`` layers leaves the lower layers as the base decoder runs them, so a trainer can
compute their output once and train only the top (:func:`run_layers`). Each adapter is saved in PEFT's layout
(``adapter_config.json`` and ``adapter_model.safetensors`` with PEFT's parameter names) beside its component's
own files.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from agrochat.errors import CheckpointError, ConfigError

ADAPTER_FILE = "adapter_model.safetensors"


@dataclass
class TopLoraConfig:
    """layers: how many top decoder layers the adapter adapts; r, alpha, dropout: LoRA rank, scale and dropout;
    target_modules: the decoder projections it adapts."""

    layers: int = 6
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )

    def __post_init__(self) -> None:
        if int(self.layers) < 1 or int(self.r) < 1:
            raise ConfigError(f"layers and r must be >= 1, got {self.layers} and {self.r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ConfigError("target_modules is empty")


def peft_decoder(model):
    """``model.decoder`` if it is a PEFT model (it carries the adapters), else a config error."""
    from peft import PeftModel

    dec = model.decoder
    if not isinstance(dec, PeftModel):
        raise ConfigError("this needs a decoder with LoRA adapters (decoder.trainable: lora)")
    return dec


def n_layers(dec) -> int:
    return dec.get_base_model().config.num_hidden_layers


def add(model, name: str, config: TopLoraConfig, lora=None) -> None:
    """Add a fresh adapter ``name`` (``lora``: a PEFT config to use instead of ``config``'s) on the top layers; the
    active adapter stays the one before, and the decoder is left in eval mode."""
    from peft import LoraConfig

    dec = peft_decoder(model)
    n = n_layers(dec)
    if lora is None and config.layers > n:
        raise ConfigError(f"the adapter adapts {config.layers} layers but the decoder has {n}")
    lora = lora or LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        layers_to_transform=list(range(n - config.layers, n)),
    )
    if name in dec.peft_config:
        dec.delete_adapter(name)
    active = dec.active_adapter
    dec.add_adapter(name, lora)
    dec.set_adapter(active)
    dec.eval()


def params(model, name: str) -> dict[str, nn.Parameter]:
    """The adapter's parameters, named as PEFT names them in a saved adapter (adapter name removed)."""
    tag = f".{name}."
    return {n.replace(tag, "."): p for n, p in peft_decoder(model).named_parameters() if tag in n}


def save(model, name: str, path: Path, dtype: torch.dtype | None = None) -> None:
    """Save adapter ``name`` to ``path`` (``dtype``: store its weights in that type, e.g. float16 to halve the
    file; :func:`load` casts them back to the decoder's)."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    peft_decoder(model).peft_config[name].save_pretrained(str(path))
    weights = {n: p.detach().to(dtype or p.dtype).contiguous() for n, p in params(model, name).items()}
    save_file(weights, str(path / ADAPTER_FILE))


def load(model, name: str, path: Path) -> None:
    """Add adapter ``name`` from ``path`` (saved by :func:`save`)."""
    from peft import PeftConfig
    from safetensors.torch import load_file

    add(model, name, TopLoraConfig(), lora=PeftConfig.from_pretrained(str(path)))
    weights = load_file(str(path / ADAPTER_FILE))
    own = params(model, name)
    if set(weights) != set(own):
        raise CheckpointError(f"{path / ADAPTER_FILE} does not match the decoder's {name!r} adapter")
    with torch.no_grad():
        for n, p in own.items():
            p.copy_(weights[n])


@torch.no_grad()
def merged_copy(model, name: str | None) -> nn.Module:
    """A plain copy of the base decoder (no PEFT wrappers) with adapter ``name`` merged into its weights (``None``:
    the base decoder alone), for fast text-only inference; tokens added to the vocabulary keep their base
    embeddings."""
    from peft.tuners.lora import LoraLayer

    base = peft_decoder(model).get_base_model()
    state = {
        key.replace(".base_layer.", ".").replace(".token_adapter.", "."): value.clone()
        for key, value in base.state_dict().items()
        if ".lora_" not in key and "trainable_tokens_delta" not in key
    }
    if name is not None:
        for module_name, module in base.named_modules():
            if isinstance(module, LoraLayer) and name in module.lora_A:
                state[f"{module_name}.weight"] += module.get_delta_weight(name)
    plain = type(base)(base.config)
    plain.load_state_dict(state, strict=True)
    return plain.eval()


@contextmanager
def active(model, name: str | None):
    """Only adapter ``name`` active for the duration (``None``: every adapter off); the previous one after."""
    dec = peft_decoder(model)
    if name is None:
        with dec.disable_adapter():
            yield dec
        return
    before = dec.active_adapter
    trainable = [p.requires_grad for p in dec.parameters()]  # set_adapter changes them; a graph built inside
    dec.set_adapter(name)  # needs the adapter's flags as they were when backward runs
    try:
        yield dec
    finally:
        dec.set_adapter(before)
        for p, flag in zip(dec.parameters(), trainable, strict=True):
            p.requires_grad_(flag)


def run_layers(inner, h: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int, final_norm: bool):
    """Decoder layers ``start:stop`` of a LLaMA-family ``inner`` model on states ``h`` (B, L, D), as its own forward
    runs them (causal mask with padding, rotary positions); ``final_norm`` applies the last norm."""
    from transformers.masking_utils import create_causal_mask

    position_ids = torch.arange(h.shape[1], device=h.device).unsqueeze(0)  # (1, L): right padding
    mask = create_causal_mask(
        config=inner.config,
        inputs_embeds=h,
        attention_mask=attention_mask,
        cache=None,
        position_ids=position_ids,
    )
    pos = inner.rotary_emb(h, position_ids=position_ids)
    for layer in inner.layers[start:stop]:
        h = layer(h, attention_mask=mask, position_embeddings=pos, position_ids=position_ids, use_cache=False)
    return inner.norm(h) if final_norm else h


def lower_states(
    model, name: str, layers: int, embeds: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Input of the first layer adapter ``name`` adapts (B, L, D): the base decoder's lower layers."""
    with active(model, name) as dec:  # the adapter has no weights below the top ``layers``
        inner = dec.get_base_model().model
        return run_layers(inner, embeds, attention_mask, 0, n_layers(dec) - layers, final_norm=False)


def upper_states(
    model, name: str, layers: int, h: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """The adapted top layers and the final norm on :func:`lower_states` (B, L, D)."""
    with active(model, name) as dec:
        inner = dec.get_base_model().model
        n = n_layers(dec)
        return run_layers(inner, h, attention_mask, n - layers, n, final_norm=True)

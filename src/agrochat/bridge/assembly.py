"""Assembling a :class:`~agrochat.bridge.model.DnaLanguageModel` from its config: one function for building a new
model and for loading a checkpoint.

The model classes are passed in (:meth:`DnaLanguageModel.from_pretrained` passes its own class and
``NumberPath``; :mod:`agrochat.bridge.build` passes both for new models), so this module sits below
:mod:`agrochat.bridge.model` in the import graph and the model can load checkpoints without importing upwards::

    build.py  ->  model.py  ->  assembly.py  ->  io.py, trainable.py, encoder/decoder/projector/head
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from torch import nn

from . import io
from .config import ModelConfig
from .decoder import build_decoder
from .encoder import build_dna_tokenizer, build_encoder
from .head import NumericHead
from .projector import build_projector
from .trainable import set_trainable

M = TypeVar("M", bound=nn.Module)


def assemble_model(
    cfg: ModelConfig,
    *,
    model_cls: type[M],
    member_cls: type[nn.Module],
    checkpoint: Path | None = None,
    tokenizer=None,
    dna_tokenizer=None,
    trainable: bool = True,
) -> M:
    """Build every part from ``cfg`` and assemble ``model_cls(encoder, projector, decoder, head, ...)``.

    Without ``checkpoint``: random projector and head (encoder and decoder as their config says), the given
    tokenizers or the decoder's and encoder's own. With ``checkpoint`` (a directory written by
    :func:`~agrochat.bridge.io.save_model_dir`): its tokenizers, OOD reference, ensemble members
    (``member_cls(encoder, projector, head)``) and weights. The trainable modes of ``cfg`` are applied before the
    weights are loaded (a LoRA part is loaded as an adapter into its wrapped module); ``trainable=False``
    then freezes everything and sets eval mode.
    """
    if checkpoint is not None:
        tokenizer, dna_tokenizer = io.read_tokenizers(checkpoint, cfg)
    encoder = build_encoder(cfg.encoder)
    decoder, built_tokenizer = build_decoder(cfg.decoder)
    tokenizer = tokenizer or built_tokenizer
    dna_tokenizer = dna_tokenizer or build_dna_tokenizer(cfg.encoder)
    if checkpoint is not None:
        io.load_added_rows(decoder, tokenizer, checkpoint)
    dim = decoder.config.hidden_size
    projector = build_projector(cfg.projector, encoder.hidden_size, dim)
    head = NumericHead(dim, cfg.numeric_head)
    ood, members = None, []
    if checkpoint is not None:
        ood = io.read_ood(checkpoint)
        members = [_load_member(cfg, member_cls, checkpoint, i, dim) for i in range(2, cfg.ensemble + 1)]
    model = model_cls(
        encoder, projector, decoder, head, cfg, tokenizer, dna_tokenizer, ood=ood, members=members
    )
    set_trainable(model)
    if checkpoint is not None:
        io.load_part(io.encoder_weights(model.encoder, cfg), cfg.encoder, checkpoint / "encoder")
        io.load_part(model.decoder, cfg.decoder, checkpoint / "decoder")
        io.load_module(model.projector, checkpoint / "projector.safetensors")
        io.load_module(model.numeric_head, checkpoint / "numeric_head.safetensors")
    if not trainable:
        model.requires_grad_(False)
        model.eval()
    return model


def _load_member(
    cfg: ModelConfig, member_cls: type[nn.Module], checkpoint: Path, index: int, dim: int
) -> nn.Module:
    """Ensemble member ``index`` (2..) of a checkpoint: its own encoder, projector and numeric head."""
    folder = io.member_folder(checkpoint, index)
    encoder = build_encoder(cfg.encoder)
    member = member_cls(
        encoder,
        build_projector(cfg.projector, encoder.hidden_size, dim),
        NumericHead(dim, cfg.member_head(index)),
    )
    io.load_part(io.encoder_weights(member.encoder, cfg), cfg.encoder, folder / "encoder")
    io.load_module(member.projector, folder / "projector.safetensors")
    io.load_module(member.numeric_head, folder / "numeric_head.safetensors")
    return member


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No "Loading weights" bars and no deprecation warning from the libraries while a saved model loads (the
    Python API as quiet as the command line)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
            )
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def load_model(
    path: str | Path, *, model_cls: type[M], member_cls: type[nn.Module], trainable: bool = False
) -> M:
    """The model saved at ``path`` (reads only JSON and safetensors): :func:`assemble_model` with the
    checkpoint's config and weights."""
    path = Path(path)
    cfg = io.read_config(path)
    with quiet_loading():
        return assemble_model(
            cfg, model_cls=model_cls, member_cls=member_cls, checkpoint=path, trainable=trainable
        )

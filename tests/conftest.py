"""Shared fixtures: tiny models on CPU, real promoters from the shipped fixture."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
LEAF = "promoter_strength/leaf"


def read_promoters(n: int | None = None) -> list[dict]:
    with open(FIXTURES / "promoters_leaf_64.tsv") as f:
        rows = list(csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"))
    return rows[:n] if n else rows


def tiny_config(**overrides):
    from agrochat.bridge import DecoderConfig, EncoderConfig, ModelConfig, NumericHeadConfig, ProjectorConfig

    kw = dict(
        encoder=EncoderConfig(preset="agront-tiny", trainable="lora"),
        projector=ProjectorConfig(type="mlp2x_gelu"),
        decoder=DecoderConfig(source="preset", preset="llama-tiny", trainable="lora"),
        numeric_head=NumericHeadConfig(
            keys=[LEAF, "promoter_strength/protoplast"],
            norm={LEAF: [0.9, 1.6], "promoter_strength/protoplast": [-0.1, 1.2]},
            units={LEAF: "log2 units"},
            hidden=32,
        ),
    )
    kw.update(overrides)
    return ModelConfig(**kw)


def cnn_config(**kw):
    """A tiny CNN encoder config (8-16 channels, three stages: 170 bp -> 22 positions)."""
    from agrochat.bridge import EncoderConfig
    from agrochat.bridge.config import CnnSettings

    tiny = CnnSettings(stem_channels=8, stem_kernel=5, channels=[8, 16, 16], kernel=3, hidden_size=16)
    return EncoderConfig(type="cnn", trainable="full", cnn=tiny, **kw)


@pytest.fixture(scope="session")
def dna_tokenizer():
    from agrochat.bridge import load_agront_tokenizer

    return load_agront_tokenizer()


@pytest.fixture(scope="session")
def text_tokenizer():
    from agrochat.bridge import DecoderConfig
    from agrochat.bridge.decoder import load_text_tokenizer

    return load_text_tokenizer(DecoderConfig(source="preset"))


@pytest.fixture()
def tiny_model(dna_tokenizer, text_tokenizer):
    from agrochat.bridge import build_model

    torch.manual_seed(0)
    return build_model(tiny_config(), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer)


@pytest.fixture(scope="session")
def promoters():
    return read_promoters()


CHAT_KEYS = [
    "promoter_strength/leaf",
    "promoter_strength/protoplast",
    "terminator_strength/leaf",
    "terminator_strength/protoplast",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, dna_tokenizer, text_tokenizer):
    """A saved tiny model (random weights) with the registry beside it: what ``Assistant.from_pretrained`` reads."""
    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.domain.registry import load_registry

    torch.manual_seed(0)
    head = NumericHeadConfig(keys=CHAT_KEYS, norm={k: [0.0, 1.0] for k in CHAT_KEYS}, hidden=32)
    path = tmp_path_factory.mktemp("tiny") / "model"
    build_model(
        tiny_config(numeric_head=head), tokenizer=text_tokenizer, dna_tokenizer=dna_tokenizer
    ).save_pretrained(path)
    load_registry().to_json(path / "registry.json")
    return path

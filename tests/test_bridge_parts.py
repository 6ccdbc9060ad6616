import pytest
import torch

from agrochat.bridge import (
    ConfigError,
    DnaSequenceError,
    EncoderConfig,
    ProjectorConfig,
    build_encoder,
    build_projector,
    encoder_preset_config,
)


def test_real_agront_1b_config():
    c = encoder_preset_config("agront-1b")
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size) == (
        1500,
        40,
        20,
        5120,
    )
    assert (c.vocab_size, c.max_position_embeddings, c.pad_token_id, c.mask_token_id) == (4105, 1026, 1, 2)
    assert c.position_embedding_type == "absolute"
    assert c.token_dropout is False


@pytest.mark.parametrize("name, params_m", [("smollm2-360m", 362), ("tinyllama-1.1b", 1100)])
def test_decoder_benchmark_presets_are_the_real_architectures(name, params_m):
    """Parameter counts of the real models (their own vocabularies: 49,152 and 32,000 tokens), from the config alone."""
    from transformers import LlamaConfig

    from agrochat.bridge.decoder import DECODER_PRESETS

    vocab = 49152 if name.startswith("smollm2") else 32000
    c = LlamaConfig(vocab_size=vocab, **DECODER_PRESETS[name])
    h, f, n, kv = c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_key_value_heads
    head_dim = h // c.num_attention_heads
    assert head_dim * c.num_attention_heads == h
    per_layer = 2 * h * h + 2 * h * kv * head_dim + 3 * h * f + 2 * h  # q, o; k, v; MLP; two norms
    total = n * per_layer + vocab * h * (1 if c.tie_word_embeddings else 2) + h
    assert total / 1e6 == pytest.approx(params_m, rel=0.01)


def test_unknown_presets_and_choices():
    with pytest.raises(ConfigError):
        encoder_preset_config("agront-42b")
    with pytest.raises(ConfigError):
        EncoderConfig(trainable="half")
    with pytest.raises(ConfigError):
        ProjectorConfig(type="qformer")


def test_encoder_hidden_states_and_layer_choice():
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(preset="agront-tiny", layer=1))
    assert len(enc.esm.encoder.layer) == 1
    ids = torch.randint(4, 4100, (3, 31))
    ids[:, 0] = 3
    mask = torch.ones_like(ids)
    h, out_mask = enc(ids, mask)
    assert h.shape == (3, 31, 32) and torch.equal(out_mask, mask)


def test_encoder_windows_cover_long_sequences():
    torch.manual_seed(0)
    enc = build_encoder(
        EncoderConfig(preset="agront-tiny", max_tokens=16, window_stride=8, overflow="window")
    )
    ids = torch.randint(4, 4100, (2, 40))
    ids[:, 0] = 3
    out, _ = enc(ids, torch.ones_like(ids))
    assert out.shape == (2, 40, 32) and torch.isfinite(out).all()
    strict = build_encoder(EncoderConfig(preset="agront-tiny", max_tokens=16, window_stride=8))
    with pytest.raises(DnaSequenceError):
        strict(ids, torch.ones_like(ids))


@pytest.mark.parametrize("kind,expected_len", [("linear", 31), ("mlp2x_gelu", 31), ("resampler", 8)])
def test_projector_shapes(kind, expected_len):
    cfg = ProjectorConfig(type=kind, num_queries=8, num_heads=4)
    proj = build_projector(cfg, 32, 64)
    x = torch.randn(3, 31, 32)
    mask = torch.ones(3, 31, dtype=torch.long)
    mask[0, 20:] = 0
    y, ymask = proj(x, mask)
    assert y.shape == (3, expected_len, 64)
    assert ymask.shape == (3, expected_len)
    assert proj.output_length(31) == expected_len


def test_resampler_cost_is_independent_of_length():
    proj = build_projector(ProjectorConfig(type="resampler", num_queries=16, num_heads=4), 32, 64)
    y, _ = proj(torch.randn(1, 1000, 32), torch.ones(1, 1000, dtype=torch.long))
    assert y.shape == (1, 16, 64)


def test_build_projector_rejects_unknown_type():
    cfg = ProjectorConfig()
    cfg.type = "unknown"
    with pytest.raises(ConfigError, match="unknown projector type"):
        build_projector(cfg, 32, 64)


def test_kbit_decoder_is_rejected_clearly_without_cuda():
    from agrochat.bridge import DecoderConfig, build_decoder

    with pytest.raises(ConfigError, match="source=pretrained"):
        DecoderConfig(source="gguf", load_in_bits=4)
    with pytest.raises(ConfigError, match="0, 4 or 8"):
        DecoderConfig(source="pretrained", load_in_bits=3)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            build_decoder(DecoderConfig(source="pretrained", name_or_path="/nonexistent", load_in_bits=4))


def test_encoder_from_pretrained_local_dir(tmp_path):
    from transformers import EsmForMaskedLM

    torch.manual_seed(0)
    EsmForMaskedLM(encoder_preset_config("agront-tiny")).save_pretrained(tmp_path / "agront")
    enc = build_encoder(EncoderConfig(source="pretrained", name_or_path=str(tmp_path / "agront")))
    ids = torch.full((1, 5), 4)
    ids[0, 0] = 3
    assert enc(ids, torch.ones_like(ids))[0].shape == (1, 5, 32)

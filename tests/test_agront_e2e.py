"""The AgroNT path end to end, offline: a pretrained ``EsmForMaskedLM`` folder (a tiny one, saved with
``save_pretrained`` as the hub's is) through the AgroNT-1B preset's three stages, one step each, with a 6-kb
sequence among the training rows; saved, reloaded, the same predictions; the tokenizer is the checkpoint's own
and is checked against the 6-mer rule."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch
from transformers import EsmForMaskedLM

from agrochat import hub
from agrochat.bridge import DnaLanguageModel
from agrochat.bridge.encoder import encoder_preset_config
from agrochat.bridge.tokenizer import build_vocab, load_agront_tokenizer
from agrochat.domain.prompts import canonical_prompt
from agrochat.errors import CheckpointError, ResourceNotFoundError
from agrochat.train import load_config
from agrochat.train.data import RegressionRow
from agrochat.train.run import load_training_data
from agrochat.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs" / "agront-1b-smollm2.yaml"
SIX_KB = 6000


def _pretrained_folder(folder: Path) -> Path:
    """A tiny AgroNT-family checkpoint in the hub's layout: config.json, model.safetensors, vocab.txt."""
    torch.manual_seed(0)
    EsmForMaskedLM(encoder_preset_config("agront-tiny")).save_pretrained(folder)
    load_agront_tokenizer().save_pretrained(str(folder))
    return folder


def _config(encoder: Path, out: Path):
    return load_config(
        PRESET,
        [
            f"model.encoder.name_or_path={encoder}",
            "model.decoder.source=preset",  # the SmolLM2 weights are a hub download; the tokenizer is shipped
            "model.decoder.preset=llama-tiny",
            "model.decoder.dtype=float32",
            "mixed_precision='no'",
            "data.fixtures=true",
            f"output_dir={out}",
            *[f"stages.{i}.max_steps=1" for i in range(3)],
            *[f"stages.{i}.save_every=0" for i in range(3)],
            "stages.2.eval_every=0",
            *[f"stages.{i}.eval_examples=8" for i in range(3)],
        ],
    )


def _with_six_kb_row(data):
    """Eight training rows for the regress stage (one batch at the preset's 16,384-token budget), one of them
    6,000 bp. Mechanics only: the long sequence is fixture promoters joined end to end, and its target is the
    measured value of the promoter that ends it (the sequence itself was never measured)."""
    rows = [r for r in data.regression["train"] if r.key == "promoter_strength/leaf"][:7]
    long = "".join(r.sequence for r in data.regression["train"])[: SIX_KB - len(rows[0].sequence)]
    data.regression["train"] = rows + [RegressionRow(long + rows[0].sequence, rows[0].key, rows[0].target)]
    assert len(data.regression["train"][-1].sequence) == SIX_KB
    return data


def _predict(model: DnaLanguageModel, seqs: list[str], key: str) -> torch.Tensor:
    question, prefix = canonical_prompt(key)
    prompts = [([{"role": "user", "content": question}], [s], prefix) for s in seqs]
    values = model.score(prompts, [key] * len(seqs))
    return torch.tensor([[v.value, v.std] for v in values])


def test_agront_preset_trains_saves_and_reloads_offline(tmp_path):
    encoder = _pretrained_folder(tmp_path / "agront")
    cfg = _config(encoder, tmp_path / "run")
    assert cfg.model.encoder.source == "pretrained" and cfg.model.encoder.trainable == "lora"
    data = _with_six_kb_row(load_training_data(cfg))
    trainer = Trainer(cfg, data)
    results = trainer.run()
    assert set(results) == {"regress", "align", "instruct"}
    trained = trainer.module.model.eval()
    saved = tmp_path / "run" / "model"
    # a LoRA encoder is saved as its adapter; its base is the pretrained folder, read again on load
    assert (saved / "encoder" / "adapter_model.safetensors").is_file()
    assert not (saved / "encoder" / "weights.safetensors").exists()
    reloaded = DnaLanguageModel.from_pretrained(saved)
    seqs = [data.regression["train"][-1].sequence, data.regression["train"][0].sequence]
    key = "promoter_strength/leaf"
    with torch.no_grad():
        torch.testing.assert_close(
            _predict(reloaded, seqs, key), _predict(trained, seqs, key), rtol=0, atol=1e-5
        )
    # the tokenizer is the checkpoint's own, and it is the rule's
    assert reloaded.dna_tokenizer.get_vocab() == {t: i for i, t in enumerate(build_vocab())}
    assert (saved / "dna_tokenizer" / "vocab.txt").read_text().split() == build_vocab()


def test_a_checkpoint_tokenizer_unlike_the_rule_is_refused(tmp_path):
    folder = _pretrained_folder(tmp_path / "agront")
    vocab = (folder / "vocab.txt").read_text().split("\n")
    vocab[4], vocab[5] = vocab[5], vocab[4]  # AAAAAA and AAAAAT swapped: every state would be silently wrong
    (folder / "vocab.txt").write_text("\n".join(vocab))
    with pytest.raises(CheckpointError, match="'AAAAAA' id 5, the AgroNT 6-mer rule id 4"):
        load_agront_tokenizer(folder)
    cfg = _config(folder, tmp_path / "run")
    with pytest.raises(CheckpointError, match="6-mer rule"):
        Trainer(cfg, load_training_data(cfg))


def test_missing_checkpoint_is_one_line_within_seconds(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hub, "cache_dir", lambda: tmp_path / "hf" / "hub")
    monkeypatch.setattr(hub, "_cached_snapshot", lambda repo, kind: None)
    monkeypatch.setattr(hub, "reachable", lambda: False)
    cfg = _config(tmp_path / "agront", tmp_path / "run")  # a folder that does not exist
    t0 = time.perf_counter()
    with pytest.raises(ResourceNotFoundError, match="no such folder") as e:
        Trainer(cfg, load_training_data(cfg))
    assert "\n" not in str(e.value)
    cfg = _config(tmp_path / "x", tmp_path / "run")
    cfg.model.encoder.name_or_path = "InstaDeepAI/agro-nucleotide-transformer-1b"
    with pytest.raises(ResourceNotFoundError) as e:
        Trainer(cfg, load_training_data(cfg))
    msg = str(e.value)
    assert "\n" not in msg and "model.encoder.name_or_path=DIR" in msg and "cannot be reached" in msg
    assert time.perf_counter() - t0 < 30


def test_offline_env_uses_only_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_cached_snapshot", lambda repo, kind: None)
    monkeypatch.setattr(hub, "reachable", lambda: pytest.fail("probed the hub although HF_HUB_OFFLINE=1"))
    with pytest.raises(ResourceNotFoundError, match="HF_HUB_OFFLINE is set"):
        hub.resolve("InstaDeepAI/agro-nucleotide-transformer-1b", "model.encoder.name_or_path")
    cached = tmp_path / "snap"
    cached.mkdir()
    monkeypatch.setattr(hub, "_cached_snapshot", lambda repo, kind: str(cached))
    assert hub.resolve("InstaDeepAI/agro-nucleotide-transformer-1b", "x") == str(cached)


def test_unreachable_endpoint_is_probed_quickly(monkeypatch):
    hub.reachable.cache_clear()
    t0 = time.perf_counter()
    assert hub.reachable("http://127.0.0.1:9", timeout=2) is False  # nothing listens on the discard port
    assert time.perf_counter() - t0 < 5
    hub.reachable.cache_clear()


@pytest.mark.skipif(shutil.which("nvidia-smi") is None or not torch.cuda.is_available(), reason="needs CUDA")
def test_quantised_encoder_trains_lora_on_gpu(tmp_path):  # pragma: no cover - GPU machines only
    encoder = _pretrained_folder(tmp_path / "agront")
    cfg = _config(encoder, tmp_path / "run")
    cfg.model.encoder.load_in_bits = 8
    Trainer(cfg, _with_six_kb_row(load_training_data(cfg))).run()


def _non_contiguous(p: torch.nn.Parameter) -> None:
    """Same values, stored transposed (a view of a transposed copy), as some ops leave weights."""
    p.data = p.data.t().contiguous().t()
    assert not p.is_contiguous()


@pytest.mark.parametrize("encoder_mode", ["full", "lora"])
def test_non_contiguous_weights_save_and_reload(tmp_path, encoder_mode):
    from agrochat.bridge import build_model

    cfg = load_config(ROOT / "configs" / "tiny.yaml", [f"model.encoder.trainable={encoder_mode}"]).model
    model = build_model(cfg).eval()
    names = {"full": "attention.self.query.weight", "lora": "attention.self.query.lora_A.default.weight"}
    touched = [p for n, p in model.encoder.named_parameters() if n.endswith(names[encoder_mode])]
    touched.append(model.numeric_head.out.weight)
    assert len(touched) >= 3
    for p in touched:
        _non_contiguous(p)
    model.save_pretrained(tmp_path / "m")
    loaded = DnaLanguageModel.from_pretrained(tmp_path / "m")
    ours = dict(model.encoder.named_parameters())
    for n, p in loaded.encoder.named_parameters():
        torch.testing.assert_close(p, ours[n], rtol=0, atol=0)
    for a, b in zip(model.numeric_head.parameters(), loaded.numeric_head.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_quantised_weights_train_only_through_lora(tmp_path):
    from agrochat.bridge.encoder import build_encoder
    from agrochat.errors import ConfigError

    for overrides in (
        ["model.encoder.load_in_bits=8", "model.encoder.trainable=full"],
        ["model.encoder.load_in_bits=8", "stages.0.encoder=full"],
        ["model.decoder.load_in_bits=4", "stages.2.decoder=full"],
    ):
        with pytest.raises(ConfigError, match="cannot train fully") as e:
            load_config(PRESET, overrides)
        assert "\n" not in str(e.value)
    cfg = load_config(PRESET, ["model.encoder.load_in_bits=4"])  # LoRA on 4-bit weights: a valid recipe
    assert cfg.model.encoder.load_in_bits == 4 and cfg.stages[0].encoder == "lora"
    if not torch.cuda.is_available():
        cfg.model.encoder.name_or_path = str(_pretrained_folder(tmp_path / "agront"))
        with pytest.raises(ConfigError, match="needs a CUDA GPU"):
            build_encoder(cfg.model.encoder)

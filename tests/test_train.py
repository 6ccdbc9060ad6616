"""Training recipe on the tiny preset: runs end to end, logs metrics, resumes exactly after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from agrochat.errors import ConfigError
from agrochat.train import load_config
from agrochat.train.batching import TokenBudgetSampler, budget_batches
from agrochat.train.checkpoint import list_checkpoints

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
FAST = [
    "stages.0.epochs=1",
    "stages.1.max_steps=4",
    "stages.2.max_steps=6",
    "stages.2.save_every=3",
    "log_every=1",
]


def test_every_preset_loads():
    presets = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(presets) >= 5
    for p in presets:
        cfg = load_config(p)
        assert cfg.stages and cfg.model.numeric_head.keys
        assert p.read_text().lstrip().startswith("#"), (
            f"{p.name} needs its launch command in a comment on top"
        )


def test_overrides_and_bad_values():
    cfg = load_config(TINY, ["stages.1.lr=0.5", "seed=3", "model.projector.type=linear"])
    assert cfg.stages[1].lr == 0.5 and cfg.seed == 3 and cfg.model.projector.type == "linear"
    with pytest.raises(ConfigError):
        load_config(TINY, ["stages.0.decoder=lora"])  # regress never trains the decoder
    with pytest.raises(ConfigError):
        load_config(TINY, ["model.projector.type=qformer"])
    with pytest.raises(ConfigError):
        load_config(TINY, ["mixed_precision=fp8"])


def test_token_budget_batches():
    lengths = [31] * 90 + [1000] * 10
    s = TokenBudgetSampler(lengths, max_tokens=2048, max_batch_size=64, seed=0)
    batches = s.batches(0)
    assert sorted(i for b in batches for i in b) == list(range(100))  # every example once
    assert all(s.padded_tokens(b) <= 2048 or len(b) == 1 for b in batches)
    assert s.batches(0) == batches and s.batches(1) != batches  # deterministic per epoch
    r0 = TokenBudgetSampler(lengths, 2048, 64, seed=0, rank=0, world_size=2).batches(0)
    r1 = TokenBudgetSampler(lengths, 2048, 64, seed=0, rank=1, world_size=2).batches(0)
    assert len(r0) == len(r1) and not set(map(tuple, r0)) & set(map(tuple, r1))


def test_inference_batches_keep_the_token_budget():
    lengths = [31, 31, 1001, 31, 1001, 1001, 31]
    batches = list(budget_batches(range(len(lengths)), lambda i: lengths[i], 2048, 256))
    assert [i for b in batches for i in b] == list(range(len(lengths)))  # every item once, in order
    assert all(max(lengths[i] for i in b) * len(b) <= 2048 for b in batches)
    assert list(budget_batches([5000], lambda x: x, 2048, 8)) == [[5000]]  # longer than the budget: alone
    assert [len(b) for b in budget_batches(range(10), lambda i: 1, 100, 4)] == [4, 4, 2]  # the count cap


def _train_cmd(out: Path, resume: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "agrochat.train", "--config", str(TINY), "-o", str(out), *FAST]
    return cmd + (["--resume"] if resume else [])


def test_tiny_training_writes_model_logs_and_metrics(tmp_path):
    out = tmp_path / "run"
    subprocess.run(_train_cmd(out), check=True, capture_output=True, timeout=600)
    metrics = json.loads((out / "metrics.json").read_text())
    per_key = metrics["stages"]["instruct"]["per_key"]
    assert "promoter_strength/leaf" in per_key and "r2" in per_key["promoter_strength/leaf"]
    assert {"pearson", "spearman", "cover95"} <= set(per_key["terminator_strength/leaf"])
    logs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("tok_per_s" in r and "seq_per_s" in r for r in logs)
    assert (out / "model" / "agrochat_config.json").is_file()
    assert len(list_checkpoints(out / "checkpoints")) == 2  # keep_last


def test_sigkill_at_a_random_step_then_resume_matches_uninterrupted_run(tmp_path):
    """Kill at a random optimizer step (any stage, before or after a checkpoint): the resumed run ends with the
    same weights as one that was never interrupted, so nothing is lost beyond the last checkpoint."""
    import random

    ref, run = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(_train_cmd(ref), check=True, capture_output=True, timeout=600)
    n_steps = sum('"seq_per_s"' in line for line in (ref / "log.jsonl").read_text().splitlines())
    kill_at = random.Random(os.environ.get("AGROCHAT_KILL_SEED")).randint(1, n_steps - 1)
    proc = subprocess.Popen(_train_cmd(run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = run / "log.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline:  # log_every=1: one line per optimizer step
        if log.is_file() and sum('"seq_per_s"' in x for x in log.read_text().splitlines()) >= kill_at:
            break
        if proc.poll() is not None:
            pytest.fail(f"training finished before step {kill_at} of {n_steps}")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "model").exists(), f"killed at step {kill_at}"
    subprocess.run(_train_cmd(run, resume=True), check=True, capture_output=True, timeout=600)
    for part in (
        "projector.safetensors",
        "numeric_head.safetensors",
        "decoder/adapter_model.safetensors",
        "encoder/adapter_model.safetensors",
    ):
        a, b = load_file(str(ref / "model" / part)), load_file(str(run / "model" / part))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.allclose(a[k], b[k], atol=1e-6), (part, k, f"killed at step {kill_at} of {n_steps}")


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        str(Path(sys.executable).parent / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "-m",
        "agrochat.train",
        "--config",
        str(TINY),
        "-o",
        str(out),
        *FAST,
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    logs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert {r["world_size"] for r in logs if "world_size" in r} == {2}
    assert (out / "model" / "agrochat_config.json").is_file()


def test_keep_best_token_lr_and_init_from(tmp_path):
    """keep_best ends a stage on its best validation loss; init_from starts a variant from a run's encoder."""
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["model.numeric_head.readout=dna_attention", "model.encoder.dropout=0.1", "log_every=1"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agrochat.train",
            "--config",
            str(TINY),
            "-o",
            str(first),
            *common,
            "stages.0.epochs=4",
            "stages.0.eval_every=1",
            "stages.0.keep_best=true",
            "stages.0.lr=0.05",
            "stages.1.max_steps=2",
            "stages.2.max_steps=2",
            "stages.2.token_lr_scale=30",
            "stages.2.encoder=full",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    logs = [json.loads(line) for line in (first / "log.jsonl").read_text().splitlines()]
    evals = [r["eval"]["val_loss"] for r in logs if "eval" in r and r["eval"]["stage"] == "regress"]
    metrics = json.loads((first / "metrics.json").read_text())
    assert len(evals) > 2 and metrics["stages"]["regress"]["val_loss"] == min(evals)
    assert (first / "best" / "stage-0.safetensors").is_file()
    stage = "stages=[{name: align, max_steps: 1, epochs: 1, max_tokens: 2048, max_batch_size: 8}]"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agrochat.train",
            "--config",
            str(TINY),
            "-o",
            str(second),
            *common,
            f"init_from={first / 'model'}",
            stage,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    a = load_file(str(first / "model" / "encoder" / "weights.safetensors"))
    b = load_file(str(second / "model" / "encoder" / "weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # align keeps the encoder frozen


def test_init_from_carries_the_dna_readout_head(tmp_path, text_tokenizer):
    """A run that starts after another run's regress stage gets its numbers too: with readout dna the numeric
    head was trained with the encoder, so init_from copies it (and refuses a head with other keys)."""
    from agrochat.bridge import NumericHeadConfig, build_model
    from agrochat.train.trainer import _init_from
    from conftest import cnn_config, tiny_config

    def model(seed: int, keys: list[str]):
        torch.manual_seed(seed)
        head = NumericHeadConfig(keys=keys, hidden=16, readout="dna")
        cfg = tiny_config(encoder=cnn_config(), numeric_head=head)
        return build_model(cfg, tokenizer=text_tokenizer)

    keys = ["promoter_strength/leaf", "promoter_strength/protoplast"]
    src = model(0, keys)
    src.save_pretrained(tmp_path / "src")
    dst = model(1, keys)
    _init_from(dst, str(tmp_path / "src"))
    for part in ("encoder", "projector", "numeric_head"):
        a, b = getattr(src, part).state_dict(), getattr(dst, part).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), part
    with pytest.raises(ConfigError, match="other keys"):
        _init_from(model(2, keys[:1]), str(tmp_path / "src"))


def test_onecycle_momentum_moves_against_the_lr():
    from agrochat.train.config import StageConfig
    from agrochat.train.trainer import _beta1, _lr_lambda

    f = _lr_lambda(100, 30, "onecycle")
    betas = [_beta1(f(step)) for step in range(100)]
    assert betas[29] == pytest.approx(0.85) and betas[0] > 0.94 and betas[-1] > 0.949
    warm, decay = betas[:30], betas[29:]
    assert all(a >= b for a, b in zip(warm, warm[1:], strict=False))
    assert all(a <= b for a, b in zip(decay, decay[1:], strict=False))
    with pytest.raises(ConfigError, match="cycle_momentum"):
        StageConfig(name="regress", schedule="cosine", cycle_momentum=True)


def test_half_written_checkpoints_are_never_picked_up(tmp_path):
    from agrochat.train.checkpoint import STATE_FILE, write_checkpoint

    root = tmp_path / "checkpoints"
    write_checkpoint(root, "step-000000001", lambda d: (d / STATE_FILE).write_text("{}"), keep_last=2)

    def crash(d: Path) -> None:
        (d / "model").mkdir()
        raise KeyboardInterrupt  # killed while writing

    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(root, "step-000000002", crash, keep_last=2)
    (root / "step-000000003").mkdir()  # a directory that never got its state file (e.g. a copy cut short)
    (root / ".tmp-abc").mkdir()
    ((root / ".tmp-abc") / STATE_FILE).write_text("{}")  # a temp dir left by SIGKILL mid-write
    assert [p.name for p in list_checkpoints(root)] == ["step-000000001"]
    assert not (root / "step-000000002").exists()


def test_preset_base_merges_mappings_and_replaces_lists(tmp_path):
    (tmp_path / "child.yaml").write_text(
        f"base: {TINY}\nmodel: {{numeric: text}}\nseed: 7\nstages: [{{name: align, max_steps: 1}}]\n"
    )
    cfg = load_config(tmp_path / "child.yaml")
    base = load_config(TINY)
    assert cfg.model.numeric == "text" and cfg.seed == 7
    assert (
        cfg.model.encoder == base.model.encoder
        and cfg.model.numeric_head.keys == base.model.numeric_head.keys
    )
    assert [s.name for s in cfg.stages] == ["align"]
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="itself"):
        load_config(tmp_path / "loop.yaml")
    with pytest.raises(ConfigError, match="projector"):
        load_config(TINY, ["stages.1.projector=lora"])


def test_cnn_recipe_keeps_a_frozen_encoder_exactly(tmp_path):
    """The CNN recipe's options run end to end (shift, OneCycle, mse_nll, task weighting), and a stage that
    freezes the encoder, projector and head leaves them bit-identical: batch-norm statistics included."""
    from agrochat.train.run import load_training_data
    from agrochat.train.trainer import Trainer

    over = [
        "model.encoder={type: cnn, trainable: full, cnn: {stem_channels: 8, channels: [8, 16], "
        "hidden_size: 16, position_embedding: 8}}",
        "model.numeric_head.readout=dna",
        "model.numeric_head.pool=attention_mean_max",
        "stages.0={name: regress, encoder: full, epochs: 1, lr: 0.003, max_tokens: 4096, shift: 3, "
        "schedule: onecycle, warmup_ratio: 0.3, cycle_momentum: true, num_loss: mse_nll, task_weighting: true}",
        "stages.1={name: instruct, encoder: frozen, decoder: lora, projector: frozen, head: frozen, max_steps: 3, "
        "max_tokens: 2048, max_batch_size: 8}",
        f"output_dir={tmp_path / 'run'}",
    ]
    cfg = load_config(TINY, over)
    cfg.stages = cfg.stages[:2]
    trainer = Trainer(cfg, load_training_data(cfg))
    model = trainer.module.model
    trainer._run_stage(0, cfg.stages[0])
    before = {
        k: v.clone()
        for part in ("encoder", "projector", "numeric_head")
        for k, v in getattr(model, part).state_dict().items()
    }
    trainer.state.update(stage=1, stage_done=False, step=0, epoch=0, batch=0)
    trainer._run_stage(1, cfg.stages[1])
    after = {
        k: v
        for part in ("encoder", "projector", "numeric_head")
        for k, v in getattr(model, part).state_dict().items()
    }
    assert any("running_mean" in k for k in before)
    assert all(torch.equal(before[k], after[k]) for k in before), [
        k for k in before if not torch.equal(before[k], after[k])
    ]

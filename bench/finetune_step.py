"""Peak memory and sequences/s of the instruct step: AgroNT-1B (LoRA) + a LLaMA-family decoder (LoRA), end to end.

Not a test: a benchmark measured in one run on one machine. Meant for a GPU (issue #6: "peak memory of LoRA
fine-tuning AgroNT-1B + SmolLM2-360M / TinyLlama at batch 16"); it also runs on a CPU with a small batch.

    python bench/finetune_step.py --decoder smollm2-360m --batch 16 --out bench/results/finetune_agront-1b_smollm2-360m_b16_gpu.json
    python bench/finetune_step.py --decoder tinyllama-1.1b --batch 16 --out bench/results/finetune_agront-1b_tinyllama_b16_gpu.json
    python bench/finetune_step.py --encoder agront-mini --decoder smollm2-360m --batch 2 --steps 2   # CPU check

Weights are random (no hub download needed) but the architectures are the real ones: the encoder preset
``agront-1b`` (hidden 1500, 40 layers) and the decoder presets ``smollm2-360m`` / ``tinyllama-1.1b`` (their
config.json; both keep the SmolLM2 tokenizer, so TinyLlama's embedding has 49,154 rows instead of 32,000).
Memory and time do not depend on the weights' values. The step is the training loop's own: the same
``build_model``/``set_trainable`` path, the model's loss (LM + Gaussian NLL at ``<num>``), ``accelerate`` with
bf16 mixed precision, AdamW on the LoRA, projector and head parameters; conversations are real benchmark rows
(170 bp promoters from the shipped fixture, Jores et al. 2021) asked as in the instruct data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _common import report, status_mb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", default="agront-1b", help="encoder architecture preset")
    ap.add_argument("--decoder", default="smollm2-360m", help="decoder architecture preset")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up step)")
    ap.add_argument("--mixed-precision", default="bf16", choices=["no", "bf16", "fp16"])
    ap.add_argument("--gradient-checkpointing", action="store_true", help="on the encoder and the decoder")
    ap.add_argument(
        "--bits",
        type=int,
        default=0,
        choices=[0, 4, 8],
        help="4/8: quantised base weights for encoder and decoder (bitsandbytes, CUDA), LoRA on top; the random "
        "architectures are saved to a temporary folder first and loaded back as pretrained checkpoints",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    from accelerate import Accelerator

    from agrochat.bridge import DecoderConfig, EncoderConfig, LoraSettings, ModelConfig, NumericHeadConfig
    from agrochat.bridge.build import build_model
    from agrochat.bridge.trainable import count_parameters
    from agrochat.data_gen.paths import FIXTURES_DIR
    from agrochat.data_gen.regression import load_regression_rows
    from agrochat.provenance import provenance

    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    sources: dict = {
        "encoder": {"preset": args.encoder},
        "decoder": {"source": "preset", "preset": args.decoder},
    }
    if args.bits:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="agrochat-bits-"))
        sources = _saved_architectures(args, tmp)
    acc = Accelerator(cpu=not cuda, mixed_precision=args.mixed_precision)
    key = "promoter_strength/leaf"
    cfg = ModelConfig(
        encoder=EncoderConfig(
            **sources["encoder"],
            trainable="lora",
            gradient_checkpointing=args.gradient_checkpointing,
            lora=LoraSettings(
                r=16, alpha=32, dropout=0.05, target_modules=["query", "key", "value", "dense"]
            ),
        ),
        decoder=DecoderConfig(
            **sources["decoder"],
            trainable="lora",
            dtype="bfloat16" if args.mixed_precision == "bf16" else "float32",
            gradient_checkpointing=args.gradient_checkpointing,
            lora=LoraSettings(
                r=16,
                alpha=32,
                dropout=0.05,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            ),
        ),
        numeric_head=NumericHeadConfig(keys=[key], norm={key: [0.0, 1.0]}),
    )
    t_build = time.perf_counter()
    model = build_model(cfg)
    build_s = time.perf_counter() - t_build
    trainable, total = count_parameters(model)
    rows = load_regression_rows(FIXTURES_DIR / "mini_data", "train", keys=[key])[: args.batch]
    if len(rows) < args.batch:
        raise SystemExit(f"the fixture has {len(rows)} rows; use --batch {len(rows)} or less")
    exs = [
        model.processor.encode(
            [
                {"role": "user", "content": "How strongly is this promoter expressed in tobacco leaf? <dna>"},
                {
                    "role": "assistant",
                    "content": "Predicted strength in tobacco (N. benthamiana) leaves: <num>.",
                },
            ],
            [r["sequence"]],
            [r["target"]],
            [key],
        )
        for r in rows
    ]
    batch = model.processor.collate(exs)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model, opt = acc.prepare(model, opt)
    batch = {k: v.to(acc.device) for k, v in batch.items()}
    model.train()

    def step() -> float:
        out = model(**batch)
        acc.backward(out.loss)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(out.loss.detach())

    step()  # warm-up (allocator, kernels)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for _ in range(args.steps):
        t = time.perf_counter()
        losses.append(step())
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    median = sorted(times)[len(times) // 2]
    result = {
        "command": " ".join(["python", "bench/finetune_step.py", *sys.argv[1:]]),
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "encoder": args.encoder,
        "decoder": args.decoder,
        "batch": args.batch,
        "mixed_precision": args.mixed_precision,
        "gradient_checkpointing": args.gradient_checkpointing,
        "bits": args.bits,
        "prompt_tokens_max": int(batch["input_ids"].shape[1]),
        "dna_tokens_max": int(batch["dna_input_ids"].shape[1]),
        "trainable_params": trainable,
        "total_params": total,
        "build_seconds": build_s,
        "step_seconds_median": median,
        "step_seconds_all": times,
        "sequences_per_s": args.batch / median,
        "losses": losses,
        "peak_rss_mb": status_mb("VmHWM"),
    }
    if cuda:
        result["gpu_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
        result["gpu_peak_reserved_mb"] = torch.cuda.max_memory_reserved() / 2**20
    report(result, args.out, provenance("train", rows=len(rows), data=FIXTURES_DIR / "mini_data"))


def _saved_architectures(args, folder: Path) -> dict:
    """The random encoder and decoder architectures saved as pretrained checkpoints (bf16) in ``folder``, and
    the config fields that load them back with ``load_in_bits``."""
    import torch
    from transformers import EsmForMaskedLM

    from agrochat.bridge import DecoderConfig
    from agrochat.bridge.decoder import build_decoder
    from agrochat.bridge.encoder import encoder_preset_config
    from agrochat.bridge.tokenizer import load_agront_tokenizer

    EsmForMaskedLM(encoder_preset_config(args.encoder)).to(torch.bfloat16).save_pretrained(folder / "encoder")
    load_agront_tokenizer().save_pretrained(str(folder / "encoder"))
    dec, tok = build_decoder(DecoderConfig(source="preset", preset=args.decoder, dtype="bfloat16"))
    dec.save_pretrained(folder / "decoder")
    tok.save_pretrained(str(folder / "decoder"))
    return {
        "encoder": {
            "source": "pretrained",
            "name_or_path": str(folder / "encoder"),
            "load_in_bits": args.bits,
        },
        "decoder": {
            "source": "pretrained",
            "name_or_path": str(folder / "decoder"),
            "load_in_bits": args.bits,
        },
    }


if __name__ == "__main__":
    main()

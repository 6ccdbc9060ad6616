"""Peak memory and time of one LoRA training step of the DNA encoder: pad-to-longest vs pad-to-1024.

Not a test: a benchmark whose result is a ratio measured in one run on one machine.

    python bench/step_memory.py --preset agront-1b --dtype bfloat16 --batch 4 --bp 170 --out bench/results/step_memory_agront-1b.json
    python bench/step_memory.py --preset agront-mini --dtype float32 --batch 32 --bp 170

Each setting runs in its own subprocess so peak memory is measured separately (CPU: peak RSS from
/proc/self/status VmHWM, reset after the model is built; GPU: torch.cuda.max_memory_allocated). The step is the
recipe's ``regress`` step: AgroNT encoder with LoRA (query, key, value, dense) -> mean pool -> numeric head ->
Gaussian NLL, backward, AdamW step.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from _common import report, status_mb


def _machine_memory_mb() -> float:
    with open("/proc/meminfo") as fh:
        return int(fh.readline().split()[1]) / 1024


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def one(args) -> dict:
    import torch

    from agrochat.bridge import (
        EncoderConfig,
        LoraSettings,
        NumericHeadConfig,
        build_encoder,
        load_agront_tokenizer,
    )
    from agrochat.bridge.head import gaussian_nll
    from agrochat.bridge.trainable import apply_trainable, count_parameters
    from agrochat.train.probe import PooledProbe

    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.set_default_dtype(dtype)  # build the random weights directly in the bench dtype
    lora = LoraSettings(r=8, alpha=16, dropout=0.0, target_modules=["query", "key", "value", "dense"])
    enc = build_encoder(EncoderConfig(preset=args.preset, trainable="lora", lora=lora))
    torch.set_default_dtype(torch.float32)
    enc.esm = apply_trainable(enc.esm, "lora", lora)
    enc.to(device)
    probe = PooledProbe(enc.hidden_size, NumericHeadConfig(keys=["k"], hidden=256)).to(device)
    trainable, total = count_parameters(enc)
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(args.bp)) for _ in range(args.batch)]
    tok = load_agront_tokenizer()
    if args.pad == "longest":
        batch = tok(seqs, padding="longest", return_tensors="pt")
    else:
        batch = tok(seqs, padding="max_length", max_length=1024, return_tensors="pt")
    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    params = [p for p in list(enc.parameters()) + list(probe.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    y = torch.zeros(args.batch, device=device)
    keys = torch.zeros(args.batch, dtype=torch.long, device=device)

    def step():
        h, mask_out = enc(ids, mask)  # (B, T, H), (B, T)
        mean, log_var = probe(h, mask_out, keys)
        loss = gaussian_nll(mean, log_var, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    base = status_mb("VmRSS")
    if cuda:
        torch.cuda.synchronize()
        base_gpu = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    _reset_peak()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    out = {
        "preset": args.preset,
        "dtype": args.dtype,
        "batch": args.batch,
        "bp": args.bp,
        "pad": args.pad,
        "tokens_per_sequence": int(ids.shape[1]),
        "trainable_params": trainable,
        "total_params": total,
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "step_seconds": min(times),
        "step_seconds_all": times,
        "rss_before_step_mb": base,
        "peak_rss_mb": status_mb("VmHWM"),
    }
    out["step_extra_rss_mb"] = out["peak_rss_mb"] - base
    if cuda:
        out["gpu_weights_mb"] = base_gpu
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="agront-1b")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--bp", type=int, default=170)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--pad", choices=["longest", "1024", "both"], default="both")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.pad != "both":
        print(json.dumps(one(args)))
        return
    results = {}
    for pad in ("longest", "1024"):
        cmd = [
            sys.executable,
            __file__,
            "--preset",
            args.preset,
            "--dtype",
            args.dtype,
            "--batch",
            str(args.batch),
            "--bp",
            str(args.bp),
            "--steps",
            str(args.steps),
            "--pad",
            pad,
        ]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == -9:  # the kernel's OOM killer: the setting does not fit in the available memory
            results[pad] = {
                "failed": "killed by SIGKILL (out of memory)",
                "seconds_until_killed": time.perf_counter() - t,
                "machine_memory_mb": _machine_memory_mb(),
            }
            continue
        if proc.returncode != 0:
            raise SystemExit(f"{pad} run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        results[pad] = json.loads(proc.stdout.strip().splitlines()[-1])
    a, b = results["1024"], results["longest"]
    summary = {
        "setting": f"{args.preset} {args.dtype}, LoRA q/k/v/dense, batch {args.batch} x {args.bp} bp",
        "tokens": {"longest": b.get("tokens_per_sequence"), "1024": 1024},
        "runs": results,
    }
    if "failed" not in a and "failed" not in b:
        summary["step_time_ratio_1024_over_longest"] = a["step_seconds"] / b["step_seconds"]
        summary["step_extra_memory_ratio_1024_over_longest"] = a["step_extra_rss_mb"] / max(
            b["step_extra_rss_mb"], 1e-6
        )
        if "gpu_peak_mb" in a:
            summary["gpu_peak_ratio_1024_over_longest"] = a["gpu_peak_mb"] / b["gpu_peak_mb"]
    report(summary, args.out)


if __name__ == "__main__":
    main()

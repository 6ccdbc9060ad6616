"""Peak memory of AgroNT-1B inference on 6-kb inputs: batches by sequence count vs the token budget.

Not a test: a benchmark measured in one run on one machine (CPU by default; ``--device cuda`` on a GPU).

    python bench/inference_memory.py --out bench/results/inference_memory_agront-1b_cpu.json

Each setting runs in a fresh process and reports its peak resident memory (CPU: VmHWM; GPU: the allocator's
peak) minus the memory after the encoder was built, i.e. what one pass over the sequences adds. Batches are cut
by agrochat's own rule (:func:`agrochat.train.batching.budget_batches`): ``count N`` is the rule with no token
limit, a batch of N sequences whatever their length (what ``Assistant.scorer(batch_size=256)`` did before);
``budget T`` is the rule with ``T`` padded tokens per batch (the default, 32,768). The encoder is the AgroNT-1B
architecture (hidden 1,500, 20 heads, FFN 5,120; random weights, no download), cut to its first ``--layers``
layers to keep CPU time short: activations live one layer at a time in inference, so the peak a pass adds does
not grow with depth (the full 40 layers add 4.0 GB of fp32 weights, a constant, to both settings alike).
Sequences: random ACGT, 6,000 bp (1,001 AgroNT tokens).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from _common import report, status_mb


def one(layers: int, n: int, batch_size: int, max_tokens: int, device: str) -> dict:
    import torch

    from agrochat.bridge.config import EncoderConfig
    from agrochat.bridge.encoder import build_agront_encoder
    from agrochat.bridge.tokenizer import load_agront_tokenizer
    from agrochat.train.batching import budget_batches

    torch.manual_seed(0)
    enc = build_agront_encoder(EncoderConfig(preset="agront-1b", layer=layers)).eval().to(device)
    tok = load_agront_tokenizer()
    rng = random.Random(0)
    seqs = ["".join(rng.choice("ACGT") for _ in range(6000)) for _ in range(n)]
    import gc

    gc.collect()
    with open(
        "/proc/self/clear_refs", "w"
    ) as fh:  # resets VmHWM: the peak of building the model is not counted
        fh.write("5")
    base = status_mb("VmRSS")
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    t0 = time.perf_counter()
    batches = 0
    with torch.no_grad():
        for batch in budget_batches(seqs, tok.count, max_tokens, batch_size):
            ids = [tok.sequence_ids(s) for s in batch]
            T = max(map(len, ids))
            x = torch.full((len(ids), T), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(x)
            for i, row in enumerate(ids):
                x[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), 1
            h = enc(x.to(device), mask.to(device))[0]  # (B, T, H)
            _ = h.mean(1).cpu()
            batches += 1
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else status_mb("VmHWM")
    return {"batches": batches, "peak_added_mb": round(peak - base, 1), "seconds": round(seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2, help="first N layers of AgroNT-1B (see above)")
    ap.add_argument("--n", type=int, default=32, help="6-kb sequences per setting")
    ap.add_argument("--counts", default="8,16,32", help="sequence-count batch sizes to measure")
    ap.add_argument("--budgets", default="8192,32768", help="token budgets to measure (batch cap 256)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)  # internal: batch_size,max_tokens
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.one:
        bs, mt = map(int, args.one.split(","))
        print(json.dumps(one(args.layers, args.n, bs, mt, args.device)))
        return
    settings = [(f"count {c}", c, 10**9) for c in map(int, args.counts.split(","))]
    settings += [(f"budget {b}", 256, b) for b in map(int, args.budgets.split(","))]
    rows = []
    for name, bs, mt in settings:
        cmd = [
            sys.executable,
            __file__,
            "--layers",
            str(args.layers),
            "--n",
            str(args.n),
            "--device",
            args.device,
        ]
        out = subprocess.run([*cmd, "--one", f"{bs},{mt}"], check=True, capture_output=True, text=True).stdout
        row = {"setting": name, "batch_size": bs, "max_tokens": None if mt == 10**9 else mt}
        row.update(json.loads(out.strip().splitlines()[-1]))
        print(row, file=sys.stderr)
        rows.append(row)
    counts = [r for r in rows if r["max_tokens"] is None]
    slope = (counts[-1]["peak_added_mb"] - counts[0]["peak_added_mb"]) / (
        counts[-1]["batch_size"] - counts[0]["batch_size"]
    )
    report(
        {
            "encoder": f"agront-1b architecture, first {args.layers} of 40 layers, random weights, fp32",
            "device": args.device,
            "sequences": f"{args.n} x 6,000 bp (1,001 tokens)",
            "rows": rows,
            "mb_per_sequence_in_a_batch": round(slope, 1),
            "count_256_extrapolated_mb": round(
                counts[0]["peak_added_mb"] + slope * (256 - counts[0]["batch_size"])
            ),
            "note": "count 256 (the scorer's batch before the token budget) is extrapolated from the measured "
            "count batches, not run: on this machine it would exhaust memory",
        },
        args.out,
    )


if __name__ == "__main__":
    main()

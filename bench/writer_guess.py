"""How much guessing tokens ahead (``WriterConfig.draft``) saves the writer: the same conversations written with
and without guesses, the writer's time per answer, passes of the decoder, and whether the answers are the same.

    python bench/writer_guess.py MODEL_DIR N SEED [--out FILE]

MODEL_DIR: a model folder with ``writer/``; N conversations from ``data_gen/planning.py`` with seed SEED (a tuning
seed, not the benchmark seed 2 of ``agrochat eval --answers``), sequences from ``tests/fixtures``. Both settings
run in one process, turn by turn in alternation, so that they share the machine's state.
"""

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from agrochat.bridge.writer import Writer
from agrochat.chat import Assistant
from agrochat.chat.phrasings import fixture_pools, with_sequences
from agrochat.data_gen.planning import generate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("n", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--draft", type=int, default=8)
    ap.add_argument(
        "--dtype", choices=("bfloat16", "float32"), help="write in this type (default: the writer's)"
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    a = Assistant.from_pretrained(args.model)
    if a.writer is None:
        raise SystemExit(f"{args.model} has no writer/")
    if args.dtype:  # the same adapter, merged into a copy of the decoder in this type
        a.writer = Writer(a.model, replace(a.writer.config, dtype=args.dtype), vocabulary=a.writer.vocabulary)
        a.writer = a.writer.compiled()
    writer = a.writer
    passes = []
    writer.lm.register_forward_hook(lambda *_: passes.append(1))
    calls: list[tuple] = []
    write = writer.write

    def recorded(*args, **kw):  # the writer's inputs, to write them again with the other setting
        calls.append((args, kw))
        return write(*args, **kw)

    writer.write = recorded
    convos = generate(a.known_keys, fixture_pools("tests/fixtures"), args.n, seed=args.seed)
    rows = []
    for ex in convos:
        calls.clear()
        a.chat(with_sequences(ex.messages, ex.sequences))
        for wargs, wkw in calls:
            row = {}
            for draft in (0, args.draft):
                writer.config.draft = draft
                n0, t = len(passes), time.perf_counter()
                text = write(*wargs, **wkw)
                tokens = len(writer.tokenizer(text, add_special_tokens=False)["input_ids"])
                row[draft] = {
                    "s": time.perf_counter() - t,
                    "passes": len(passes) - n0,
                    "tokens": tokens,
                    "text": text,
                }
            rows.append(row)
    d = args.draft
    out = {"model": args.model, "dtype": writer.config.dtype, "answers": len(rows)}
    out["same_text"] = sum(r[0]["text"] == r[d]["text"] for r in rows)
    for draft in (0, d):  # per token written, over every answer (the two settings' answers may differ)
        tokens = sum(r[draft]["tokens"] for r in rows)
        out[f"draft {draft}"] = {
            "ms_per_token": round(1000 * sum(r[draft]["s"] for r in rows) / tokens, 1),
            "passes_per_token": round(sum(r[draft]["passes"] for r in rows) / tokens, 2),
            "tokens": tokens,
            "median_s": statistics.median(r[draft]["s"] for r in rows),
        }
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps({**out, "rows": rows}, indent=1, default=str))


if __name__ == "__main__":
    main()

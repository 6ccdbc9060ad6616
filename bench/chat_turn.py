"""How long a chat turn takes: ``Assistant.chat`` (the decoder's plan, then the answer) on one question per
operation, with the shipped model on the CPU.

Not a test: timings on one machine in one run (per question, the median of ``--repeats`` after a warm-up; the
explanation's motif scan compiles its kernels once per environment, before the first timed call). The questions
are the project's own wording, one per operation, on fixture sequences; the plan each got is recorded beside its
time, so a row whose plan is not the operation it stands for shows as such.

    python bench/chat_turn.py --out bench/results/chat_turn_cpu.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from _common import report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import read_promoters  # noqa: E402


def questions(p1: str, p2: str) -> list[tuple[str, list[dict]]]:
    """(operation, messages): one conversation per operation, the turn timed being the last."""
    return [
        ("predict", [{"role": "user", "content": f"How strong is this promoter in tobacco leaves?\n{p1}"}]),
        ("explain", [{"role": "user", "content": f"Why is this promoter strong in tobacco leaves?\n{p1}"}]),
        (
            "compare",
            [
                {
                    "role": "user",
                    "content": f"Which of these two promoters is stronger in maize protoplasts?\n{p1}\n{p2}",
                }
            ],
        ),
        ("rank", [{"role": "user", "content": f"In which maize tissue is this gene most expressed?\n{p1}"}]),
        (
            "variant",
            [
                {
                    "role": "user",
                    "content": f"What does the mutation A-50G do to this promoter in tobacco leaves?\n{p1}",
                }
            ],
        ),
        (
            "design",
            [
                {
                    "role": "user",
                    "content": f"Make this promoter stronger in tobacco leaves with at most 3 edits.\n{p1}",
                }
            ],
        ),
        ("general", [{"role": "user", "content": "What does the TATA box do in a plant promoter?"}]),
        ("need_dna", [{"role": "user", "content": "How strong is my promoter in maize protoplasts?"}]),
        ("refuse", [{"role": "user", "content": f"How strong is this promoter in rice roots?\n{p1}"}]),
        ("greet", [{"role": "user", "content": "Hello!"}]),
        ("help", [{"role": "user", "content": "What can you do?"}]),
        (
            "follow-up",
            [
                {"role": "user", "content": f"How strong is this promoter in tobacco leaves?\n{p1}"},
                {"role": "assistant", "content": "About 1.2 log2 units above the minimal 35S promoter."},
                {"role": "user", "content": "and in maize protoplasts?"},
            ],
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from agrochat.chat import DEFAULT_MODEL_DIR, Assistant
    from agrochat.provenance import provenance

    assistant = Assistant.from_pretrained()
    p1, p2 = (r["sequence"] for r in read_promoters(2))
    rows = []
    for op, messages in questions(p1, p2):
        answer = assistant.chat(messages)  # warm-up (and the plan recorded)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            assistant.chat(messages)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        plan = assistant.plan(messages)
        plan_s = time.perf_counter() - t
        rows.append(
            {
                "operation": op,
                "planned": plan.op,
                "median_s": round(statistics.median(times), 3),
                "max_s": round(max(times), 3),
                "plan_s": round(plan_s, 3),
                "written_by": answer.written_by,
                "answer_chars": len(answer.text),
            }
        )
        print(rows[-1], flush=True)
    medians = [r["median_s"] for r in rows]
    report(
        {
            "threads": args.threads,
            "repeats": args.repeats,
            "median_turn_s": statistics.median(medians),
            "slowest_operation": max(rows, key=lambda r: r["median_s"])["operation"],
            "turns": rows,
        },
        args.out,
        provenance(None, DEFAULT_MODEL_DIR),
    )


if __name__ == "__main__":
    main()

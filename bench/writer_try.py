"""Try a model's writer on generated conversations of a tuning seed: each answer (the writer's own text, also
when the checker rejected it), why answers fell back, and the share written by the decoder.

    python bench/writer_try.py MODEL_DIR N SEED [SHOW]

MODEL_DIR: a model folder with ``writer/``; N conversations from ``data_gen/planning.py`` with seed SEED (not
the seed of ``agrochat eval --answers``, 2), sequences from ``tests/fixtures``; SHOW: how many to print.
"""

import sys
import time
from collections import Counter

from agrochat.chat import Assistant
from agrochat.chat.phrasings import fixture_pools, with_sequences
from agrochat.data_gen.planning import generate
from agrochat.domain.evidence import decoder_share


def main() -> None:
    model, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    show = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    a = Assistant.from_pretrained(model)
    if a.writer is None:
        sys.exit(f"{model} has no writer/")
    raw: list[str] = []
    write = a.writer.write

    def recorded(*args, **kw):  # the writer's text, kept also when the answer falls back
        raw.append(write(*args, **kw))
        return raw[-1]

    a.writer.write = recorded
    convos = generate(a.known_keys, fixture_pools("tests/fixtures"), n, seed=seed)
    ok, shares, times, why, ops = 0, [], [], Counter(), Counter()
    for i, ex in enumerate(convos):
        msgs = with_sequences(ex.messages, ex.sequences)
        t = time.perf_counter()
        ans = a.chat(msgs)
        times.append(time.perf_counter() - t)
        good = ans.written_by == "decoder"
        ok += good
        ops[(ans.intent.op, good)] += 1
        shares.append(decoder_share(ans.text, ans.evidence) if good else 0)
        why.update(" ".join(p.split()[:2]) for p in ans.problems)
        if i < show:
            print(f"--- {ans.intent.op} {'OK' if good else 'FALLBACK ' + '; '.join(ans.problems[:3])}")
            print("Q:", msgs[-1]["content"][:200].replace("\n", " "))
            print("A:", (ans.text if good else raw[-1])[:700])
    m = len(convos)
    print(f"\n{ok}/{m} decoder-written; share {sum(shares) / m:.3f}; median {sorted(times)[m // 2]:.2f} s")
    print(sorted(ops.items()))
    print(why.most_common(15))


if __name__ == "__main__":
    main()

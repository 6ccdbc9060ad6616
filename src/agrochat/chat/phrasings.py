"""Score how a turn is planned on a phrasing set written apart from the code (``bench/phrasings/``).

Each line of a set is ``{"id", "messages", "op", "keys", "args"}``: a conversation whose user turns hold
placeholders for sequences (``{P1}``..``{P3}`` promoters, ``{T1}``/``{T2}`` terminators, optionally with a paste
format: ``{P1|fasta}``, ``|genbank``, ``|blocks``, ``|lower``, ``|rna``) and the plan of its last user turn. The
placeholders are filled with real training sequences as people paste them; a plan is right when its operation and
its set of keys equal the set's (keys are empty for turns without a number).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from agrochat.domain.operations import NUMBER_OPS

SLOT = re.compile(r"\{([PT][1-9])(?:\|(\w+))?\}")


def load_set(path: str | Path) -> list[dict]:
    rows = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not {"messages", "op", "keys"} <= set(row):
                raise ValueError(f"{path}:{n}: a phrasing needs messages, op and keys")
            rows.append(row)
    return rows


def render(seq: str, fmt: str | None, name: str) -> str:
    """``seq`` as a person would paste it: plain, FASTA, GenBank numbered lines, 10-base blocks, lower case, RNA."""
    if fmt in (None, "", "plain"):
        return seq
    if fmt == "lower":
        return seq.lower()
    if fmt == "rna":
        return seq.replace("T", "U")
    if fmt == "fasta":
        return f"\n>{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n"
    blocks = [seq[i : i + 10].lower() for i in range(0, len(seq), 10)]
    if fmt == "blocks":
        return " ".join(b.upper() for b in blocks)
    if fmt == "genbank":
        lines = [f"{i * 10 + 1:>9} " + " ".join(blocks[i : i + 6]) for i in range(0, len(blocks), 6)]
        return "\nORIGIN\n" + "\n".join(lines) + "\n//\n"
    raise ValueError(f"unknown paste format {fmt!r}")


def fill(messages: list[dict], promoters: list[str], terminators: list[str]) -> list[dict]:
    """The conversation with every placeholder replaced by a sequence (``P<n>`` the n-th promoter)."""

    def one(m: re.Match) -> str:
        kind, idx = m.group(1)[0], int(m.group(1)[1]) - 1
        pool = promoters if kind == "P" else terminators
        return render(pool[idx % len(pool)], m.group(2), m.group(1).lower())

    return [{**m, "content": SLOT.sub(one, str(m.get("content", "")))} for m in messages]


def score_plans(
    plan: Callable[[list[dict]], object],
    rows: list[dict],
    promoters: list[str],
    terminators: list[str],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Accuracy of ``plan`` (messages -> an object with ``op``, ``keys`` and ``vetoes``) on ``rows``: overall, per
    operation, on refusals (no number) and the vetoes it needed. A turn that raises a user error counts as wrong
    unless the set expects no number."""
    from agrochat.errors import AgrochatError

    per_op: dict[str, list[bool]] = {}
    misses, vetoes, times = [], 0, []
    for n, row in enumerate(rows):
        messages = fill(row["messages"], promoters, terminators)
        t = time.perf_counter()
        try:
            got = plan(messages)
            op, keys, v = (
                got.op,
                set(got.keys) if got.op in NUMBER_OPS else set(),
                len(getattr(got, "vetoes", ())),
            )
        except AgrochatError as e:
            op, keys, v = f"error: {e}", set(), 0
        times.append(time.perf_counter() - t)
        vetoes += bool(v)
        ok = op == row["op"] and keys == set(row["keys"])
        per_op.setdefault(row["op"], []).append(ok)
        if not ok:
            misses.append(
                {
                    "id": row.get("id"),
                    "expected": row["op"],
                    "got": op,
                    "expected_keys": sorted(row["keys"]),
                    "got_keys": sorted(keys),
                }
            )
        if progress is not None:
            progress(n + 1, len(rows))
    flat = [x for v in per_op.values() for x in v]
    refusals = per_op.get("refuse", [])
    return {
        "n": len(flat),
        "accuracy": sum(flat) / max(len(flat), 1),
        "refusals": {"n": len(refusals), "accuracy": sum(refusals) / max(len(refusals), 1)},
        "per_op": {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(per_op.items())},
        "turns_with_veto": vetoes,
        "median_seconds": sorted(times)[len(times) // 2] if times else 0.0,
        "misses": misses,
    }


def fixture_sequences(root: str | Path) -> tuple[list[str], list[str]]:
    """Maize promoters and terminators of the training fixtures under ``root`` (``tests/fixtures``)."""
    root = Path(root)
    promoters, terminators = [], []
    for line in (root / "promoters_leaf_64.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[1] == "Zm":
            promoters.append(parts[3])
    for line in (root / "terminators_train_8.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and not line.startswith("#") and parts[0] != "id":
            terminators.append(parts[4])
    return promoters, terminators


def evaluate_plans(
    assistant,
    rows: list[dict],
    promoters: list[str],
    terminators: list[str],
    progress=None,
    baselines: dict | None = None,
) -> dict:
    """Planning accuracy on ``rows`` for the decoder's plan (when the model has a planner; ``decoder_ungrounded``:
    the same without the validator's holding of its keys to what the words name, :mod:`agrochat.chat.named`), each of
    ``baselines`` (name -> another :class:`~agrochat.bridge.planner.Planner` on the same model, e.g. one trained
    on the embeddings alone), and the rules alone."""
    from .planning import DecoderPlanner

    modes = {}
    if assistant.planner is not None:
        modes["decoder"] = lambda m: assistant.plan(m, planner="decoder")
        loose = DecoderPlanner(
            assistant.planner, assistant.known_keys, kind=assistant.kind, ground_keys=False
        )
        modes["decoder_ungrounded"] = lambda m: _plain_then(loose.plan, m)
    for name, planner in (baselines or {}).items():
        other = DecoderPlanner(planner, assistant.known_keys, kind=assistant.kind)
        modes[name] = lambda m, other=other: _plain_then(other.plan, m)
    modes["rules"] = lambda m: assistant.plan(m, planner="rules")
    out = {}
    for name, plan in modes.items():
        tick = (lambda d, t, name=name: progress(name, d, t)) if progress else None
        out[name] = score_plans(plan, rows, promoters, terminators, tick)
    return out


def _plain_then(plan, messages):
    from .paste import plain_pastes

    return plan(plain_pastes(messages))


def plans_table(results: dict) -> str:
    """A markdown table: one row per planner, overall, refusals, vetoes, then per operation."""
    ops = sorted({op for r in results.values() for op in r["per_op"]})
    head = (
        "| planner | n | plan accuracy | refusals | turns with a veto | median s | " + " | ".join(ops) + " |"
    )
    rows = [head, "|" + "---|" * (6 + len(ops))]
    for name, r in results.items():
        per = " | ".join(f"{r['per_op'][o]['accuracy']:.0%}" if o in r["per_op"] else "" for o in ops)
        rows.append(
            f"| {name} | {r['n']} | {r['accuracy']:.1%} | {r['refusals']['accuracy']:.0%} of {r['refusals']['n']} | "
            f"{r['turns_with_veto']} | {r['median_seconds']:.2f} | {per} |"
        )
    return "\n".join(rows)


def fixture_pools(root: str | Path):
    """The training fixtures under ``root`` as planning pools (promoters with their species, terminators)."""
    from agrochat.data_gen.planning import Pools

    root = Path(root)
    promoters = []
    for line in (root / "promoters_leaf_64.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and not line.startswith("#") and parts[0] != "id":
            promoters.append((parts[3], parts[1]))
    return Pools(promoters, fixture_sequences(root)[1])


def plan_examples(rows: list[dict], pools, seed: int = 0) -> tuple[list, int]:
    """Planning examples (:class:`~agrochat.data_gen.planning.PlanExample`) from a phrasing set, to train on: each
    row's placeholders filled with random training sequences of ``pools`` (``load_pools``), pasted as the row says
    and read as a turn is read (:func:`~agrochat.chat.paste.plain_pastes`, then ``<dna>`` placeholders). The turn's
    sequences are those its compare names, else those its last user turn pastes. Returns the examples and how many
    rows were skipped (a paste not read as one sequence)."""
    import random

    from agrochat.data_gen.planning import PlanExample
    from agrochat.domain.operations import GOALS
    from agrochat.errors import AgrochatError

    from .paste import plain_pastes
    from .planning import with_placeholders

    rng = random.Random(seed)
    out, skipped = [], 0
    for row in rows:
        promoters = [rng.choice(pools.promoters)[0] for _ in range(9)]
        terminators = [rng.choice(pools.terminators) for _ in range(9)]
        users = [m for m in row["messages"] if m["role"] == "user"]
        names = [m.group(1) for u in users for m in SLOT.finditer(u["content"])]
        last = [m.group(1) for m in SLOT.finditer(users[-1]["content"])]
        try:
            convo, seqs = with_placeholders(plain_pastes(fill(row["messages"], promoters, terminators)))
        except AgrochatError:  # a paste the reader rejects: not an example
            skipped += 1
            continue
        if len(seqs) != len(names):
            skipped += 1
            continue
        if row["op"] == "compare" and row.get("args", {}).get("sequences"):
            targets = [names.index(n) for n in row["args"]["sequences"] if n in names]
        elif row["op"] in NUMBER_OPS and last:
            targets = list(range(len(names) - len(last), len(names)))
        else:
            targets = []
        goal = row.get("args", {}).get("goal") if row["op"] == "design" else "none"
        out.append(
            PlanExample(
                messages=convo,
                sequences=seqs,
                op=row["op"],
                keys=tuple(row["keys"]),
                targets=tuple(sorted(set(targets))),
                goal=goal if goal in GOALS else ("stronger" if row["op"] == "design" else "none"),
                kinds=["terminator" if n[0] == "T" else "promoter" for n in names],
            )
        )
    return out, skipped


def written_examples(
    paths: list[str | Path], pools, valid_every: int = 7, fills: int = 2
) -> tuple[list, list]:
    """Train and validation planning examples from phrasing sets written by people: a row is validation when a
    hash of its file name and id falls in 1 of ``valid_every``; training rows are filled ``fills`` times (other
    sequences each time)."""
    import zlib

    train_rows, valid_rows = [], []
    for path in paths:
        for row in load_set(path):
            tag = f"{Path(path).name}:{row.get('id')}".encode()
            (valid_rows if zlib.crc32(tag) % valid_every == 0 else train_rows).append(row)
    train = [ex for seed in range(fills) for ex in plan_examples(train_rows, pools, seed=seed)[0]]
    return train, plan_examples(valid_rows, pools, seed=100)[0]


def with_sequences(messages: list[dict], sequences: list[str]) -> list[dict]:
    """``messages`` with their ``<dna>`` placeholders replaced by ``sequences``, in order."""
    it = iter(sequences)
    return [{**m, "content": re.sub("<dna>", lambda _: next(it), str(m["content"]))} for m in messages]


def evaluate_answers(assistant, n: int, root: str | Path, seed: int = 2, progress=None) -> dict:
    """``n`` generated conversations (every operation; :mod:`agrochat.data_gen.planning`, a seed of their own)
    answered by ``assistant``: how many answers the decoder wrote (the rest fell back to the plain rendering,
    with why), the share of their characters it wrote, whether every number equals ``predict()`` for its sequence
    and key, and the time per turn."""
    from agrochat.data_gen.planning import generate
    from agrochat.domain.evidence import Value, check, decoder_share
    from agrochat.errors import AgrochatError

    convos = generate(assistant.known_keys, fixture_pools(root), n, seed=seed)
    per_op: dict[str, dict] = {}
    times, shares, fallbacks, mismatches, violations, errors = [], [], [], 0, 0, 0
    for i, ex in enumerate(convos):
        messages = with_sequences(ex.messages, ex.sequences)
        t = time.perf_counter()
        try:
            ans = assistant.chat(messages)
        except AgrochatError:
            errors += 1
            continue
        times.append(time.perf_counter() - t)
        op = ans.intent.op
        row = per_op.setdefault(op, {"n": 0, "decoder": 0, "share": []})
        row["n"] += 1
        ok = ans.written_by == "decoder"
        row["decoder"] += ok
        share = decoder_share(ans.text, ans.evidence) if ok else 0.0
        shares.append(share)
        row["share"].append(share)
        if (
            ans.problems
        ):  # the writer's answer failed the check (no writer: no problems, the template answers)
            fallbacks.append({"op": op, "problems": list(ans.problems)[:3]})
        vocab = assistant.writer.vocabulary if assistant.writer is not None else None
        violations += bool(ok and check(ans.text, ans.evidence, vocab, messages[-1].get("content", "")))
        for item in ans.evidence.items if ans.evidence else []:
            if isinstance(item, Value):
                seq = ans.intent.sequences[ans.intent.labels.index(item.label)]
                want = assistant.predict(seq, *item.key.split("/", 1), explanations=False)[0].value
                mismatches += abs(want - item.value) > 1e-6
        if progress is not None:
            progress(i + 1, len(convos))
    m = len(times)
    return {
        "n": m,
        "writer": assistant.writer is not None,
        "errors": errors,
        "decoder_written": sum(r["decoder"] for r in per_op.values()) / max(m, 1),
        "fallbacks": len(fallbacks),
        "fallback_rate": len(fallbacks) / max(m, 1),
        "decoder_share": sum(shares) / max(m, 1),
        "check_violations": violations,
        "number_mismatches": mismatches,
        "median_seconds": sorted(times)[m // 2] if m else 0.0,
        "per_op": {
            k: {"n": r["n"], "decoder": r["decoder"] / r["n"], "share": sum(r["share"]) / r["n"]}
            for k, r in sorted(per_op.items())
        },
        "fallback_examples": fallbacks[:20],
    }

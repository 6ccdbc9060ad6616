"""Score a model on benchmark rows with the fast path, beside the authors' CNN predictions on the same rows."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from agrochat.bridge.generate import generate_batch, numbers_needed
from agrochat.train.metrics import regression_metrics

from .assistant import Assistant
from .baselines import KmerRidge


def evaluate_fast(
    assistant: Assistant,
    data_dir: str | Path | None = None,
    split: str = "validation",
    keys: list[str] | None = None,
    limit: int = 0,
    batch_size: int = 64,
    seed: int = 0,
    progress=None,
    ridge: bool = True,
) -> dict:
    """Per-key metrics of the fast path on ``split`` rows, of the published CNN where it has predictions, and of
    a k-mer ridge baseline trained on our train split (``ridge``), all on the same rows.

    ``limit`` > 0 scores a deterministic random subset of that many rows per key. The official test split is read
    only when asked for (``split="test"``). A key asked for without rows in ``split`` raises
    :class:`~agrochat.data_gen.errors.NoSplitRowsError`; with ``keys=None``, every known key that has rows is
    scored. Returns
    ``{key: {"n", "ours": metrics, "ours_on_cnn_rows": metrics, "cnn": metrics, "ridge": metrics, "seconds"}}``.
    """
    from agrochat.data_gen.regression import load_regression_rows, rows_by_key

    asked = keys is not None
    keys = [k for k in (keys or assistant.known_keys) if k in assistant.known_keys]
    by_key = rows_by_key(data_dir, split, keys, required=asked)
    out = {}
    for key, rs in sorted(by_key.items()):
        if limit and len(rs) > limit:
            idx = np.sort(np.random.default_rng(seed).choice(len(rs), size=limit, replace=False))
            rs = [rs[i] for i in idx]
        t = time.perf_counter()
        task, tissue = key.split("/", 1)
        preds = []
        for i in range(0, len(rs), batch_size):
            chunk = rs[i : i + batch_size]
            preds += assistant.predict(
                [r["sequence"] for r in chunk],
                task=task,
                tissue=tissue,
                batch_size=batch_size,
                explanations=False,
            )
            if progress is not None:
                progress(key, i + len(chunk), len(rs))
        y = np.array([r["target"] for r in rs])
        p = np.array([x.value for x in preds])
        s = np.array([x.uncertainty for x in preds])
        bounds = {
            name: tuple(np.array([getattr(x, f"interval{name}")[j] for x in preds]) for j in (0, 1))
            for name in ("68", "95")
        }
        has = np.array([r["baseline"] is not None for r in rs])
        flagged = np.array([x.ood for x in preds])
        res = {
            "n": len(rs),
            "ours": regression_metrics(p, y, s, bounds),
            "seconds": time.perf_counter() - t,
            "ood_flagged": int(flagged.sum()),
            "ood_share": float(flagged.mean()) if len(rs) else 0.0,
            "unit": assistant.registry.get(key).unit,
            "points": {  # rounded: plots and re-analysis need no more, and the JSON stays small
                "target": _rounded(y),
                "pred": _rounded(p),
                "std": _rounded(s),
                **{
                    f"{side}{name}": _rounded(b[j])
                    for name, b in bounds.items()
                    for j, side in enumerate(("lo", "hi"))
                },
            },
        }
        if has.any():
            b = np.array([r["baseline"] for r, h in zip(rs, has, strict=True) if h], dtype=float)
            res["ours_on_cnn_rows"] = regression_metrics(
                p[has], y[has], s[has], {n: (b[0][has], b[1][has]) for n, b in bounds.items()}
            )
            res["cnn"] = regression_metrics(b, y[has])
        if ridge:
            model = KmerRidge().fit(
                *_xy(load_regression_rows(data_dir, "train", keys=[key])),
                *_xy(load_regression_rows(data_dir, "validation", keys=[key])),
            )
            res["ridge"] = regression_metrics(model.predict([r["sequence"] for r in rs]), y)
            res["ridge"]["lambda"] = model.lam
        out[key] = res
    return out


def _rounded(x: np.ndarray, decimals: int = 5) -> list[float]:
    return np.round(np.asarray(x, dtype=float), decimals).tolist()


def _xy(rows: list[dict]) -> tuple[list[str], list[float]]:
    return [r["sequence"] for r in rows], [r["target"] for r in rows]


def markdown_table(results: dict) -> str:
    """The results as a Markdown table (ours vs CNN on the same rows)."""
    lines = [
        "| task / tissue | n | ours R² | ours Pearson | ours Spearman | 68% / 95% coverage | OOD flagged | "
        "k-mer ridge R² | ridge Pearson | CNN rows | ours R² (CNN rows) | CNN R² | CNN Pearson | CNN Spearman |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    f = "{:.3f}".format
    for key, r in results.items():
        o, c, oc = r["ours"], r.get("cnn"), r.get("ours_on_cnn_rows")
        cov = f"{o.get('cover68', float('nan')):.2f} / {o.get('cover95', float('nan')):.2f}"
        row = [
            key,
            str(r["n"]),
            f(o.get("r2", np.nan)),
            f(o.get("pearson", np.nan)),
            f(o.get("spearman", np.nan)),
            cov,
            f"{r.get('ood_share', 0.0):.1%}",
        ]
        rg = r.get("ridge", {})
        row += [f(rg.get("r2", np.nan)), f(rg.get("pearson", np.nan))]
        if c:
            row += [
                str(c["n"]),
                f(oc.get("r2", np.nan)),
                f(c.get("r2", np.nan)),
                f(c.get("pearson", np.nan)),
                f(c.get("spearman", np.nan)),
            ]
        else:
            row += ["–"] * 5
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def published_table(results: dict) -> str:
    """Published Pearson r (other models, their own runs; not our rows) beside ours, for the keys they report."""
    from .report import PUBLISHED_PEARSON

    keys = [k for k in results if any(k in v for v in PUBLISHED_PEARSON.values())]
    if not keys:
        return ""
    lines = [
        "| published (Pearson r, read from the ChatNT paper's figure; not our rows) | "
        + " | ".join(keys)
        + " |",
        "|---|" + "---:|" * len(keys),
    ]
    lines.append(
        "| agrochat (this run) | "
        + " | ".join(f"{results[k]['ours'].get('pearson', np.nan):.3f}" for k in keys)
        + " |"
    )
    for name, per_key in PUBLISHED_PEARSON.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{per_key[k]:.2f}" if k in per_key else "–" for k in keys) + " |"
        )
    return "\n".join(lines)


def save(results: dict, path: str | Path) -> None:
    """``results`` as indented JSON, each list of numbers on one line (the points would take a line each)."""
    text = json.dumps(results, indent=1)
    text = NUMBER_LIST.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    Path(path).write_text(text + "\n")


NUMBER_LIST = re.compile(r"\[(\n[-0-9.eE,\s]+)\]")  # as indent=1 writes it: "[\n" (never inside a string)


NUMBER = re.compile(r"(-?\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?)")  # a value the head wrote at <num>
ANY_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")  # digits the decoder wrote itself


def evaluate_generated(
    assistant: Assistant,
    data_dir: str | Path | None = None,
    split: str = "validation",
    keys: list[str] | None = None,
    n: int = 50,
    seed: int = 0,
    max_new_tokens: int = 48,
    progress=None,
    batch_size: int = 32,
    require_numbers: bool = True,
) -> dict:
    """Ask ``n`` questions per key in natural language (varied phrasings of the training templates) about rows of
    ``split`` (the official test split only when asked for), let the model generate the whole answer (greedy,
    batched), parse the number out of the text, and score it against the label.

    A number written by the head at ``<num>`` (``x ± s``) is preferred; otherwise the first number the decoder
    wrote as digits is taken (and counted as such). Also reports parse failures (answers without any number) and
    agreement with the fast path on the same rows (head models).

    ``require_numbers`` (decoding rule, see :mod:`agrochat.bridge.generate`): the answer may not end before its
    ``<num>``; ``answers_held_open`` counts the answers where that rule changed the text (ending was the decoder's
    first choice before the number). ``False`` measures the decoder alone."""
    from agrochat.data_gen.regression import rows_by_key
    from agrochat.domain import prompts as Q

    asked = keys is not None
    keys = [k for k in (keys or assistant.known_keys) if k in assistant.known_keys]
    by_key = rows_by_key(data_dir, split, keys, required=asked)
    rng = np.random.default_rng(seed)
    model = assistant.model
    out = {}
    for key, rows in by_key.items():
        rows = [rows[i] for i in np.sort(rng.choice(len(rows), size=min(n, len(rows)), replace=False))]
        task, tissue = key.split("/", 1)
        kind = "terminator" if task == "terminator_strength" else "promoter"
        spec = assistant.registry.get(key)
        t = time.perf_counter()
        questions = []
        for _ in rows:
            template = Q.SINGLE_Q[kind][rng.integers(len(Q.SINGLE_Q[kind]))]
            questions.append(
                template.format(sys=Q.system_names(key)[rng.integers(len(Q.system_names(key)))], dna=Q.DNA)
            )
        texts: list[str] = []
        held: list[int] = []  # indices of the answers the rule held open
        forced: list[int] = []  # indices of the answers whose <num> was forced at the end of the token budget
        for i in range(0, len(rows), batch_size):
            prompts = [
                ([{"role": "user", "content": q}], [r["sequence"]])
                for q, r in zip(questions[i : i + batch_size], rows[i : i + batch_size], strict=True)
            ]
            gens = generate_batch(
                model,
                prompts,
                [[key]] * len(prompts),
                max_new_tokens=max_new_tokens,
                formatter=lambda v, spec=spec: spec.format_value(v.value, v.std),
                require_numbers=require_numbers,
            )
            held += [len(texts) + j for j, g in enumerate(gens) if g.held_open]
            forced += [len(texts) + j for j, g in enumerate(gens) if g.forced]
            texts += [g.text for g in gens]
            if progress is not None:
                progress(key, len(texts), len(rows))
        seconds = time.perf_counter() - t
        fast_all = (
            [
                p.value
                for p in assistant.predict(
                    [r["sequence"] for r in rows], task=task, tissue=tissue, explanations=False, batch_size=64
                )
            ]
            if model.config.numeric == "head"
            else None
        )
        qa = [f"Q: {q}\nA: {a}" for q, a in zip(questions, texts, strict=True)]
        gen, fast, y, failures, from_head, examples = [], [], [], 0, 0, []
        for i, (r, text) in enumerate(zip(rows, texts, strict=True)):
            m = NUMBER.search(text)
            if m is not None:
                from_head += 1
            else:  # the decoder wrote digits as text instead of emitting <num>
                m = ANY_NUMBER.search(text.replace("N. benthamiana", ""))
            if m is None:
                failures += 1
                examples.append(qa[i])
                continue
            gen.append(float(m.group(1) if m.re is NUMBER else m.group(0)))
            y.append(r["target"])
            if fast_all is not None:
                fast.append(fast_all[i])
        res = {
            "n": len(rows),
            "parse_failures": failures,
            "require_numbers": numbers_needed(model.config, [key], require_numbers) > 0,
            "answers_held_open": len(held),
            "answers_forced_at_budget": len(forced),
            "forced_answers": [qa[i] for i in forced],
            "numbers_from_head": from_head,
            "numbers_as_generated_digits": len(gen) - from_head,
            "seconds": seconds,
            "questions_per_s": len(rows) / max(seconds, 1e-9),
            "failed_answers": examples,
            "held_open_answers": [qa[i] for i in held],
            "example_answers": qa[:3],
        }
        if gen:
            g = np.array(gen)
            res["generated"] = regression_metrics(g, y)
            if fast:
                f = np.array(fast)
                res["agreement_with_fast_path"] = {
                    "mean_abs_diff": float(np.abs(g - f).mean()),
                    "max_abs_diff": float(np.abs(g - f).max()),
                    "pearson": regression_metrics(g, f).get("pearson"),
                }
        out[key] = res
    return out


def evaluate_intents(known_keys: list[str], sequence: str = "ACGT" * 10) -> dict:
    """How the assistant reads held-out phrasings (:mod:`agrochat.data_gen.heldout`, never trained on): the key of
    every number, a ranking over a species' tissues, or a refusal with no number for a place it has no
    measurement for. Returns accuracy per group and overall, and the failures."""
    from agrochat.data_gen import heldout as H

    from .dialogue import Resolver

    resolver = Resolver(known_keys)
    cases: list[tuple[str, str, str, tuple]] = []  # (group, question, op, keys)
    for phrasing, task in H.SYSTEM_PHRASINGS:
        for system, words in H.SYSTEM_WORDS.items():
            for w in words:
                cases.append(
                    ("system", phrasing.format(sys=w, dna=sequence), "predict", (f"{task}/{system}",))
                )
    for phrasing in H.TISSUE_PHRASINGS:
        for species, organ, key in H.TISSUE_WORDS:
            cases.append(
                ("tissue", phrasing.format(species=species, organ=organ, dna=sequence), "predict", (key,))
            )
    for phrasing in H.RANK_PHRASINGS:
        for species in ("maize", "sorghum"):
            keys = tuple(k for k in known_keys if k.startswith(f"tissue_expression/{species}:"))
            cases.append(("rank", phrasing.format(species=species, dna=sequence), "rank", keys))
    for phrasing in H.REFUSAL_PHRASINGS:
        for where in H.UNKNOWN_PLACES:
            cases.append(("refusal", phrasing.format(where=where, dna=sequence), "refuse", ()))
    for phrasing in H.STRENGTH_REFUSAL_PHRASINGS:
        for where in H.STRENGTH_ONLY_PLACES:
            cases.append(("refusal", phrasing.format(where=where, dna=sequence), "refuse", ()))
    groups: dict[str, list[bool]] = {}
    failures = []
    for group, question, op, keys in cases:
        if any(k not in known_keys for k in keys):
            continue
        got = resolver.resolve([{"role": "user", "content": question}])
        ok = got.op == op and (op == "refuse" or tuple(dict.fromkeys(got.keys)) == keys)
        groups.setdefault(group, []).append(ok)
        if not ok:
            failures.append(
                {
                    "question": question.replace(sequence, "<dna>"),
                    "expected": [op, *keys][:3],
                    "got": [got.op, *got.keys][:3],
                }
            )
    flat = [x for v in groups.values() for x in v]
    return {
        "accuracy": float(np.mean(flat)) if flat else 0.0,
        "n": len(flat),
        "groups": {g: {"accuracy": float(np.mean(v)), "n": len(v)} for g, v in groups.items()},
        "failures": failures,
    }

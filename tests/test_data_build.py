"""Dataset build on the shipped mini fixtures: splits, leaks, slots, explanations, determinism, outputs."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import pytest
from datasets import load_from_disk
from typer.testing import CliRunner

from agrochat.data_gen.build import SPLITS, BuildConfig, build_dataset, run_build
from agrochat.data_gen.cli import app
from agrochat.data_gen.collect import collect_measurements
from agrochat.data_gen.conversations import (
    ConversationBuilder,
    ConversationConfig,
    Plan,
    count_slots,
    plan_conversations,
)
from agrochat.data_gen.paths import MINI_DATA_DIR
from agrochat.data_gen.regression import load_regression_rows
from agrochat.data_gen.sources import OTHER_CONDITIONS, PROMOTER_TEST, PROMOTER_TRAIN
from agrochat.data_gen.splits import check_disjoint
from agrochat.domain import tasks as T
from agrochat.domain.effects import load_effects
from agrochat.domain.explain import MENTION_RE, explain, mention_name
from agrochat.domain.motifs import annotate
from agrochat.domain.registry import load_registry

FAMILY = {
    T.PROMOTER: "promoter",
    T.SYNTHETIC: "promoter",
    T.NATURAL: "promoter",
    T.TISSUE: "promoter",
    T.TERMINATOR: "terminator",
}


def _tsv(rel: str) -> list[dict]:
    with open(MINI_DATA_DIR / rel) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def result():
    return run_build(BuildConfig(data_dir=MINI_DATA_DIR, seed=0))


@pytest.fixture(scope="module")
def rows(result):
    return [r for s in SPLITS for r in result.dataset[s]]


def test_every_task_and_split_present(result):
    tasks = {t for (t, _) in result.counts}
    assert tasks == {T.PROMOTER, T.SYNTHETIC, T.NATURAL, T.TERMINATOR, T.TISSUE}
    for split in SPLITS:
        assert len(result.dataset[split]) > 0
    assert result.dataset["train"].column_names == [
        "id",
        "task",
        "tissue",
        "split",
        "sequences",
        "messages",
        "targets",
        "target_keys",
        "baseline",
    ]


def test_no_gene_in_two_splits():
    measurements, _ = collect_measurements(MINI_DATA_DIR)
    assert check_disjoint(measurements) == []
    where = defaultdict(set)
    for m in measurements:
        for g in m.genes:
            where[(m.kind, g)].add(m.split)
    assert where and all(len(s) == 1 for s in where.values())
    # validation really is carved out by gene group
    assert {m.split for m in measurements} == {"train", "validation", "test"}


def test_no_test_sequence_in_train_or_validation(rows):
    test_seqs = {r["sequence"] for s in ("leaf", "protoplast") for r in _tsv(PROMOTER_TEST[s])}
    raw_train = {r["sequence"] for s in ("leaf", "protoplast") for r in _tsv(PROMOTER_TRAIN[s])}
    assert raw_train & test_seqs, "fixture must contain cross-system leaks for this test to mean anything"
    for r in rows:
        if r["split"] != "test" and FAMILY[r["task"]] == "promoter":
            assert not set(r["sequences"]) & test_seqs, r["id"]
    seq_split = defaultdict(set)
    for r in rows:
        for s in r["sequences"]:
            seq_split[(FAMILY[r["task"]], s)].add(r["split"])
    assert all(len(v) == 1 for v in seq_split.values())


def test_natural_promoters_never_leak_test_promoters(result, rows):
    """natural_promoter rows whose sequence or gene is an official test promoter are dropped, never trained on."""
    test_rows = [r for s in ("leaf", "protoplast") for r in _tsv(PROMOTER_TEST[s])]
    test_seqs = {r["sequence"] for r in test_rows}
    test_genes = {g for r in test_rows for g in r["gene"].replace("/", ";").split(";") if g}
    raw = {cond: _tsv(rel) for cond, rel in OTHER_CONDITIONS.items()}
    leaking = {cond: sum(r["sequence"] in test_seqs for r in rs) for cond, rs in raw.items()}
    assert sum(leaking.values()) >= 4, "fixture must contain natural promoters that are test promoters"
    measurements, _ = collect_measurements(MINI_DATA_DIR)
    natural = [m for m in measurements if m.key.startswith(T.NATURAL + "/")]
    assert {m.key for m in natural} == {T.make_key(T.NATURAL, c) for c in T.NATURAL_CONDITIONS}
    assert {m.split for m in natural} == {"train", "validation"}
    for m in natural:
        assert m.sequence not in test_seqs and not set(m.genes) & test_genes, m.source
    dropped = result.collect.split.dropped
    for cond, n in leaking.items():
        assert dropped[(T.make_key(T.NATURAL, cond), "sequence in a test set")] == n
    # and in the rendered conversations: no natural_promoter train/validation sequence is a test-split promoter
    split_test = {
        s for r in rows if r["split"] == "test" and FAMILY[r["task"]] == "promoter" for s in r["sequences"]
    }
    assert split_test >= test_seqs
    checked = 0
    for r in rows:
        if r["split"] != "test" and any(k.startswith(T.NATURAL + "/") for k in r["target_keys"]):
            assert not set(r["sequences"]) & split_test, r["id"]
            checked += 1
    assert checked > 50


def test_natural_promoter_conversations(rows):
    natural = [r for r in rows if any(k.startswith(T.NATURAL + "/") for k in r["target_keys"])]
    styles = {r["id"].split("-")[0] for r in natural}
    assert {"single", "why", "followup", "compare"} <= styles and "implicit" not in styles
    assert any(T.PROMOTER + "/leaf" in r["target_keys"] for r in natural if r["id"].startswith("cross-")), (
        "cross rows ask about the benchmark and the other conditions of one promoter"
    )
    for r in natural:
        if r["task"] == T.NATURAL and len(set(r["target_keys"])) == 1:
            text = " ".join(m["content"] for m in r["messages"])
            assert "enhancer" in text and ("light" in text or "dark" in text), r["id"]
            assert "synthetic" not in text, r["id"]


def test_natural_promoters_leave_other_rows_unchanged(tmp_path):
    """Adding the natural-promoter source changes neither the splits nor the conversations of the other keys."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(MINI_DATA_DIR, data)
    shutil.rmtree(data / "promoters" / "jores2021_other_conditions")
    before, _ = collect_measurements(data)
    after, _ = collect_measurements(MINI_DATA_DIR)
    other = [m for m in after if not m.key.startswith(T.NATURAL + "/")]
    assert sorted((m.key, m.sequence, m.split, m.group) for m in before) == sorted(
        (m.key, m.sequence, m.split, m.group) for m in other
    )
    config = ConversationConfig(seed=0)
    plans_before = {p.uid for p in plan_conversations(before, config)}
    plans_after = {
        p.uid
        for p in plan_conversations(after, config)
        if not any(m.key.startswith(T.NATURAL + "/") for m in p.rows)
    }
    assert plans_before == plans_after


def test_leaks_are_counted(result):
    dropped = result.collect.split.dropped
    assert dropped[("promoter_strength/leaf", "sequence in a test set")] > 0
    assert dropped[("promoter_strength/protoplast", "sequence in a test set")] > 0
    assert dropped[("terminator_strength/leaf", "gene in a test set")] > 0


def test_slots_match_targets(rows):
    for r in rows:
        nums, dnas = count_slots(r)
        assert nums == len(r["targets"]) == len(r["target_keys"]) >= 1, r["id"]
        assert dnas == len(r["sequences"]), r["id"]
        assert all(m["role"] in ("user", "assistant") for m in r["messages"])
        assert r["messages"][0]["role"] == "user" and r["messages"][-1]["role"] == "assistant"
        if len(r["targets"]) > 1:
            assert r["baseline"] is None
        assert all(k in load_registry() for k in r["target_keys"])


def test_targets_and_baselines_come_from_sources(rows):
    measured = {r["sequence"]: r for r in _tsv(PROMOTER_TEST["leaf"])}
    checked = 0
    for r in rows:
        if r["split"] == "test" and r["target_keys"] == ["promoter_strength/leaf"]:
            src = measured[r["sequences"][0]]
            assert r["targets"][0] == pytest.approx(float(src["enrichment"]))
            pred = src["jores_cnn_prediction"]
            assert r["baseline"] == (None if pred == "NA" else pytest.approx(float(pred)))
            checked += 1
    assert checked >= 10


def test_explanations_only_mention_found_motifs(result, rows):
    effects, registry = (
        load_effects(),
        result.registry,
    )  # the build's own registry (GC medians of its train rows)
    explained = 0
    for r in rows:
        style = r["id"].split("-")[0]
        if style not in ("why", "followup"):
            continue
        key = r["target_keys"][0]
        kind = "terminator" if r["task"] == T.TERMINATOR else "promoter"
        ann = annotate(r["sequences"][0], kind=kind)
        text = r["messages"][-1]["content"]
        found = ann.names()
        mentioned = {mention_name(m) for m in MENTION_RE.findall(text)}
        # rebuild the structured explanation and check it is the one in the row
        expl = explain(ann, key, effects, registry.get(key).gc_median if key in registry else None)
        assert expl.text in text
        assert expl.motifs(present=True) <= found
        assert not (expl.motifs(present=False) & found)
        assert mentioned <= expl.motifs(True) | expl.motifs(False)
        # any motif named without being found must be an explicit absence statement
        for name in mentioned - found:
            assert name in expl.motifs(present=False)
        explained += 1
    assert explained >= 20


def test_text_does_not_depend_on_labels(result):
    registry, effects = load_registry(), load_effects()
    measurements, _ = collect_measurements(MINI_DATA_DIR)
    builder = ConversationBuilder(registry, effects, ConversationConfig(seed=5))
    base = [m for m in measurements if m.key == "promoter_strength/leaf"][:4]
    anns = {(m.kind, m.sequence): annotate(m.sequence) for m in base}
    for style in ("single", "why", "followup"):
        plan = Plan(style, [base[0]], "fixed")
        before = builder.render(plan, anns)
        base[0].value += 3.7
        after = builder.render(plan, anns)
        base[0].value -= 3.7
        assert before["messages"] == after["messages"]
        assert after["targets"][0] == pytest.approx(before["targets"][0] + 3.7)
    plan = Plan("compare", base[:2], "fixed2")
    before = builder.render(plan, anns)
    base[1].value -= 10
    assert builder.render(plan, anns)["messages"] == before["messages"]


def test_tissue_rows_follow_promoter_split(rows):
    promoter_split = {}
    for r in rows:
        if r["task"] == T.PROMOTER:
            for s in r["sequences"]:
                promoter_split[s] = r["split"]
    tissue = [r for r in rows if r["task"] == T.TISSUE]
    assert any(r["tissue"].endswith(":all") and len(r["targets"]) in (23, 11) for r in tissue)
    for r in tissue:
        assert promoter_split[r["sequences"][0]] == r["split"]


def test_deterministic_given_seed():
    a = build_dataset(MINI_DATA_DIR, seed=7)
    b = build_dataset(MINI_DATA_DIR, seed=7)
    c = build_dataset(MINI_DATA_DIR, seed=8)
    for split in SPLITS:
        assert a[split].to_list() == b[split].to_list()
    assert a["train"].to_list() != c["train"].to_list()

    # splits and measured values do not depend on the seed: every measurement has exactly one base row
    def base(ds):
        return sorted(
            (split, r["sequences"][0], r["target_keys"][0], r["targets"][0])
            for split in SPLITS
            for r in ds[split]
            if r["id"].split("-")[0] in ("single", "implicit", "why", "followup")
        )

    assert base(a) == base(c) and len(base(a)) > 100


def test_outputs_on_disk(tmp_path):
    out = tmp_path / "built"
    ds = build_dataset(MINI_DATA_DIR, out, seed=0)
    loaded = load_from_disk(str(out / "hf"))
    for split in SPLITS:
        assert loaded[split].to_list() == ds[split].to_list()
        lines = (out / "jsonl" / f"{split}.jsonl").read_text().splitlines()
        assert [json.loads(x) for x in lines] == ds[split].to_list()
    reg = load_registry(out / "registry.json")
    assert "promoter_strength/leaf" in reg
    report = json.loads((out / "build_report.json").read_text())
    assert report["rows_per_task_split"]
    from_out = load_regression_rows(out, "test")
    from_src = load_regression_rows(MINI_DATA_DIR, "test")
    assert from_out == from_src and from_out
    assert {"sequence", "key", "target", "baseline"} <= set(from_out[0])
    leaf = load_regression_rows(out, "train", keys=["promoter_strength/leaf"])
    assert leaf and {r["key"] for r in leaf} == {"promoter_strength/leaf"}


def test_limit_keeps_fewer_groups():
    full = run_build(BuildConfig(data_dir=MINI_DATA_DIR))
    small = run_build(BuildConfig(data_dir=MINI_DATA_DIR, limit=2))
    assert sum(small.counts.values()) < sum(full.counts.values())
    measurements, _ = collect_measurements(MINI_DATA_DIR, limit=2)
    groups = defaultdict(set)
    for m in measurements:
        if not m.key.startswith(T.TISSUE):
            groups[(m.key, m.split)].add(m.group)
    assert groups and all(len(g) <= 2 for g in groups.values())


def test_cli_build_prints_counts(tmp_path):
    res = CliRunner().invoke(
        app, ["build", "--data-dir", str(MINI_DATA_DIR), "--out", str(tmp_path / "o"), "--seed", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "promoter_strength" in res.output and "validation" in res.output
    assert (tmp_path / "o" / "hf" / "dataset_dict.json").exists()

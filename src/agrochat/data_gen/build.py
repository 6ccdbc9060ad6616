"""Build the instruction dataset: sources -> splits -> registry -> conversations -> DatasetDict on disk.

Output layout under ``out_dir``::

    hf/                    DatasetDict.save_to_disk (train / validation / test)
    jsonl/<split>.jsonl    the same rows as JSON lines
    regression/<split>.jsonl  one line per sequence with its measurements (see regression.py)
    registry.json          task registry with TRAIN label statistics
    build_report.json      counts per task/split, dropped leaks, skipped bad rows, timings

:func:`run_pgb_build` writes the same layout from Plant Genomic Benchmark configs alone (``data build --pgb``).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, List, Value

from agrochat.errors import ConfigError, InputError

from ..domain import tasks as T
from ..domain.effects import load_effects
from ..domain.motifs import MotifConfig, MotifScanner
from ..domain.paths import DEFAULT_EFFECTS_PATH
from ..domain.registry import Registry, TaskSpec, build_registry
from .collect import CollectReport, _limit, collect_measurements
from .conversations import (
    COLUMNS,
    ConversationBuilder,
    ConversationConfig,
    needs_annotation,
    plan_conversations,
)
from .errors import ON_BAD_CHOICES, BadRowLog, MissingSourceError
from .paths import motif_file, resolve_data_dir
from .pgb import (
    PGB_LICENSE,
    PGB_REPO,
    PGB_SPLITS,
    PGBConfig,
    config_key,
    gene_expression_meta,
    load_pgb,
    output_keys,
    read_output_names,
)
from .regression import write_regression
from .sources import Measurement
from .splits import SplitConfig

SPLITS = ("train", "validation", "test")
FEATURES = Features(
    {
        "id": Value("string"),
        "task": Value("string"),
        "tissue": Value("string"),
        "split": Value("string"),
        "sequences": List(Value("string")),
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "targets": List(Value("float64")),
        "target_keys": List(Value("string")),
        "baseline": Value("float64"),
    }
)
Progress = Callable[[str, int, int], None]


@dataclass
class BuildConfig:
    """Everything a build needs.

    Attributes:
        data_dir: source data (layout of ``shared/data``); None resolves ``../shared/data`` etc.
        out_dir: where to write; None builds in memory only.
        seed: conversation seed (splits do not depend on it).
        limit: keep at most this many gene groups per (task key, split); None keeps all.
        on_bad: ``"error"`` stops at the first malformed row (file:line in the message); ``"skip"`` counts it.
        pgb_dir: optional local PGB FASTA copy (hub layout) replacing the 8,000-row promoter training subsets.
        write_jsonl: also export JSONL files.
        split: validation carving settings.
        conversation: conversation sampling settings (its seed is overwritten by ``seed``).
    """

    data_dir: Path | None = None
    out_dir: Path | None = None
    seed: int = 0
    limit: int | None = None
    on_bad: str = "error"
    pgb_dir: Path | None = None
    write_jsonl: bool = True
    split: SplitConfig = field(default_factory=SplitConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)

    def __post_init__(self) -> None:
        if self.on_bad not in ON_BAD_CHOICES:
            raise ConfigError(f"on_bad must be one of {ON_BAD_CHOICES}, got {self.on_bad!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("limit must be >= 1 or None")
        self.data_dir = resolve_data_dir(self.data_dir)
        self.out_dir = Path(self.out_dir) if self.out_dir is not None else None
        self.pgb_dir = Path(self.pgb_dir) if self.pgb_dir is not None else None
        self.conversation.seed = self.seed


@dataclass
class BuildResult:
    """A finished build: the datasets, the registry, what was dropped or skipped, and timings."""

    dataset: DatasetDict
    registry: Registry
    collect: CollectReport
    counts: Counter
    timings: dict[str, float]
    paraphrase_stats: dict | None = None

    def summary(self) -> dict:
        return {
            "rows_per_task_split": {f"{t}|{s}": n for (t, s), n in sorted(self.counts.items())},
            "measurements_per_key_split": {f"{k}|{s}": n for (k, s), n in sorted(self.collect.rows.items())},
            "dropped": {f"{k}|{r}": n for (k, r), n in sorted(self.collect.split.dropped.items())},
            "bad_rows_skipped": {f"{f}|{r}": n for (f, r), n in sorted(self.collect.bad.counts.items())},
            "bad_row_examples": self.collect.bad.examples,
            "missing_sources": self.collect.missing,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "paraphrase": self.paraphrase_stats,
        }


def _to_dataset(rows: list[dict]) -> Dataset:
    if not rows:
        return Dataset.from_dict({c: [] for c in COLUMNS}, features=FEATURES)
    return Dataset.from_dict({c: [r[c] for r in rows] for c in COLUMNS}, features=FEATURES)


def run_build(config: BuildConfig, paraphraser=None, progress: Progress | None = None) -> BuildResult:
    """Run a build described by ``config`` (see :func:`build_dataset` for the simple entry point)."""
    tick = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    tick("reading sources", 0, 1)
    log = BadRowLog(on_bad=config.on_bad)
    rows, report = collect_measurements(config.data_dir, log, config.split, config.pgb_dir, config.limit)
    timings["sources_and_splits"] = time.perf_counter() - t0

    t = time.perf_counter()
    tick("registry", 0, 1)
    registry = build_registry(rows, meta={"built_from": str(config.data_dir), "label_stats": "train split"})
    timings["registry"] = time.perf_counter() - t

    examples, counts = _conversations(
        rows, registry, config.conversation, config.data_dir, paraphraser, tick, timings
    )

    tick("saving", 0, 1)
    dataset = DatasetDict({s: _to_dataset(examples[s]) for s in SPLITS})
    result = BuildResult(dataset, registry, report, counts, timings, _paraphrase_stats(paraphraser))
    return _finish(config.out_dir, config.write_jsonl, result, rows, examples, t0, tick)


def _finish(out_dir, write_jsonl: bool, result, rows, examples, t0: float, tick):
    """Save a build's result (when it has a folder) with its report, timing the saving; the result."""
    t = time.perf_counter()
    if out_dir is not None:
        _save(out_dir, result, rows, examples, write_jsonl)
    result.timings["saving"] = time.perf_counter() - t
    result.timings["total"] = time.perf_counter() - t0
    if out_dir is not None:
        (out_dir / "build_report.json").write_text(json.dumps(result.summary(), indent=1) + "\n")
    tick("done", 1, 1)
    return result


def _conversations(
    rows: list[Measurement],
    registry: Registry,
    config: ConversationConfig,
    data_dir: Path | None,
    paraphraser,
    tick: Progress,
    timings: dict[str, float],
) -> tuple[dict[str, list[dict]], Counter]:
    """Plan, annotate and render the conversations of ``rows``: examples per split (sorted by id) and rows per
    (task, split). Records the ``motif_annotation`` and ``conversations`` timings."""
    t = time.perf_counter()
    tick("planning conversations", 0, 1)
    plans = plan_conversations(rows, config)
    needed: dict[str, set[str]] = {"promoter": set(), "terminator": set()}
    for p in plans:
        for kind, seq in needs_annotation(p):
            needed[kind].add(seq)
    scanner = MotifScanner(
        MotifConfig(
            cpe_meme=motif_file(data_dir, "CPEs.meme"),
            tf_meme=motif_file(data_dir, "TF-clusters.meme"),
        )
    )
    annotations = {}
    for kind, seqs in needed.items():
        ordered = sorted(seqs)
        tick(f"annotating {kind}s", 0, len(ordered))
        for start in range(0, len(ordered), 5000):
            part = ordered[start : start + 5000]
            for seq, ann in zip(part, scanner.annotate_many(part, kind), strict=True):
                annotations[(kind, seq)] = ann
            tick(f"annotating {kind}s", start + len(part), len(ordered))
    timings["motif_annotation"] = time.perf_counter() - t

    t = time.perf_counter()
    builder = ConversationBuilder(registry, load_effects(DEFAULT_EFFECTS_PATH), config)
    examples: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for i, plan in enumerate(plans):
        ex = builder.render(plan, annotations)
        if paraphraser is not None:
            ex = paraphraser(ex)
        examples[ex["split"]].append(ex)
        if i % 5000 == 0 or i == len(plans) - 1:
            tick("writing conversations", i + 1, len(plans))
    counts: Counter = Counter()
    for split, exs in examples.items():
        exs.sort(key=lambda e: e["id"])
        for e in exs:
            counts[(e["task"], split)] += 1
    timings["conversations"] = time.perf_counter() - t
    return examples, counts


def _paraphrase_stats(paraphraser) -> dict | None:
    if paraphraser is None or not hasattr(paraphraser, "stats"):
        return None
    s = paraphraser.stats
    return {
        "attempted": s.attempted,
        "accepted": s.accepted,
        "rejected": s.rejected,
        "errors": s.errors,
        "reasons": dict(s.reasons),
    }


def _save(
    out: Path,
    result: BuildResult,
    rows: list[Measurement],
    examples: dict[str, list[dict]],
    write_jsonl: bool,
) -> None:
    """Write ``hf/``, ``registry.json``, ``regression/`` and (``write_jsonl``) ``jsonl/`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    # an empty split saved with 0 shards cannot be loaded back (datasets 5.x): give it one
    empty = {s: 1 for s, d in result.dataset.items() if len(d) == 0}
    result.dataset.save_to_disk(str(out / "hf"), num_shards=empty or None)
    result.registry.to_json(out / "registry.json")
    write_regression(rows, out / "regression")
    if write_jsonl:
        (out / "jsonl").mkdir(exist_ok=True)
        for split in SPLITS:
            with open(out / "jsonl" / f"{split}.jsonl", "w", encoding="utf-8") as fh:
                for e in examples[split]:
                    fh.write(json.dumps(e, ensure_ascii=False) + "\n")


def build_dataset(
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    limit: int | None = None,
    paraphraser=None,
    on_bad: str = "error",
    progress: Progress | None = None,
) -> DatasetDict:
    """Build the train/validation/test ``DatasetDict`` (and write it to ``out_dir`` if given).

    ``paraphraser`` is an optional :class:`~agrochat.data_gen.paraphrase.Paraphraser` or a LangChain chat
    model (wrapped automatically). ``on_bad="skip"`` skips malformed source rows and counts them.
    """
    from .paraphrase import Paraphraser

    if (
        paraphraser is not None
        and hasattr(paraphraser, "invoke")
        and not isinstance(paraphraser, Paraphraser)
    ):
        paraphraser = Paraphraser(paraphraser)
    config = BuildConfig(data_dir=data_dir, out_dir=out_dir, seed=seed, limit=limit, on_bad=on_bad)
    return run_build(config, paraphraser, progress).dataset


# --- a build from the Plant Genomic Benchmark alone (agrochat data build --pgb) ---

_PGB_KIND = {"promoter_strength": "promoter", "terminator_strength": "terminator", "gene_exp": "gene"}
_LEAK = "sequence in the test set of the same key"


@dataclass
class PGBBuildConfig:
    """A build from PGB alone, on PGB's own train / validation / test splits (``agrochat data build --pgb``).

    Attributes:
        configs: PGB configs, e.g. ``["promoter_strength.leaf", "gene_exp.zea_mays"]`` (duplicates ignored).
        out_dir: where to write (the layout of :class:`BuildConfig`); None builds in memory only.
        pgb_dir: local copy of the PGB FASTA files (hub layout); None reads the Hugging Face Hub (cache first).
        output_names: text file naming the outputs of the one ``gene_exp`` config, one name per line in output
            order; None names them from ``pgb.GENE_EXP_TISSUES`` or ``output_1`` .. ``output_N``.
        seed, limit, on_bad, write_jsonl, conversation: as in :class:`BuildConfig`.
    """

    configs: list[str]
    out_dir: Path | None = None
    pgb_dir: Path | None = None
    output_names: Path | None = None
    seed: int = 0
    limit: int | None = None
    on_bad: str = "error"
    write_jsonl: bool = True
    conversation: ConversationConfig = field(default_factory=ConversationConfig)

    def __post_init__(self) -> None:
        self.configs = list(dict.fromkeys(PGBConfig(c).config for c in self.configs))
        if not self.configs:
            raise ConfigError("no PGB config given")
        if self.on_bad not in ON_BAD_CHOICES:
            raise ConfigError(f"on_bad must be one of {ON_BAD_CHOICES}, got {self.on_bad!r}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError("limit must be >= 1 or None")
        genes = [c for c in self.configs if PGBConfig(c).multi_output]
        if self.output_names is not None and len(genes) != 1:
            raise ConfigError(
                f"--output-names names the outputs of exactly one gene_exp config, got {len(genes)} "
                f"({', '.join(genes) or 'none'}); build one species at a time"
            )
        for name in ("out_dir", "pgb_dir", "output_names"):
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        self.conversation.seed = self.seed


@dataclass
class PGBOutput:
    """Where one PGB label went: ``config``, its 1-based output ``index`` (None for single-value configs), the
    task ``key``, and where the key's name came from (``"config"``, ``"file"``, ``"table"`` or ``"default"``)."""

    config: str
    index: int | None
    key: str
    named_by: str = "config"


@dataclass
class PGBBuildResult(BuildResult):
    """A finished PGB build: a :class:`BuildResult` plus which PGB label went to which key."""

    outputs: list[PGBOutput] = field(default_factory=list)

    def summary(self) -> dict:
        out = super().summary()
        out["pgb_outputs"] = [dataclasses.asdict(o) for o in self.outputs]
        return out


def _pgb_measurement(config: str, split: str, rec: dict, key: str, value: float) -> Measurement:
    """One PGB label as a measurement; PGB's split is final (``split`` and ``official_split``)."""
    task, part = config.split(".", 1)
    gene, species = rec["name"], (part if task == "gene_exp" else "")
    if task == "promoter_strength" and "_" in rec["name"]:
        gene, _, species = rec["name"].rpartition("_")  # Zm00001d033526_Zm
    return Measurement(
        rec["sequence"],
        key,
        value,
        _PGB_KIND[task],
        (gene,),
        species,
        split,
        None,
        rec["name"],
        PGBConfig(config, split).hub_file,
        split,
        gene,
    )


def _pgb_records(config: PGBBuildConfig, name: str, log: BadRowLog, missing: list[str]) -> dict[str, list]:
    """Records of every split of one config; a missing validation or test file is noted in ``missing``."""
    out: dict[str, list] = {}
    for split in PGB_SPLITS:
        try:
            out[split] = load_pgb(name, split, config.pgb_dir, config.on_bad, log)
        except MissingSourceError as exc:
            if split == "train":
                raise
            missing.append(f"{name} {split}: {exc}")
    if not out["train"]:
        raise InputError(f"PGB {name}: no training records")
    return out


def _pgb_gene_rows(
    config: PGBBuildConfig, name: str, records: dict[str, list], names: list[str] | None, log: BadRowLog
) -> tuple[list[Measurement], list[PGBOutput]]:
    """One measurement per output of every ``gene_exp`` record, keyed by output name (see ``pgb.output_keys``)."""
    n = len(records["train"][0]["labels"])
    keys, named_by = output_keys(name, n, names, str(config.output_names or ""))
    rows = []
    for split, recs in records.items():
        for rec in recs:
            if len(rec["labels"]) != n:
                log.bad(
                    PGBConfig(name, split).hub_file,
                    None,
                    f"record {rec['name']!r} has {len(rec['labels'])} labels, expected {n} (as the first train record)",
                )
                continue
            rows += [
                _pgb_measurement(name, split, rec, k, v) for k, v in zip(keys, rec["labels"], strict=True)
            ]
    return rows, [PGBOutput(name, i, k, named_by) for i, k in enumerate(keys, start=1)]


def drop_test_leaks(rows: list[Measurement]) -> tuple[list[Measurement], Counter]:
    """Drop every training or validation row whose sequence is a test sequence of the same key; the dropped
    rows are counted per ``(key, reason)`` (the form of :class:`~agrochat.data_gen.splits.SplitReport`)."""
    test: dict[str, set[str]] = defaultdict(set)
    for m in rows:
        if m.split == "test":
            test[m.key].add(m.sequence)
    kept, dropped = [], Counter()
    for m in rows:
        if m.split != "test" and m.sequence in test[m.key]:
            dropped[(m.key, _LEAK)] += 1
        else:
            kept.append(m)
    return kept, dropped


def collect_pgb(
    config: PGBBuildConfig, log: BadRowLog | None = None
) -> tuple[list[Measurement], CollectReport, list[PGBOutput]]:
    """All measurements of the configs on PGB's splits, test leaks dropped, and where each label went."""
    report = CollectReport(bad=log or BadRowLog(on_bad=config.on_bad))
    rows: list[Measurement] = []
    outputs: list[PGBOutput] = []
    names = (
        read_output_names(config.output_names) if config.output_names is not None else None
    )  # before reading
    for name in config.configs:
        records = _pgb_records(config, name, report.bad, report.missing)
        if PGBConfig(name).multi_output:
            got, outs = _pgb_gene_rows(config, name, records, names, report.bad)
            rows += got
            outputs += outs
            continue
        key = config_key(name)
        rows += [_pgb_measurement(name, s, r, key, r["label"]) for s, recs in records.items() for r in recs]
        outputs.append(PGBOutput(name, None, key))
    rows, report.split.dropped = drop_test_leaks(rows)
    if config.limit is not None:
        rows = _limit(rows, config.limit)
    for m in rows:
        report.split.kept[(m.key, m.split)] += 1
        report.rows[(m.key, m.split)] += 1
    return rows, report, outputs


def _spec(key: str, labels: list[float], tissues: list[str], gc: float, meta: dict) -> TaskSpec:
    """Spec of a key ``tasks.describe`` does not know: label statistics exactly as ``TaskSpec.from_labels``
    computes them (through a stand-in key), with ``meta`` as its descriptive fields."""
    stats = TaskSpec.from_labels(T.make_key(T.PROMOTER, "leaf"), labels, tissues, gc)
    task, tissue = T.split_key(key)
    return dataclasses.replace(stats, key=key, task=task, tissue=tissue, **meta)


def pgb_registry(rows: list[Measurement], outputs: list[PGBOutput], meta: dict) -> Registry:
    """Registry of a PGB build: train-split statistics; ``gene_expression`` keys described from PGB's facts."""
    gene = {o.key: o for o in outputs if o.index is not None}
    registry = build_registry([m for m in rows if m.key not in gene], meta=meta)
    train: dict[str, list[Measurement]] = defaultdict(list)
    for m in rows:
        if m.key in gene and m.split == "train":
            train[m.key].append(m)
    tissues = sorted(T.split_key(k)[1] for k in train)
    specs = dict(registry.specs)
    for key, ms in train.items():
        gc = statistics.median((m.sequence.count("G") + m.sequence.count("C")) / len(m.sequence) for m in ms)
        described = gene_expression_meta(gene[key].config, gene[key].index, key)
        specs[key] = _spec(key, [m.value for m in ms], tissues, gc, described)
    return Registry(specs=specs, meta=registry.meta)


def run_pgb_build(config: PGBBuildConfig, progress: Progress | None = None) -> PGBBuildResult:
    """Build from PGB alone: the layout of :func:`run_build` (``hf/``, ``regression/``, ``registry.json``, ...).

    Every key gets regression rows; conversations are written only for promoter and terminator keys (the
    conversation templates have no wording for ``gene_expression`` outputs).
    """
    tick = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tick("reading PGB", 0, len(config.configs))
    rows, report, outputs = collect_pgb(config)
    timings["sources_and_splits"] = time.perf_counter() - t0

    t = time.perf_counter()
    tick("registry", 0, 1)
    meta = {
        "built_from": f"{PGB_REPO} ({PGB_LICENSE}): {', '.join(config.configs)}",
        "read_from": str(config.pgb_dir) if config.pgb_dir is not None else "Hugging Face Hub",
        "label_stats": "train split",
        "pgb_outputs": {o.key: o.config + (f" output {o.index}" if o.index else "") for o in outputs},
    }
    registry = pgb_registry(rows, outputs, meta)
    timings["registry"] = time.perf_counter() - t

    chat_rows = [m for m in rows if T.split_key(m.key)[0] in (T.PROMOTER, T.TERMINATOR)]
    examples, counts = _conversations(chat_rows, registry, config.conversation, None, None, tick, timings)

    tick("saving", 0, 1)
    dataset = DatasetDict({s: _to_dataset(examples[s]) for s in SPLITS})
    result = PGBBuildResult(dataset, registry, report, counts, timings, None, outputs)
    return _finish(config.out_dir, config.write_jsonl, result, rows, examples, t0, tick)

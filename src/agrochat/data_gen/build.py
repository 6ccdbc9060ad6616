"""Build the instruction dataset: sources -> splits -> registry -> conversations -> DatasetDict on disk.

Output layout under ``out_dir``::

    hf/                    DatasetDict.save_to_disk (train / validation / test)
    jsonl/<split>.jsonl    the same rows as JSON lines
    regression/<split>.jsonl  one line per sequence with its measurements (see regression.py)
    registry.json          task registry with TRAIN label statistics
    build_report.json      counts per task/split, dropped leaks, skipped bad rows, timings
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, List, Value

from agrochat.errors import ConfigError

from ..domain.effects import load_effects
from ..domain.motifs import MotifConfig, MotifScanner
from ..domain.paths import DEFAULT_EFFECTS_PATH
from ..domain.registry import Registry, build_registry
from .collect import CollectReport, collect_measurements
from .conversations import (
    COLUMNS,
    ConversationBuilder,
    ConversationConfig,
    needs_annotation,
    plan_conversations,
)
from .errors import ON_BAD_CHOICES, BadRowLog
from .paths import motif_file, resolve_data_dir
from .regression import write_regression
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
    effects_path = DEFAULT_EFFECTS_PATH
    effects = load_effects(effects_path)
    timings["registry"] = time.perf_counter() - t

    t = time.perf_counter()
    tick("planning conversations", 0, 1)
    plans = plan_conversations(rows, config.conversation)
    needed: dict[str, set[str]] = {"promoter": set(), "terminator": set()}
    for p in plans:
        for kind, seq in needs_annotation(p):
            needed[kind].add(seq)
    scanner = MotifScanner(
        MotifConfig(
            cpe_meme=motif_file(config.data_dir, "CPEs.meme"),
            tf_meme=motif_file(config.data_dir, "TF-clusters.meme"),
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
    builder = ConversationBuilder(registry, effects, config.conversation)
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

    t = time.perf_counter()
    tick("saving", 0, 1)
    dataset = DatasetDict({s: _to_dataset(examples[s]) for s in SPLITS})
    stats = None
    if paraphraser is not None and hasattr(paraphraser, "stats"):
        s = paraphraser.stats
        stats = {
            "attempted": s.attempted,
            "accepted": s.accepted,
            "rejected": s.rejected,
            "errors": s.errors,
            "reasons": dict(s.reasons),
        }
    result = BuildResult(dataset, registry, report, counts, timings, stats)
    if config.out_dir is not None:
        out = config.out_dir
        out.mkdir(parents=True, exist_ok=True)
        dataset.save_to_disk(str(out / "hf"))
        registry.to_json(out / "registry.json")
        write_regression(rows, out / "regression")
        if config.write_jsonl:
            (out / "jsonl").mkdir(exist_ok=True)
            for split in SPLITS:
                with open(out / "jsonl" / f"{split}.jsonl", "w", encoding="utf-8") as fh:
                    for e in examples[split]:
                        fh.write(json.dumps(e, ensure_ascii=False) + "\n")
    timings["saving"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    if config.out_dir is not None:
        (config.out_dir / "build_report.json").write_text(json.dumps(result.summary(), indent=1) + "\n")
    tick("done", 1, 1)
    return result


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

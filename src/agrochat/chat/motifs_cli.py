"""``agrochat motifs``: TF-MoDISco report of what the model learned, per key; a thin wrapper over
:mod:`agrochat.chat.motif_report`. Heavy libraries are imported inside the command (``agrochat --help`` stays fast)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from agrochat.errors import AgrochatError

PRINT_EVERY = 256  # sequences between progress lines when stderr is not a terminal


class LineProgress:
    """Progress as plain lines on stderr (logs, pipes): attributions every ``every`` sequences, other stages as
    they start and end."""

    def __init__(self, every: int = PRINT_EVERY) -> None:
        self.every, self.t0, self.last = every, time.perf_counter(), {}

    def __call__(self, key: str, stage: str, done: int, total: int) -> None:
        step = done // self.every if stage == "attributions" else done
        if self.last.get((key, stage)) == step and done != total:
            return
        self.last[(key, stage)] = step
        print(
            f"[{time.perf_counter() - self.t0:7.1f}s] {key}: {stage} {done}/{total}",
            file=sys.stderr,
            flush=True,
        )


class BarProgress:
    """Progress as rich bars, one per key and stage (a terminal)."""

    def __init__(self, progress) -> None:
        self.progress, self.tasks = progress, {}

    def __call__(self, key: str, stage: str, done: int, total: int) -> None:
        if (key, stage) not in self.tasks:
            self.tasks[(key, stage)] = self.progress.add_task(f"{key} {stage}", total=total)
        self.progress.update(self.tasks[(key, stage)], completed=done, total=total)


def motifs_command(
    keys: list[str] = typer.Option(
        None,
        "--key",
        "-k",
        help="task/tissue key (repeatable; default: promoter_strength/leaf and promoter_strength/protoplast)",
    ),
    n: int = typer.Option(
        2000,
        "--n",
        help="sequences per key: the validation rows, then a seeded sample of training rows (never test)",
    ),
    out: Path = typer.Option(
        Path("docs/motifs"), "--out", "-o", help="report.md, report.json and logos go here"
    ),
    method: str = typer.Option(
        "deeplift_shap", "--method", help="deeplift_shap | ism (hypothetical contributions)"
    ),
    shuffles: int = typer.Option(10, "--shuffles", help="DeepLIFT/SHAP references per sequence"),
    max_seqlets: int = typer.Option(2000, "--max-seqlets", help="TF-MoDISco seqlets per sign, at most"),
    seed: int = typer.Option(0, "--seed"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="source data (default ../shared/data) or a build"),
):
    """TF-MoDISco patterns of the model's DeepLIFT/SHAP attributions per key, each named by TOMTOM against the
    shipped motif library and measured by inserting it into shuffled backgrounds: report.md, report.json and a
    logo per pattern in --out."""
    from agrochat.console import fail

    try:
        import logomaker  # noqa: F401
        import modiscolite  # noqa: F401
    except ImportError as e:
        fail(f"agrochat motifs needs modisco-lite and logomaker: pip install 'agrochat[motifs]' ({e})")
    try:
        path = _run(keys, n, out, method, shuffles, max_seqlets, seed, model, data_dir)
    except AgrochatError as e:
        fail(str(e))
    typer.echo(str(path))


def _run(keys, n, out, method, shuffles, max_seqlets, seed, model, data_dir) -> Path:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from agrochat.chat.cli import _load
    from agrochat.chat.motif_report import (
        MotifReportConfig,
        check_keys,
        motif_report,
        report_rows,
        write_report,
    )
    from agrochat.data_gen.paths import resolve_data_dir

    kw = {"keys": tuple(keys)} if keys else {}
    cfg = MotifReportConfig(
        **kw, n=n, method=method, n_shuffles=shuffles, max_seqlets=max_seqlets, seed=seed, out=out
    )
    resolve_data_dir(data_dir)  # a missing data directory fails before the model loads
    assistant = _load(model)
    check_keys(assistant.model, cfg.keys)
    t = time.perf_counter()
    rows = report_rows(data_dir, cfg.keys, cfg.n, cfg.seed)
    if sys.stderr.isatty():
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True) as bars:
            report = motif_report(assistant.model, cfg, rows, BarProgress(bars))
    else:
        report = motif_report(assistant.model, cfg, rows, LineProgress())
    return write_report(report, cfg.out, _header(model, rows, time.perf_counter() - t))


def _header(model: Path | None, rows: dict[str, list[dict]], seconds: float) -> dict:
    import datetime
    import os

    import torch

    from agrochat.chat import DEFAULT_MODEL_DIR
    from agrochat.provenance import command_line, model_hash

    splits = {}
    for rs in rows.values():
        for r in rs:
            splits[r.get("split", "?")] = splits.get(r.get("split", "?"), 0) + 1
    return {
        "command": f"`{command_line()}`",
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "model": "the shipped model" if model is None else str(model),
        "model sha256": f"`{model_hash(model or DEFAULT_MODEL_DIR)}`",
        "sequences": ", ".join(f"{n} {s}" for s, n in splits.items())
        + " rows over all keys (validation first, training rows only to fill up; the test split is never read)",
        "run": f"{seconds / 60:.1f} min on {os.cpu_count()} CPU cores ({torch.get_num_threads()} torch threads)",
    }

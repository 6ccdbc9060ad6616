"""``agrochat data`` sub-commands (typer). Until the main CLI mounts it: ``python -m agrochat.data_gen.cli build``."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import datasets
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agrochat.errors import AgrochatError

from .build import SPLITS, BuildConfig, run_build
from .errors import BadInputError

app = typer.Typer(
    help="Build instruction data from benchmark labels, tissue metadata and motif facts.",
    no_args_is_help=True,
)


@app.callback()
def _main() -> None:
    """Data generation commands."""


def summary_table(counts, title: str = "Rows per task and split") -> Table:
    table = Table(title=title)
    table.add_column("task")
    for s in SPLITS:
        table.add_column(s, justify="right")
    table.add_column("total", justify="right")
    per_task: dict[str, dict[str, int]] = defaultdict(dict)
    for (task, split), n in counts.items():
        per_task[task][split] = n
    for task in sorted(per_task):
        vals = [per_task[task].get(s, 0) for s in SPLITS]
        table.add_row(task, *map(str, vals), str(sum(vals)))
    totals = [sum(per_task[t].get(s, 0) for t in per_task) for s in SPLITS]
    table.add_row("all", *map(str, totals), str(sum(totals)), style="bold")
    return table


@app.command()
def build(
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Source data (default: ../shared/data or /work/shared/data)."
    ),
    out: Path = typer.Option(Path("data_out"), "--out", help="Output directory."),
    seed: int = typer.Option(0, "--seed", help="Conversation seed."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N gene groups per task key and split."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip malformed source rows (counted) instead of failing."
    ),
    pgb_dir: Path = typer.Option(
        None, "--pgb-dir", help="Local PGB FASTA copy replacing the promoter training subsets."
    ),
) -> None:
    """Build train/validation/test conversations, the registry and regression rows."""
    console = Console()
    start = time.perf_counter()
    try:
        config = BuildConfig(
            data_dir=data_dir,
            out_dir=out,
            seed=seed,
            limit=limit,
            on_bad="skip" if skip_bad else "error",
            pgb_dir=pgb_dir,
        )
        with Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            bars: dict[str, int] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if stage not in bars:
                    for task_id in bars.values():  # a new stage means the earlier ones are finished
                        progress.update(task_id, completed=progress.tasks[task_id].total)
                    bars[stage] = progress.add_task(stage, total=max(total, 1))
                progress.update(bars[stage], completed=done, total=max(total, 1))

            datasets.disable_progress_bars()
            try:
                result = run_build(config, progress=tick)
            finally:
                datasets.enable_progress_bars()
    except AgrochatError as exc:
        console.print(f"[red]error:[/red] {exc}")
        if isinstance(exc, BadInputError):
            console.print("Re-run with --skip-bad to skip malformed rows and count them.")
        raise typer.Exit(code=2) from exc
    console.print(summary_table(result.counts))
    dropped = sum(result.collect.split.dropped.values())
    console.print(
        f"Dropped {dropped} training measurements that leak into a test set "
        f"({', '.join(f'{k}: {n}' for (k, _), n in sorted(result.collect.split.dropped.items()))})."
    )
    if result.collect.bad.total:
        console.print(
            f"[yellow]Skipped {result.collect.bad.total} malformed rows[/yellow]: "
            + "; ".join(f"{f} ({r}): {n}" for (f, r), n in sorted(result.collect.bad.counts.items()))
        )
    for m in result.collect.missing:
        console.print(f"[yellow]missing source[/yellow] {m}")
    console.print(
        f"Registry: {len(result.registry)} task keys. Wrote {out} in {time.perf_counter() - start:.1f} s."
    )


if __name__ == "__main__":
    app()

"""``agrochat data`` sub-commands (typer). Until the main CLI mounts it: ``python -m agrochat.data_gen.cli build``."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from agrochat.errors import AgrochatError, ConfigError

from .errors import BadInputError

if TYPE_CHECKING:  # the build imports datasets: loaded when a build runs, so `--help` stays fast
    from .build import BuildResult, PGBBuildResult

SPLITS = ("train", "validation", "test")  # the build's splits (data_gen.build.SPLITS; not imported here)

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


def _line(console: Console, text: str, style: str = "") -> None:
    """Print ``text`` as one line (no wrapping, no markup: names and messages may hold brackets)."""
    console.print(Text(text, style=style), soft_wrap=True, highlight=False)


def _progress_run(console: Console, run):
    """Call ``run(tick)`` under a progress display, one bar per build stage."""
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

        import datasets

        datasets.disable_progress_bars()
        try:
            return run(tick)
        finally:
            datasets.enable_progress_bars()


def _report_common(console: Console, result: BuildResult) -> None:
    """Skipped malformed rows and missing sources."""
    if result.collect.bad.total:
        _line(
            console,
            f"Skipped {result.collect.bad.total} malformed rows: "
            + "; ".join(f"{f} ({r}): {n}" for (f, r), n in sorted(result.collect.bad.counts.items())),
            "yellow",
        )
    for m in result.collect.missing:
        _line(console, f"missing source {m}", "yellow")


def _report_pgb(console: Console, result: PGBBuildResult) -> None:
    """Which PGB label went to which key (always), unnamed outputs, counts and dropped test leaks."""
    _line(console, "PGB labels -> task keys:")
    for o in result.outputs:
        where = f"{o.config} output {o.index}" if o.index is not None else o.config
        _line(console, f"  {where} -> {o.key}")
    for config in dict.fromkeys(o.config for o in result.outputs if o.named_by == "default"):
        n = sum(o.config == config for o in result.outputs)
        _line(
            console,
            f"warning: no source agrochat knows documents the tissue names or order of {config}, so its {n} "
            f"outputs are named output_1..output_{n}; pass --output-names FILE (one name per line, in output order) to name them.",
            "yellow",
        )
    console.print(summary_table(result.collect.rows, title="Labels (regression rows) per task key and split"))
    if result.counts:
        console.print(summary_table(result.counts, title="Conversations per task and split"))
    dropped = result.collect.split.dropped
    details = ", ".join(f"{k}: {n}" for (k, _), n in sorted(dropped.items()))
    _line(
        console,
        f"Dropped {sum(dropped.values())} training/validation measurements whose sequence is a test sequence "
        f"of the same key" + (f" ({details})." if details else "."),
    )
    _report_common(console, result)


@app.command()
def build(
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        help="Source data (default: ../shared/data or /work/shared/data). Not used with --pgb.",
    ),
    out: Path = typer.Option(Path("data_out"), "--out", help="Output directory."),
    seed: int = typer.Option(0, "--seed", help="Conversation seed."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most N gene groups per task key and split."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip malformed source rows (counted) instead of failing."
    ),
    pgb_dir: Path = typer.Option(
        None,
        "--pgb-dir",
        help="Local PGB FASTA copy in the hub layout (<task>/<name>_<split>.fa). Without --pgb: replaces the "
        "promoter training subsets of the normal build. With --pgb: where the --pgb configs are read from "
        "instead of the Hugging Face Hub.",
    ),
    pgb: list[str] = typer.Option(
        None,
        "--pgb",
        metavar="CONFIG",
        help="Build from the Plant Genomic Benchmark alone, on its own train/validation/test splits: "
        "promoter_strength.leaf, promoter_strength.protoplast, terminator_strength.leaf, "
        "terminator_strength.protoplast or gene_exp.<species>, e.g. gene_exp.zea_mays (repeat for several). Read from --pgb-dir, else the Hugging Face Hub (its cache first; offline: "
        "a one-line error with the download command). PGB is CC BY-NC-SA 4.0.",
    ),
    output_names: Path = typer.Option(
        None,
        "--output-names",
        metavar="FILE",
        help="With --pgb gene_exp.<species>: names of its outputs (tissues), one per line in output order; "
        "each output becomes the key gene_expression/<species>:<name>. Default: output_1..N (no source we "
        "have documents its tissues).",
    ),
) -> None:
    """Build train/validation/test conversations, the registry and regression rows.

    With --pgb, build them from PGB configs alone (see --pgb, --pgb-dir, --output-names).
    """
    from .build import BuildConfig, PGBBuildConfig, PGBBuildResult, run_build, run_pgb_build

    console = Console()
    start = time.perf_counter()
    try:
        if pgb:
            if data_dir is not None:
                raise ConfigError("--pgb builds from PGB alone: --data-dir is not used with it (drop one)")
            pgb_config = PGBBuildConfig(
                configs=pgb,
                out_dir=out,
                pgb_dir=pgb_dir,
                output_names=output_names,
                seed=seed,
                limit=limit,
                on_bad="skip" if skip_bad else "error",
            )
            result = _progress_run(console, lambda tick: run_pgb_build(pgb_config, progress=tick))
        else:
            if output_names is not None:
                raise ConfigError("--output-names names the outputs of a --pgb gene_exp.<species> config")
            config = BuildConfig(
                data_dir=data_dir,
                out_dir=out,
                seed=seed,
                limit=limit,
                on_bad="skip" if skip_bad else "error",
                pgb_dir=pgb_dir,
            )
            result = _progress_run(console, lambda tick: run_build(config, progress=tick))
    except AgrochatError as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True, highlight=False)
        if isinstance(exc, BadInputError):
            console.print("Re-run with --skip-bad to skip malformed rows and count them.")
        raise typer.Exit(code=2) from exc
    if isinstance(result, PGBBuildResult):
        _report_pgb(console, result)
    else:
        console.print(summary_table(result.counts))
        dropped = sum(result.collect.split.dropped.values())
        console.print(
            f"Dropped {dropped} training measurements that leak into a test set "
            f"({', '.join(f'{k}: {n}' for (k, _), n in sorted(result.collect.split.dropped.items()))})."
        )
        _report_common(console, result)
    console.print(
        f"Registry: {len(result.registry)} task keys. Wrote {out} in {time.perf_counter() - start:.1f} s."
    )


@app.command()
def jaspar(
    out: Path = typer.Option(..., "--out", help="MEME file to write."),
    release: str = typer.Option("JASPAR2026", "--release", help="JASPAR release shipped with pyjaspar."),
) -> None:
    """Write the JASPAR CORE plant profiles as a MEME file (needs pyjaspar: pip install 'agrochat[motifs]')."""
    from .jaspar import write_jaspar_meme

    console = Console()
    try:
        path, n = write_jaspar_meme(out, release)
    except AgrochatError as exc:
        console.print(Text.assemble(("error: ", "red"), str(exc)), soft_wrap=True, highlight=False)
        raise typer.Exit(code=2) from exc
    _line(console, f"Wrote {n} {release} CORE plant motifs to {path}.")


if __name__ == "__main__":
    app()

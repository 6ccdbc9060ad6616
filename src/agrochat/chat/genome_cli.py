"""``agrochat scan`` (genome + annotation -> a table of window predictions) and ``agrochat variants`` (+ a VCF ->
a table of effects and an annotated VCF): thin wrappers over :mod:`agrochat.chat.scan`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from agrochat.errors import AgrochatError

ENGINES = ("local", "ray")


def _assistant(model: Path | None):
    from agrochat.chat.cli import _load

    return _load(model)


def _done(path: Path) -> set[tuple[str, str]]:
    """(transcript_id, window) pairs already in a scan's TSV; a cut last line (an interruption) is removed."""
    from agrochat.chat.cli import complete_lines

    rows = list(csv.DictReader(complete_lines(path).splitlines(), delimiter="\t"))
    return {(r["transcript_id"], r["window"]) for r in rows}


def scan_command(
    genome: Path = typer.Option(
        ..., "--genome", "-g", help="genome FASTA, plain or bgzipped (indexed on first use)"
    ),
    annotation: Path = typer.Option(..., "--annotation", "-a", help="GFF3 or GTF"),
    out: Path = typer.Option(None, "--out", "-o", help="TSV written here (incrementally) instead of stdout"),
    key: list[str] = typer.Option(
        None,
        "--key",
        "-k",
        help="task key to score (repeatable; default: promoter and terminator strength keys)",
    ),
    per: str = typer.Option("transcript", "--per", help="transcript | gene: one window pair per what"),
    resume: bool = typer.Option(False, "--resume", help="with --out: skip windows already written"),
    batch_size: int = typer.Option(256, "--batch-size"),
    max_tokens: int = typer.Option(32768, "--max-tokens", help="padded DNA tokens per batch"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    engine: str = typer.Option(
        "local", "--engine", help="local (this process) | ray (Ray Data over a Ray cluster; same output)"
    ),
    workers: int = typer.Option(2, "--workers", help="with --engine ray: worker processes (one CPU each)"),
    ray_address: str = typer.Option(
        None, "--ray-address", help="with --engine ray: join this cluster (default: start a local one)"
    ),
):
    """Score the core-promoter window (-165..+5 around each TSS) and the terminator window (170 nt centred on each
    annotated 3' end) of every transcript (or gene), strand-aware, fetched by index. Windows off a contig or
    mostly N are reported in the status column, not scored."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from agrochat.chat.scan import SCAN_COLUMNS, scan_rows
    from agrochat.console import fail
    from agrochat.genome.reader import Genome, read_features

    if resume and out is None:
        fail("--resume needs --out")
    if engine not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    try:
        done = _done(out) if resume and out is not None and out.exists() else set()
        args = (read_features(annotation, per), key or None, done, batch_size, max_tokens)
        if engine == "ray":  # the checks, as below, before the output is opened; Ray starts on the first row
            from agrochat.chat.scan_ray import scan_rows_ray

            rows = scan_rows_ray(model, genome, *args, workers=workers, address=ray_address)
        else:
            rows = scan_rows(_assistant(model), Genome(genome), *args)
        sink = open(out, "a" if done else "w", newline="") if out else sys.stdout
        try:
            writer = csv.DictWriter(sink, SCAN_COLUMNS, delimiter="\t", lineterminator="\n")
            if not done:
                writer.writeheader()
            with Progress(
                SpinnerColumn(), TextColumn("{task.completed} rows"), TimeElapsedColumn(), disable=out is None
            ) as progress:
                bar = progress.add_task("scan", total=None)
                for row in rows:
                    writer.writerow(row)
                    progress.advance(bar)
                    if out is not None and row is not None:
                        sink.flush()
        finally:
            if out:
                sink.close()
    except AgrochatError as e:
        fail(str(e))


def variants_command(
    vcf: Path = typer.Argument(..., help="VCF or BCF, plain or bgzipped"),
    genome: Path = typer.Option(
        ..., "--genome", "-g", help="genome FASTA, plain or bgzipped (indexed on first use)"
    ),
    annotation: Path = typer.Option(..., "--annotation", "-a", help="GFF3 or GTF"),
    out: Path = typer.Option(None, "--out", "-o", help="TSV of effects (default: stdout)"),
    vcf_out: Path = typer.Option(
        None, "--vcf-out", help="the input VCF with an AGROCHAT INFO field per allele (.vcf or .vcf.gz)"
    ),
    key: list[str] = typer.Option(
        None, "--key", "-k", help="task key (repeatable; default: promoter and terminator)"
    ),
    samples: Path = typer.Option(
        None,
        "--samples",
        help="also write a per-sample summary TSV here: alleles carried per transcript, window and key, how many "
        "exceed their uncertainty, and their copy-weighted delta sum",
    ),
    per: str = typer.Option("transcript", "--per", help="transcript | gene"),
    batch_size: int = typer.Option(256, "--batch-size"),
    max_tokens: int = typer.Option(32768, "--max-tokens", help="padded DNA tokens per batch"),
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
):
    """For every variant allele in a promoter or terminator window: the window with and without it (SNVs, MNVs
    and indels, re-cut around the TSS or 3' end), the change per key with its uncertainty, and whether the change
    exceeds it. Multi-allelic records are split; symbolic alleles are reported as skipped."""
    from agrochat.chat.scan import (
        SAMPLE_COLUMNS,
        VARIANT_COLUMNS,
        WindowIndex,
        sample_rows,
        variant_effects,
        window_keys,
    )
    from agrochat.console import fail
    from agrochat.genome.reader import Genome, annotate_vcf, read_dosages, read_features, read_variants

    try:
        assistant = _assistant(model)
        fasta = Genome(genome)
        kinds = window_keys(assistant.known_keys, key or None)
        index = WindowIndex(read_features(annotation, per), kinds)
        rows = variant_effects(
            assistant, fasta, index, list(read_variants(vcf)), key or None, batch_size, max_tokens
        )
        sink = open(out, "w", newline="") if out else sys.stdout
        try:
            writer = csv.DictWriter(sink, VARIANT_COLUMNS, delimiter="\t", lineterminator="\n")
            writer.writeheader()
            effects: dict[str, list[tuple]] = {}
            for r in rows:
                row = r.row()
                writer.writerow(row)
                if row["delta"] != "":
                    effects.setdefault(r.variant, []).append(
                        (
                            row["transcript_id"],
                            row["window"],
                            row["key"],
                            row["delta"],
                            row["uncertainty"],
                            row["exceeds"],
                        )
                    )
        finally:
            if out:
                sink.close()
        if vcf_out is not None:
            n = annotate_vcf(vcf, vcf_out, effects)
            typer.echo(f"{vcf_out}: {n} records annotated (INFO/AGROCHAT)", err=True)
        if samples is not None:
            names, dosages = read_dosages(vcf, set(effects))
            if not names:
                fail(f"{vcf} has no samples (genotype columns) to summarise")
            with open(samples, "w", newline="") as fh:
                w = csv.DictWriter(fh, SAMPLE_COLUMNS, delimiter="\t", lineterminator="\n")
                w.writeheader()
                w.writerows(sample_rows(rows, names, dosages))
    except AgrochatError as e:
        fail(str(e))

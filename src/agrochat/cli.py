"""The ``agrochat`` command line: thin wrappers over the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from agrochat.chat.cli import (
    chat_command,
    design_command,
    eval_command,
    explain_command,
    predict_command,
    variant_command,
)
from agrochat.chat.genome_cli import scan_command, variants_command
from agrochat.chat.motifs_cli import motifs_command
from agrochat.chat.serve.cli import serve_command
from agrochat.console import fail
from agrochat.data_gen.cli import app as data_app
from agrochat.errors import AgrochatError, InputError
from agrochat.train.cli import train_command


def _quiet() -> None:
    """Keep the CLI output to answers: no weight-loading bars or library deprecation chatter. Set through the
    environment (read when transformers is imported, if ever), so help and argument errors import nothing."""
    import os
    import warnings

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings(
        "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
    )


app = typer.Typer(
    help="agrochat: an assistant that reads plant DNA and answers with calibrated numbers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.callback()(_quiet)
app.command("chat")(chat_command)
app.command("predict")(predict_command)
app.command("eval")(eval_command)
app.command("explain")(explain_command)
app.command("variant")(variant_command)
app.command("design")(design_command)
app.command("serve")(serve_command)
app.command("scan")(scan_command)
app.command("variants")(variants_command)
app.command("motifs")(motifs_command)


@app.command("mcp")
def mcp_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
):
    """Serve predict, compare, rank, explain, variant and design as MCP tools over stdio (for agents)."""
    try:
        from agrochat.chat.mcp_server import main
    except ImportError as e:
        fail(f"agrochat mcp needs the mcp package: pip install 'agrochat[serve]' ({e})")
    try:
        main(model)
    except AgrochatError as e:
        fail(str(e))


@app.command("train-decoder")
def train_decoder_command(
    part: str = typer.Argument(..., help="planner | writer: the plan head or the writing adapter"),
    out: Path = typer.Option(..., "--output-dir", "-o", help="epochs, the log and best/ go here"),
    model: Path = typer.Option(
        None, "--model", "-m", help="the model whose decoder learns (default: shipped)"
    ),
    data_dir: Path = typer.Option(
        Path("../shared/data"),
        "--data-dir",
        help="planner: source data for training sequences (train rows only)",
    ),
    n: int = typer.Option(0, "--examples", help="training examples (default: 5000 planner, 1200 writer)"),
    epochs: int = typer.Option(0, "--epochs", help="default: 12 planner, 3 writer"),
    lr: float = typer.Option(0.0, "--lr", help="peak learning rate (default: 1e-3 planner, 5e-4 writer)"),
    layers: int = typer.Option(
        None,
        "--layers",
        help="planner: decoder layers the plan head reads after (default 24); writer: top layers "
        "the adapter adapts (default 6)",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="continue after the last saved epoch (reuses cache.pt)"
    ),
    kind: Path = typer.Option(
        None,
        "--kind",
        help="planner: a sequence-kind classifier (agrochat train-kind) whose promoter/terminator call the "
        "planner reads; it is saved with the planner",
    ),
    phrasings: list[Path] = typer.Option(
        None,
        "--phrasings",
        help="planner: a phrasing set written by people (repeatable; never a held-out set): its rows join the "
        "training data, 1 in 7 kept apart to choose the epoch",
    ),
    phrasing_fills: int = typer.Option(
        3, "--phrasing-fills", help="planner: each training row of --phrasings filled this many times"
    ),
    bf16: bool = typer.Option(
        False,
        "--bf16",
        help="writer: train under bfloat16 autocast on the CPU (about 2.3x faster per step where it has AVX512-BF16)",
    ),
    variety: int = typer.Option(
        0,
        "--variety",
        help="writer: word each answer sentence in one of its first N wordings (0: all of them)",
    ),
    init: Path = typer.Option(
        None, "--init", help="writer: start from this saved writer (an epoch-N or best folder)"
    ),
    cache_layers: str = typer.Option(
        "",
        "--cache-layers",
        help="planner: only cache the data's decoder states after these layers (e.g. 0,12,24), one pass, into "
        "OUT/layer-N; then train each with --layers N --resume -o OUT/layer-N to choose the layer on validation",
    ),
):
    """Train the decoder to plan turns (planner) or to write answers from the evidence (writer). Copy
    ``OUT/best`` to ``MODEL/planner`` or ``MODEL/writer`` to use it."""
    from agrochat.chat.assistant import DEFAULT_MODEL_DIR
    from agrochat.train.plan import PlanTrainConfig

    model = model or DEFAULT_MODEL_DIR
    try:
        if part == "planner" and cache_layers:
            from agrochat.train.plan import cache_layers as cache

            layers = [int(x) for x in cache_layers.split(",") if x.strip()]
            folders = cache(model, data_dir, out, layers, n or 5000, max(n // 10, 100) if n else 500)
            for layer, folder in folders.items():
                typer.echo(f"agrochat train-decoder planner --layers {layer} --resume -o {folder}")
            return
        if part == "planner":
            from agrochat.train.plan import run

            written = None
            if phrasings:
                from agrochat.chat.phrasings import written_examples
                from agrochat.data_gen.planning import load_pools

                written = written_examples(phrasings, load_pools(data_dir), fills=phrasing_fills)
                typer.echo(
                    f"written phrasings: {len(written[0])} training, {len(written[1])} validation examples"
                )

            res = run(
                model,
                data_dir,
                out,
                n or 5000,
                max(n // 10, 100) if n else 500,
                24 if layers is None else layers,
                PlanTrainConfig(epochs=epochs or 12, lr=lr or 1e-3),
                resume,
                kind,
                written,
            )
        elif part == "writer":
            from agrochat.train.write import run

            res = run(
                model,
                out,
                n or 1200,
                max(n // 10, 100) if n else 150,
                6 if layers is None else layers,
                PlanTrainConfig(
                    epochs=epochs or 3,
                    batch_size=16,
                    lr=lr or 5e-4,
                    compute_dtype="bfloat16" if bf16 else "float32",
                ),
                resume,
                variety,
                init,
            )
        else:
            fail(f"part must be planner or writer, not {part!r}")
    except AgrochatError as e:
        fail(str(e))
    typer.echo(f"best epoch {res['best_epoch']}: {out / 'best'}")


@app.command("train-kind")
def train_kind_command(
    out: Path = typer.Option(..., "--output-dir", "-o", help="log.json and best/ go here"),
    data_dir: Path = typer.Option(
        Path("../shared/data"), "--data-dir", help="source data (training rows only; test sequences left out)"
    ),
    epochs: int = typer.Option(10, "--epochs", help="training epochs (the best on validation is kept)"),
):
    """Train the classifier that tells a core promoter from a terminator by its sequence (for the planner)."""
    from agrochat.train.kind import run

    try:
        res = run(data_dir, out, epochs)
    except AgrochatError as e:
        fail(str(e))
    best = res["best"]
    typer.echo(
        f"best epoch {res['best_epoch']}: balanced accuracy {best['balanced_accuracy']:.4f} (promoters "
        f"{best['acc_promoter']:.4f} of {best['n_promoter']}, terminators {best['acc_terminator']:.4f} of "
        f"{best['n_terminator']}) in {res['seconds']:.0f} s: {out / 'best'}"
    )


@app.command()
def tokenize(
    sequence: str = typer.Argument(..., help="DNA sequence (IUPAC letters, U and lowercase accepted)"),
):
    """Show the AgroNT 6-mer tokens and ids of a sequence."""
    from agrochat.bridge import load_agront_tokenizer

    tok = load_agront_tokenizer()
    try:
        ids = tok(sequence)["input_ids"]
    except AgrochatError as e:
        fail(str(e))
    typer.echo(json.dumps({"tokens": tok.convert_ids_to_tokens(ids), "input_ids": ids}))


@app.command()
def info(model: Path = typer.Argument(..., help="checkpoint directory")):
    """Print what a checkpoint holds (config and files) without loading weights."""
    from agrochat.bridge.io import CONFIG_NAME, checkpoint_summary

    if not (model / CONFIG_NAME).is_file():
        fail(f"{model} is not an agrochat checkpoint (no {CONFIG_NAME})")
    typer.echo(json.dumps(checkpoint_summary(model), indent=2))


@app.command()
def ensemble(
    base: Path = typer.Argument(..., help="the model whose decoder answers (member 1)"),
    members: list[Path] = typer.Argument(
        ..., help="independently trained models (other seeds, or specialists for some of the keys)"
    ),
    out: Path = typer.Option(..., "--output-dir", "-o", help="where to write the ensemble model"),
    variance: str = typer.Option(
        "",
        help="mixture | ambiguity: how the members' spread enters the uncertainty (default: base's setting)",
    ),
):
    """Combine independently trained models (same encoder and projector configs) into one ensemble model: a
    key's number is the mean of the members that answer it; their spread enters the uncertainty. A member
    trained on a subset of the keys (e.g. ``configs/mini-terminator.yaml``) answers those keys only."""
    import dataclasses

    from agrochat.bridge import DnaLanguageModel
    from agrochat.bridge.build import add_ensemble_members

    try:
        model = DnaLanguageModel.from_pretrained(base)
        others = [DnaLanguageModel.from_pretrained(m) for m in members]
        add_ensemble_members(model, others)
        if variance:
            model.config.ensemble_variance = dataclasses.replace(
                model.config, ensemble_variance=variance
            ).ensemble_variance  # checked before it is set
    except AgrochatError as e:
        fail(str(e))
    model.save_pretrained(out)
    for extra in ("registry.json", "MODEL_CARD.md"):
        if (base / extra).is_file():
            (out / extra).write_bytes((base / extra).read_bytes())
    typer.echo(f"wrote {out}: {model.config.ensemble} members")


@app.command()
def calibrate(
    model: Path = typer.Argument(..., help="checkpoint directory (its config is updated in place)"),
    keys: list[str] = typer.Option(
        ...,
        "--key",
        help="task/tissue key(s) to calibrate; a pattern such as 'tissue_expression/*' names several",
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="source data (default ../shared/data) or a build"),
    split: str = typer.Option("validation", "--split", help="never the test split"),
    min_rows: int = typer.Option(200, "--min-rows", help="refuse keys with fewer rows than this"),
    floor: float = typer.Option(
        None,
        "--floor",
        help="the keys' measurements pile up at this value (0 for log2(FPKM + 1)): fit intervals from a point "
        "mass there plus a continuous part, pooled over the keys given, instead of a sigma factor",
    ),
):
    """Fit each key's intervals on validation rows so its 68 % / 95 % intervals cover what they claim, and write
    them into the checkpoint's config: a factor on the predicted standard deviation (``std_scale``), or with
    ``--floor`` floor-aware intervals (``floor_intervals``)."""
    from agrochat.bridge.io import CONFIG_NAME
    from agrochat.chat import Assistant
    from agrochat.chat.calibration import calibrate as fit
    from agrochat.chat.calibration import calibrate_floor

    if split == "test":
        fail("calibrating on the test split would make its coverage meaningless; use validation")
    try:
        assistant = Assistant.from_pretrained(model)
        keys = _expand_keys(keys, assistant.known_keys)
        if floor is None:
            result = fit(assistant, data_dir, keys, split=split, min_rows=min_rows)
        else:
            result = calibrate_floor(assistant, data_dir, keys, floor, split=split, min_rows=min_rows)
    except AgrochatError as e:
        fail(str(e))
    assistant.model.config.save(model / CONFIG_NAME)
    for key, r in result.items():
        how = f"sigma x {r['factor']:.3f}" if floor is None else f"{r['p_floor']:.0%} at the floor {floor:g}"
        typer.echo(
            f"{key}: {r['n']} rows, {how}: 68%/95% coverage "
            f"{r['before'][0]:.3f}/{r['before'][1]:.3f} -> {r['after'][0]:.3f}/{r['after'][1]:.3f}"
        )


def _expand_keys(patterns: list[str], known: list[str]) -> list[str]:
    """Keys named by ``patterns`` (exact keys, or shell-style patterns like ``tissue_expression/*``), in order."""
    import fnmatch

    out: list[str] = []
    for pat in patterns:
        hits = [k for k in known if fnmatch.fnmatchcase(k, pat)] if any(c in pat for c in "*?[") else [pat]
        if not hits:
            raise InputError(f"--key {pat!r} matches none of this model's keys")
        out += [k for k in hits if k not in out]
    return out


app.add_typer(data_app, name="data", help="Build instruction data from benchmark labels and motif facts.")

app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    train_command
)

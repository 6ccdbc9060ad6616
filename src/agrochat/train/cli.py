"""``agrochat train``: a thin wrapper over :func:`agrochat.train.run`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False)


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_command(
    ctx: typer.Context,
    config: Path = typer.Option(..., "--config", "-c", help="YAML preset, e.g. configs/tiny.yaml"),
    output_dir: str = typer.Option(
        None, "--output-dir", "-o", help="where checkpoints, logs and the model go"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue from the latest complete checkpoint"),
):
    """Train a model: stages regress -> align -> instruct as the preset says. Extra args are key=value overrides."""
    from agrochat.console import fail
    from agrochat.errors import AgrochatError

    from .config import load_config
    from .run import run

    overrides = list(ctx.args)
    if output_dir:
        overrides.append(f"output_dir={output_dir}")
    try:
        cfg = load_config(config, overrides)
        results = run(cfg, resume=resume)
    except AgrochatError as e:
        fail(str(e))
    typer.echo(f"done: model in {Path(cfg.output_dir) / 'model'}")
    for stage, res in results.items():
        for key, m in res.get("per_key", {}).items():
            typer.echo(
                f"  {stage:9s} {key:40s} R²={m.get('r2', float('nan')):.3f} "
                f"pearson={m.get('pearson', float('nan')):.3f} spearman={m.get('spearman', float('nan')):.3f}"
            )


def main() -> None:
    app()

"""CLI error reporting shared by every subcommand."""

from __future__ import annotations

import typer


def fail(message: str) -> None:
    """One-line error on stderr, exit code 2, no traceback."""
    typer.secho(f"error: {message}", err=True, fg="red")
    raise typer.Exit(2)

"""``agrochat serve``: the command (FastAPI and uvicorn are imported only when it runs)."""

from __future__ import annotations

from pathlib import Path

import typer


def serve_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (other than loopback: a warning)"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    queue_size: int = typer.Option(16, "--queue-size", help="model jobs that may wait; more get 503"),
):
    """Serve the web page (/) and the OpenAI-compatible API (/v1/...) for one loaded model."""
    from agrochat.console import fail
    from agrochat.errors import AgrochatError

    try:
        from .app import serve
        from .config import ServeConfig
    except ImportError as e:
        fail(f"agrochat serve needs the serve extra: pip install 'agrochat[serve]' ({e})")
    try:
        config = ServeConfig(queue_size=queue_size)
        serve(model, host, port, config)
    except AgrochatError as e:
        fail(str(e))

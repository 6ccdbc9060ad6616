"""``agrochat serve``: the command (FastAPI and uvicorn are imported only when it runs)."""

from __future__ import annotations

from pathlib import Path

import typer


def serve_command(
    model: Path = typer.Option(
        None, "--model", "-m", help="checkpoint directory (default: the shipped model)"
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="address to bind (beyond loopback: needs --api-key, or --no-auth)"
    ),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    queue_size: int = typer.Option(16, "--queue-size", help="model jobs that may wait; more get 503"),
    batch_wait_ms: float = typer.Option(
        5.0,
        "--batch-wait-ms",
        help="/v1/predict: how long a gathered batch waits for more requests (after the first one with the "
        "model idle, after the running batch otherwise)",
    ),
    max_batch: int = typer.Option(
        256,
        "--max-batch",
        help="/v1/predict: sequences per model batch; a gathered batch this full runs at once, behind the "
        "running one",
    ),
    api_key: str = typer.Option(
        None,
        "--api-key",
        envvar="AGROCHAT_API_KEY",
        help="require Authorization: Bearer KEY on the API (/v1/...); the page asks for it once",
        show_default=False,
    ),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="serve beyond loopback without an API key (anyone who can reach it may use it)",
    ),
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
        config = ServeConfig(
            queue_size=queue_size, batch_wait_ms=batch_wait_ms, max_batch=max_batch, api_key=api_key or None
        )
        serve(model, host, port, config, no_auth=no_auth)
    except AgrochatError as e:
        fail(str(e))

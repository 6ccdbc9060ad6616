"""The FastAPI app over one :class:`Assistant` and the ``serve`` entry point (uvicorn)."""

from __future__ import annotations

import ipaddress
import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from agrochat.errors import ConfigError

from . import api, openai_api
from .auth import ApiKeyAuth
from .batcher import PredictBatcher
from .config import ServeConfig
from .errors import install_handlers
from .limits import BodyLimit
from .state import ServerState
from .worker import ModelWorker

WEB = Path(__file__).resolve().parent.parent / "web"
log = logging.getLogger("agrochat.serve")


def create_app(assistant, config: ServeConfig | None = None) -> FastAPI:
    """The app: the OpenAI-compatible API, agrochat's endpoints, the web page at ``/`` and offline docs."""
    config = config or ServeConfig()
    worker = ModelWorker(config.queue_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        worker.close()

    app = FastAPI(
        title="agrochat",
        summary="Plant DNA in, calibrated numbers out.",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )  # FastAPI's docs pages load from a CDN
    batcher = PredictBatcher(
        assistant, worker, config.batch_wait_ms / 1000, config.max_batch, config.max_queued_sequences
    )
    app.state.agrochat = ServerState(assistant, config, worker, batcher)
    install_handlers(app, config.retry_after_s)
    app.include_router(openai_api.router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(WEB / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(WEB / "docs.html")

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    if config.api_key:
        app.add_middleware(ApiKeyAuth, api_key=config.api_key)  # outermost: no body is read without the key
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, config: ServeConfig, no_auth: bool) -> None:
    """Binding beyond loopback needs a key, or ``no_auth`` said explicitly (then a warning)."""
    if is_loopback(host) or config.api_key:
        return
    if not no_auth:
        raise ConfigError(
            f"binding to {host} without an API key would let anyone who can reach it use the model: pass "
            "--api-key KEY (or set AGROCHAT_API_KEY), or --no-auth to serve without one"
        )
    print(
        f"warning: binding to {host} without an API key (--no-auth): anyone who can reach this address can use "
        "the model",
        file=sys.stderr,
    )


def serve(
    model: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    config: ServeConfig | None = None,
    log_level: str = "info",
    no_auth: bool = False,
) -> None:
    """Load the model once and serve it with uvicorn until interrupted."""
    import uvicorn

    from agrochat.chat import Assistant

    config = config or ServeConfig()
    check_exposure(host, config, no_auth)
    app = create_app(Assistant.from_pretrained(model), config)
    uvicorn.run(app, host=host, port=port, log_level=log_level)

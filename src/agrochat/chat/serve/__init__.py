"""``agrochat serve``: a local web page and an OpenAI-compatible HTTP API over one loaded :class:`Assistant`.

Kept import-light (FastAPI is the optional ``serve`` extra): ``create_app`` and ``serve`` load on first use.
"""

from __future__ import annotations

from .config import ServeConfig

__all__ = ["ServeConfig", "create_app", "serve"]


def __getattr__(name: str):
    if name in ("create_app", "serve"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)

"""Every failure as one line of OpenAI-style JSON: ``{"error": {"message", "type", "code"}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from agrochat.bridge import DnaSequenceError
from agrochat.errors import AgrochatError, UnknownTaskError

from .worker import Overloaded

log = logging.getLogger("agrochat.serve")


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code


def one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_response(
    status: int, message: str, type_: str, code: str | None = None, headers=None
) -> JSONResponse:
    body = {"error": {"message": one_line(message), "type": type_, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def user_error(e: AgrochatError) -> ApiError:
    """A model-side input error (bad DNA, unknown task, malformed FASTA...) as a 400."""
    message = str(e)
    code = (
        "unknown_task"
        if isinstance(e, UnknownTaskError)
        else "bad_sequence"
        if isinstance(e, DnaSequenceError)
        else None
    )
    return ApiError(400, message, code=code)


def _validation_message(e: RequestValidationError) -> str:
    parts = []
    if any(err.get("type") == "json_invalid" for err in e.errors()):
        return "the request body is not valid JSON"
    for err in e.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


def install_handlers(app: FastAPI, retry_after_s: int) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError):
        return error_response(e.status, e.message, e.type, e.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError):
        return error_response(400, _validation_message(e), "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, e: HTTPException):
        kind = "not_found_error" if e.status_code == 404 else "invalid_request_error"
        return error_response(e.status_code, str(e.detail), kind, headers=getattr(e, "headers", None))

    @app.exception_handler(Overloaded)
    async def _busy(_: Request, e: Overloaded):
        return error_response(
            503, str(e), "overloaded_error", "overloaded", headers={"Retry-After": str(retry_after_s)}
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception):
        log.exception("unexpected error")
        return error_response(500, f"internal error ({e.__class__.__name__})", "server_error")

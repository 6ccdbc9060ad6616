"""Who may call the API: ``Authorization: Bearer <key>`` on every ``/v1/`` request when the server has a key, as
vLLM, llama.cpp's server and TGI do. The page, its files and the health check stay open (the page asks for the
key once and sends it with its API calls)."""

from __future__ import annotations

import hmac
import json

PROTECTED = "/v1/"


class ApiKeyAuth:
    """Raw ASGI middleware: 401 with an OpenAI-style error for a ``/v1/`` request without the right bearer key."""

    def __init__(self, app, api_key: str) -> None:
        self.app, self.key = app, api_key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").startswith(PROTECTED):
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.key):
            return await self.app(scope, receive, send)
        msg = "missing API key: send Authorization: Bearer <key>" if not header else "wrong API key"
        body = json.dumps(
            {"error": {"message": msg, "type": "invalid_request_error", "code": "invalid_api_key"}},
            separators=(",", ":"),
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": body})

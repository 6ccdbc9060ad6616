"""Request body size limit (before any JSON parsing), as raw ASGI middleware."""

from __future__ import annotations

import json


class BodyLimit:
    """Answer 413 to a request whose body is larger than ``max_bytes`` (declared or actually sent)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._reject(send)
        chunks, size, more = [], 0, True
        while more:  # buffer the body (bounded by max_bytes) so an undeclared one is limited too
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._reject(send)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _reject(self, send):
        msg = f"request body larger than {self.max_bytes} bytes"
        body = json.dumps(
            {"error": {"message": msg, "type": "invalid_request_error", "code": "too_large"}},
            separators=(",", ":"),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

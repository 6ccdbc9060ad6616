"""The OpenAI chat-completions protocol: ``/v1/chat/completions`` (plain or server-sent events) and ``/v1/models``.

Stateless: each request carries its whole conversation, so concurrent conversations never share context.
A non-streamed answer also carries ``agrochat``: the operation, the task key and the prediction records.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from agrochat.chat.dialogue import DNA_RUN
from agrochat.errors import AgrochatError

from .errors import ApiError, one_line, user_error
from .schemas import ChatMessage, ChatRequest
from .state import ServerState, record, state

router = APIRouter(tags=["openai"])


def _text(content: str | list[dict] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.get("type") != "text":
            raise ApiError(400, f"message content of type {part.get('type')!r} is not supported (text only)")
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def turns(messages: list[ChatMessage], st: ServerState) -> list[dict]:
    """The request's messages as agrochat chat turns (developer -> system, tool results -> user turns),
    checked against the limits; the last one must be a user turn."""
    cfg = st.config
    if len(messages) > cfg.max_messages:
        raise ApiError(
            400, f"{len(messages)} messages, more than the limit of {cfg.max_messages}", code="too_many"
        )
    out = []
    for i, m in enumerate(messages):
        text = _text(m.content)
        if len(text) > cfg.max_message_chars:
            raise ApiError(
                400,
                f"message {i + 1}: {len(text)} characters, more than the limit of {cfg.max_message_chars}",
                code="too_long",
            )
        for run in DNA_RUN.findall(text):
            st.check_length(run, f"message {i + 1}")
        if m.role == "tool":
            out.append({"role": "user", "content": f"Tool result: {text}"})
        else:
            out.append({"role": "system" if m.role == "developer" else m.role, "content": text})
    if out[-1]["role"] != "user":
        raise ApiError(400, "the last message must be a user message")
    return out


def _max_new_tokens(req: ChatRequest, st: ServerState) -> int:
    asked = req.max_completion_tokens or req.max_tokens or st.config.default_max_new_tokens
    return min(asked, st.config.max_new_tokens)


def _check_model(req: ChatRequest, st: ServerState) -> None:
    if req.model != st.config.model_id:
        raise ApiError(
            404,
            f"model {req.model!r} is not served here; use {st.config.model_id!r}",
            "not_found_error",
            "model_not_found",
        )


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completion (stream: true for SSE)")
async def chat_completions(req: ChatRequest, request: Request):
    st = state(request)
    _check_model(req, st)
    messages, max_new = turns(req.messages, st), _max_new_tokens(req, st)
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if req.stream:
        try:
            job = await st.worker.stream(
                lambda: st.assistant.chat(messages, stream=True, max_new_tokens=max_new)
            )
        except AgrochatError as e:  # a 400; anything else is a bug
            raise user_error(e) from None
        return StreamingResponse(
            _events(job, cid, created, st.config.model_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = await st.call(st.assistant.chat, messages, max_new_tokens=max_new)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": st.config.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(st, messages, answer.text),
        "agrochat": {
            "operation": getattr(answer.intent, "op", None),
            "key": answer.key,
            "predictions": [record(p) for p in answer.predictions],
        },
    }


def _usage(st: ServerState, messages: list[dict], text: str) -> dict:
    """Token counts in the decoder's tokenizer (pasted DNA counted as the text it was sent as)."""
    tok = st.assistant.model.tokenizer
    prompt = sum(len(tok(str(m["content"]), add_special_tokens=False)["input_ids"]) for m in messages)
    completion = len(tok(text, add_special_tokens=False)["input_ids"])
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None = None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _events(job, cid: str, created: int, model: str) -> AsyncIterator[str]:
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    try:
        async for piece in job.pieces():
            if piece:
                yield _chunk(cid, created, model, {"content": piece})
    except Exception as e:  # after the headers: the error as an event, as OpenAI's API does
        message = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        yield f"data: {json.dumps({'error': {'message': one_line(message), 'type': 'server_error'}})}\n\n"
    else:
        yield _chunk(cid, created, model, {}, "stop")
    yield "data: [DONE]\n\n"


def _model_card(st: ServerState) -> dict:
    return {"id": st.config.model_id, "object": "model", "created": st.created, "owned_by": "agrochat"}


@router.get("/v1/models", summary="The one model this server answers with")
async def models(request: Request) -> dict:
    return {"object": "list", "data": [_model_card(state(request))]}


@router.get("/v1/models/{model_id}", summary="One model")
async def model(model_id: str, request: Request) -> dict:
    st = state(request)
    if model_id != st.config.model_id:
        raise ApiError(404, f"model {model_id!r} is not served here", "not_found_error", "model_not_found")
    return _model_card(st)

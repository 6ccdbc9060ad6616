"""What every route reads: the assistant, the settings and the model worker, kept on ``app.state``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from agrochat.errors import AgrochatError

from .batcher import PredictBatcher
from .config import ServeConfig
from .errors import ApiError, user_error
from .worker import ModelWorker


@dataclass
class ServerState:
    assistant: Any
    config: ServeConfig
    worker: ModelWorker
    batcher: PredictBatcher
    created: int = field(default_factory=lambda: int(time.time()))

    async def predict(self, records: list, key: str, explanations: bool) -> list:
        """``/v1/predict``'s model call, batched with concurrent requests; its input errors become 400s."""
        try:
            return await self.batcher.predict(records, key, explanations)
        except AgrochatError as e:  # a 400; anything else is a bug
            raise user_error(e) from None

    async def call(self, fn, *args, **kwargs):
        """``fn`` on the model thread; its input errors become 400s."""
        try:
            return await self.worker.run(fn, *args, **kwargs)
        except AgrochatError as e:  # a 400; anything else is a bug
            raise user_error(e) from None

    def key(self, task: str, tissue: str | None) -> str:
        """The task key (a full ``task/tissue`` key ignores ``tissue``); unknown ones are a 400."""
        try:
            return self.assistant.resolve(task, None if "/" in task else tissue)
        except AgrochatError as e:  # a 400; anything else is a bug
            raise user_error(e) from None

    def check_length(self, seq: str, where: str) -> None:
        n = self.config.max_sequence_length
        if len(seq) > n:
            raise ApiError(
                400, f"{where}: {len(seq)} characters, more than the limit of {n} bases", code="too_long"
            )


def state(request: Request) -> ServerState:
    return request.app.state.agrochat


def record(prediction) -> dict:
    """A prediction as ``agrochat predict --json`` writes it."""
    row = prediction.to_dict()
    row.pop("attribution")
    return row

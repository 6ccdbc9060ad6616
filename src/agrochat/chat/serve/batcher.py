"""Dynamic batching of ``/v1/predict``: concurrent requests for the same key are gathered into one model batch.

Continuous batching: requests arriving while a batch runs are gathered, and the gathered ones run as one batch
``wait_s`` (a few milliseconds) after it ends; with the model idle, ``wait_s`` after the first of them arrives; at
once when the gathered sequences reach ``max_batch``. The wait after a batch lets the clients it answered send
their next requests in time to join (with 32 single-sequence clients on 2 cores it raised the mean batch and the
throughput; ``bench/serve_load.py``). Each batch is one model job on the worker, and each request gets back its
own slice, in its own order. The sequences waiting are bounded (``max_queued``): beyond it a request is turned away at once
(:class:`~agrochat.chat.serve.worker.Overloaded`, a 503). A batch failing on one request's input (a bad character)
is re-run request by request, so only that request gets the 400.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from agrochat.errors import AgrochatError

from .worker import ModelWorker, Overloaded


@dataclass
class _Group:
    requests: list[tuple[list, asyncio.Future]] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None


class PredictBatcher:
    def __init__(
        self, assistant: Any, worker: ModelWorker, wait_s: float, max_batch: int, max_queued: int
    ) -> None:
        self.assistant, self.worker = assistant, worker
        self.wait_s, self.max_batch, self.max_queued = wait_s, max_batch, max_queued
        self._groups: dict[tuple[str, bool], _Group] = {}
        self.queued = 0  # sequences gathered or running
        self.batches = 0  # model jobs run (for /health and tests)
        self.running = 0  # batches handed to the worker and not yet finished

    async def predict(self, records: list[tuple[str, str]], key: str, explanations: bool) -> list:
        """Predictions for ``records`` (id, sequence), computed in a batch with whatever else is waiting."""
        if self.queued + len(records) > self.max_queued:
            raise Overloaded(f"the model is busy ({self.queued} sequences queued or running); retry later")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        gk = (key, explanations)
        group = self._groups.setdefault(gk, _Group())
        group.requests.append((records, fut))
        group.size += len(records)
        self.queued += len(records)
        if group.size >= self.max_batch:
            self._flush(gk)
        elif self.running == 0 and group.timer is None:  # idle: run after wait_s
            group.timer = loop.call_later(self.wait_s, self._flush, gk)
        return await fut  # busy: gathered until the running batch ends (_run flushes it)

    def _flush(self, gk: tuple[str, bool]) -> None:
        group = self._groups.pop(gk, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        self.running += 1
        asyncio.ensure_future(self._run(gk, group))

    async def _run(self, gk: tuple[str, bool], group: _Group) -> None:
        key, explanations = gk
        try:
            self.batches += 1
            everything = [r for recs, _ in group.requests for r in recs]
            try:
                preds = await self.worker.run(self._predict, everything, key, explanations)
            except AgrochatError:  # one request's input: the others still get their answers
                for recs, fut in group.requests:
                    await self._alone(recs, fut, key, explanations)
                return
            except Exception as e:  # overload or a bug: every request of the batch gets it
                for _, fut in group.requests:
                    if not fut.done():
                        fut.set_exception(e)
                return
            i = 0
            for recs, fut in group.requests:
                if not fut.done():
                    fut.set_result(preds[i : i + len(recs)])
                i += len(recs)
        finally:
            self.queued -= group.size
            self.running -= 1
            if self.running == 0:  # what gathered while it ran goes next, after wait_s for its stragglers
                loop = asyncio.get_running_loop()
                for gk_next, pending in self._groups.items():
                    if pending.timer is None:
                        pending.timer = loop.call_later(self.wait_s, self._flush, gk_next)

    async def _alone(self, recs: list, fut: asyncio.Future, key: str, explanations: bool) -> None:
        try:
            result = await self.worker.run(self._predict, recs, key, explanations)
        except Exception as e:
            if not fut.done():
                fut.set_exception(e)
            return
        if not fut.done():
            fut.set_result(result)

    def _predict(self, records: list, key: str, explanations: bool) -> list:
        return self.assistant.predict(records, key, None, self.max_batch, explanations)

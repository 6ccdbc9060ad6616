"""One thread runs every model call, in order; a bounded count of waiting jobs turns overload into a fast error.

The model is not thread-safe, so nothing else touches it. A job that would exceed the queue raises
:class:`Overloaded` at once (the API answers 503 with ``Retry-After``) instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Overloaded(RuntimeError):
    """More model jobs than the queue holds."""


class ModelWorker:
    def __init__(self, queue_size: int) -> None:
        self.capacity = queue_size + 1  # the running job and the waiting ones
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agrochat-model")
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def _reserve(self) -> None:
        with self._lock:
            if self._pending >= self.capacity:
                raise Overloaded(
                    f"the model is busy ({self._pending} requests queued or running); retry later"
                )
            self._pending += 1

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def _submit(self, fn: Callable[[], Any]) -> Future:
        self._reserve()

        def job():
            try:
                return fn()
            finally:
                self._release()

        try:
            fut = self._executor.submit(job)
        except BaseException:
            self._release()
            raise
        fut.add_done_callback(lambda f: self._release() if f.cancelled() else None)  # never started
        return fut

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the model thread; raises :class:`Overloaded` when the queue is full."""
        return await asyncio.wrap_future(self._submit(lambda: fn(*args, **kwargs)))

    async def stream(self, make_pieces: Callable[[], Iterable[str]]) -> StreamJob:
        """Start ``make_pieces()`` on the model thread and iterate it there; returns once it has started (its
        input errors raise here, before any piece), so a caller can still answer with an error status."""
        job = StreamJob(asyncio.get_running_loop())
        self._submit(lambda: job.produce(make_pieces))
        try:
            await job.started()
        except BaseException:  # an input error, or the client left while the job waited: don't generate
            job.cancel()
            raise
        return job

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class StreamJob:
    """Pieces produced on the model thread, consumed on the event loop; closing it stops the producer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()
        self._stop = threading.Event()

    def _put(self, kind: str, value: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is gone (server shutting down)
            self._stop.set()

    def cancel(self) -> None:
        self._stop.set()

    def produce(self, make_pieces: Callable[[], Iterable[str]]) -> None:  # on the model thread
        if self._stop.is_set():
            return
        try:
            pieces = iter(make_pieces())
            self._put("start", None)
            for piece in pieces:
                if self._stop.is_set():
                    break
                self._put("piece", piece)
            self._put("end", None)
        except Exception as e:
            self._put("error", e)

    async def started(self) -> None:
        kind, value = await self._queue.get()  # "start" or "error": produce() sends one of them first
        if kind == "error":
            raise value

    async def pieces(self) -> AsyncIterator[str]:
        """Text pieces; a failure after the first piece raises here."""
        try:
            while True:
                kind, value = await self._queue.get()
                if kind == "piece":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            self.cancel()

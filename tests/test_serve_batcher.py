"""The /v1/predict batcher on its own (a fake model that takes its time): requests arriving while a batch runs
are gathered into the next batch, and each request gets its own answers back."""

from __future__ import annotations

import asyncio
import time

from agrochat.chat.serve.batcher import PredictBatcher
from agrochat.chat.serve.worker import ModelWorker


class SlowModel:
    """``predict`` returns each record's id with the batch it ran in."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.batches = seconds, []

    def predict(self, records, key, _tissue, _max_batch, _explanations):
        self.batches.append([rid for rid, _ in records])
        time.sleep(self.seconds)
        return [(rid, len(self.batches)) for rid, _ in records]


def test_requests_arriving_during_a_batch_form_the_next_one():
    model = SlowModel(0.2)
    worker = ModelWorker(queue_size=4)
    batcher = PredictBatcher(model, worker, wait_s=0.005, max_batch=256, max_queued=4096)

    async def scenario():
        first = asyncio.ensure_future(batcher.predict([("a", "ACGT")], "k", False))
        await asyncio.sleep(0.05)  # the first batch is running now
        later = []
        for i in range(10):  # spread over the running batch, further apart than the wait
            later.append(asyncio.ensure_future(batcher.predict([(f"r{i}", "A"), (f"s{i}", "A")], "k", False)))
            await asyncio.sleep(0.01)
        return await first, await asyncio.gather(*later)

    try:
        first, later = asyncio.run(scenario())
    finally:
        worker.close()
    assert model.batches[0] == ["a"] and len(model.batches) == 2  # ten requests: one batch, after the first
    assert sorted(model.batches[1]) == sorted(f"{p}{i}" for i in range(10) for p in "rs")
    assert first == [("a", 1)]
    for i, rows in enumerate(later):  # each request its own records, in its own order
        assert rows == [(f"r{i}", 2), (f"s{i}", 2)]
    assert batcher.queued == 0 and batcher.running == 0


def test_a_full_batch_runs_without_waiting():
    model = SlowModel(0.0)
    worker = ModelWorker(queue_size=4)
    batcher = PredictBatcher(model, worker, wait_s=30.0, max_batch=4, max_queued=4096)

    async def scenario():
        return await asyncio.wait_for(batcher.predict([(str(i), "A") for i in range(4)], "k", False), 5)

    try:
        rows = asyncio.run(scenario())
    finally:
        worker.close()
    assert [r for r, _ in rows] == ["0", "1", "2", "3"]

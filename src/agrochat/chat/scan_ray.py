"""``agrochat scan --engine ray``: the genome scan of :func:`agrochat.chat.scan.scan_rows` as Ray Data batch
inference over a Ray cluster (a local one of ``workers`` processes, or an existing one at ``address``).

The unit of work is the single-process scan's: a chunk of windows (:func:`~agrochat.chat.scan.scan_parts`, the
same chunks in the same order), turned into rows by :func:`~agrochat.chat.scan.scan_chunk` with the same per-key
batching, so each number is the one the local engine writes. One Ray Data item is one chunk (its index and its
windows pickled: frozen dataclasses of strings and ints); a callable class, one per worker actor, loads the model
and opens the genome once and returns the chunk's rows pickled. Results are yielded in chunk order.

Memory: the driver holds the windows of every chunk (coordinates only, no sequences; a few hundred bytes per
window) in Ray's object store; sequences are fetched by the workers. Ray Data streams the results (its
backpressure bounds the finished chunks waiting to be read) and the dataset preserves order, so the reorder
buffer here holds no chunk in practice and at most the chunks finished ahead of the next one otherwise.

Ray is an optional dependency: ``pip install 'agrochat[ray]'``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from agrochat.errors import AgrochatError, InputError
from agrochat.genome.windows import Feature

RAY_MISSING = "agrochat scan --engine ray needs Ray: pip install 'agrochat[ray]'"


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray


class ChunkScorer:
    """A worker actor's state: the model and the genome, loaded once; called on a batch of chunks, it returns
    their rows."""

    def __init__(self, model_dir, genome_path, per_kind, batch_size, max_tokens) -> None:
        import torch

        from agrochat.chat import Assistant
        from agrochat.genome.reader import Genome

        torch.set_num_threads(1)  # one core per worker: the cluster's CPUs are counted in workers
        self.assistant = Assistant.from_pretrained(model_dir)
        self.genome = Genome(genome_path)
        self.per_kind, self.batch_size, self.max_tokens = per_kind, batch_size, max_tokens

    def __call__(self, batch):
        import pyarrow as pa

        from agrochat.chat.scan import scan_chunk

        rows = [
            pickle.dumps(
                list(
                    scan_chunk(
                        self.assistant,
                        self.genome,
                        pickle.loads(part),
                        self.per_kind,
                        self.batch_size,
                        self.max_tokens,
                    )
                )
            )
            for part in batch.column("windows").to_pylist()
        ]
        return pa.table({"index": batch.column("index"), "rows": pa.array(rows, pa.binary())})


def _agrochat_cause(e: BaseException) -> AgrochatError | None:
    """The user error (:class:`AgrochatError`) a worker raised, from Ray's wrapping of it (whose ``cause`` is the
    original exception)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        inner = getattr(x, "cause", None)
        if isinstance(x, AgrochatError) and not isinstance(inner, BaseException):
            return x
        stack += [x.__context__, x.__cause__, inner if isinstance(inner, BaseException) else None]
    return None


def scan_rows_ray(
    model_dir: str | Path | None,
    genome_path: str | Path,
    features: Iterable[Feature],
    keys: Sequence[str] | None = None,
    done: set[tuple[str, str]] | None = None,
    batch_size: int = 256,
    max_tokens: int | None = None,
    workers: int = 2,
    chunk: int = 1024,
    address: str | None = None,
) -> Iterator[dict]:
    """The rows :func:`~agrochat.chat.scan.scan_rows` yields, in the same order, computed by ``workers`` Ray actors.
    Joins the cluster at ``address`` (the model and genome paths must exist on its nodes), or the one this process
    already runs; otherwise starts a local one of ``workers`` CPUs and shuts it down at the end. Ray, the model's
    keys and the genome are checked here; the cluster starts on the first row asked for."""
    ray = _ray()
    from agrochat.bridge.io import read_config
    from agrochat.chat.assistant import DEFAULT_MODEL_DIR
    from agrochat.chat.scan import scan_parts, window_keys
    from agrochat.genome.reader import Genome
    from agrochat.train.batching import INFERENCE_MAX_TOKENS

    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    model = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    per_kind = window_keys(list(read_config(model).numeric_head.keys), keys)
    Genome(genome_path)  # indexed here, once, before the workers open it
    parts = (
        {"index": i, "windows": pickle.dumps(part)}
        for i, part in enumerate(scan_parts(features, per_kind, done, chunk))
    )
    scorer = (
        str(model.resolve()),
        str(Path(genome_path).resolve()),
        per_kind,
        batch_size,
        max_tokens or INFERENCE_MAX_TOKENS,
    )
    return _stream(ray, parts, scorer, workers, address)


def _stream(ray, parts: Iterable[dict], scorer: tuple, workers: int, address: str | None) -> Iterator[dict]:
    items = list(parts)
    if not items:
        return
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="warning")
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:
        ds = ray.data.from_items(items, override_num_blocks=len(items))  # one block per chunk
        ds.context.execution_options.preserve_order = True
        ds.context.enable_progress_bars = False
        ds.context.print_on_execution_start = False
        ds.context.raise_original_map_exception = True  # a worker's AgrochatError reaches the caller as such
        ds = ds.map_batches(
            ChunkScorer,
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),  # one actor per worker
            num_cpus=1,
            fn_constructor_args=scorer,
        )
        n = len(items)
        del items  # now in Ray's object store
        ahead: dict[int, bytes] = {}  # chunks finished before the next one in order
        following = 0
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                indices, rows = batch.column("index").to_pylist(), batch.column("rows").to_pylist()
                ahead.update(zip(indices, rows, strict=True))
                while following in ahead:
                    yield from pickle.loads(ahead.pop(following))
                    following += 1
        except Exception as e:
            cause = _agrochat_cause(e)
            if cause is None:
                raise
            cause.args = (str(cause).splitlines()[0],)  # without the retry advice Ray appends
            raise cause from None
        if following != n:  # every chunk comes back once
            raise RuntimeError(f"ray scan: chunk {following} of {n} never came back")
    finally:
        if started:
            ray.shutdown()

"""Memory-lean batching: pad to the longest in the batch, length buckets, token-budget batches.

A batch holds as many examples as fit ``n * max_len <= max_tokens`` (and ``n <= max_batch_size``), so 170 bp
promoters (31 tokens) and 6 kb genes (1000 tokens) share one loader without padding everything to 1024.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from agrochat.errors import InputError

T = TypeVar("T")

INFERENCE_MAX_TOKENS = 32768
"""Default token budget of an inference batch (padded DNA tokens): 192 promoters of 170 bases for a base-level
encoder, 256 (the count cap) for AgroNT's 31 tokens, 32 sequences of 6 kb for AgroNT (1,001 tokens each)."""


class TokenBudgetSampler:
    """Deterministic (seed, epoch) batches of example indices; shards batches across DDP ranks; resumable."""

    def __init__(
        self,
        lengths: Sequence[int],
        max_tokens: int,
        max_batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        bucket_batches: int = 50,
    ) -> None:
        if not len(lengths):
            raise InputError("no examples to batch")
        self.lengths = np.asarray(lengths)
        self.max_tokens, self.max_batch_size = max_tokens, max_batch_size
        self.seed, self.shuffle = seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.bucket = max(1, bucket_batches * max_batch_size)

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches for ``epoch``."""
        rng = np.random.default_rng(self.seed * 1_000_003 + epoch)
        order = rng.permutation(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        batches: list[list[int]] = []
        for start in range(0, len(order), self.bucket):
            chunk = order[start : start + self.bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]  # length bucket
            cur: list[int] = []
            cur_max = 0
            for i in chunk.tolist():
                new_max = max(cur_max, int(self.lengths[i]))
                if cur and (new_max * (len(cur) + 1) > self.max_tokens or len(cur) >= self.max_batch_size):
                    batches.append(cur)
                    cur, new_max = [], int(self.lengths[i])
                cur.append(i)
                cur_max = new_max
            if cur:
                batches.append(cur)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world_size > 1:  # every rank gets the same number of batches
            usable = len(batches) // self.world_size * self.world_size
            batches = batches[self.rank : usable : self.world_size]
        return batches

    def padded_tokens(self, batch: list[int]) -> int:
        return int(self.lengths[batch].max()) * len(batch)


def budget_batches(
    items: Iterable[T], tokens: Callable[[T], int], max_tokens: int, max_batch_size: int
) -> Iterator[list[T]]:
    """``items`` in their order, in batches that keep the sampler's rule: ``n * longest <= max_tokens`` and
    ``n <= max_batch_size`` (a single item longer than the budget is a batch of its own). Streams: reads one
    item ahead of what it yields, so a FASTA file of any size is batched in bounded memory."""
    if max_tokens < 1 or max_batch_size < 1:
        raise InputError("max_tokens and batch_size must be >= 1")
    batch: list[T] = []
    longest = 0
    for item in items:
        n = tokens(item)
        if batch and (max(longest, n) * (len(batch) + 1) > max_tokens or len(batch) >= max_batch_size):
            yield batch
            batch, longest = [], 0
        batch.append(item)
        longest = max(longest, n)
    if batch:
        yield batch

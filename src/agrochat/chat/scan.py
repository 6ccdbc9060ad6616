"""Genome to table: every annotated transcript's promoter and terminator windows scored, and every variant in a
window scored as the change it makes (``agrochat scan``, ``agrochat variants``).

Windows and variants come from :mod:`agrochat.genome`; the numbers from :meth:`Assistant.iter_predict_key` (the
fast path, token-budget batches), so each value is ``predict()``'s for the window's sequence. Windows that run off
a contig or are mostly N are reported with a status, never dropped. Work is done in chunks of windows (or
variant records), so memory stays bounded and rows are written as they come.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from agrochat.domain import tasks as T
from agrochat.errors import InputError, UnknownTaskError
from agrochat.genome.reader import Genome, GenomeError
from agrochat.genome.windows import (
    KINDS,
    PROMOTER,
    TERMINATOR,
    Feature,
    RefMismatch,
    Variant,
    Window,
    alt_window,
    oriented,
    window,
)

MAX_N_FRACTION = 0.1
"""A window with more N than this is reported (``status: too_many_N``), not scored."""

SCAN_COLUMNS = [
    "transcript_id",
    "gene_id",
    "chrom",
    "strand",
    "window",
    "start",
    "end",
    "key",
    "value",
    "uncertainty",
    "low68",
    "high68",
    "low95",
    "high95",
    "percentile",
    "level",
    "ood",
    "ood_reason",
    "status",
]
VARIANT_COLUMNS = [
    "variant",
    "transcript_id",
    "gene_id",
    "window",
    "key",
    "ref_value",
    "alt_value",
    "delta",
    "uncertainty",
    "exceeds",
    "ood",
    "status",
]


def window_keys(known: Sequence[str], keys: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The keys scored on each window kind: terminator keys on terminator windows, every other key (promoter
    strength, promoter conditions, tissue expression) on promoter windows. Default: the promoter and terminator
    strength keys the model has."""
    keys = list(keys or [k for k in known if T.split_key(k)[0] in (T.PROMOTER, T.TERMINATOR)])
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise UnknownTaskError(f"this model has no key {unknown[0]!r}; it answers for: {', '.join(known)}")
    out: dict[str, list[str]] = {PROMOTER: [], TERMINATOR: []}
    for k in keys:
        out[TERMINATOR if T.split_key(k)[0] == T.TERMINATOR else PROMOTER].append(k)
    return {kind: ks for kind, ks in out.items() if ks}


@dataclass
class Cut:
    """A window and its sequence, or why it has none."""

    window: Window
    sequence: str = ""
    status: str = "ok"


def cut(genome: Genome, w: Window) -> Cut:
    f = w.feature
    if f.chrom not in genome.lengths:
        return Cut(w, status="unknown_contig")
    if not genome.inside(f.chrom, w.start, w.end):
        return Cut(w, status="off_contig")
    seq = oriented(genome.fetch(f.chrom, w.start, w.end), w.strand)
    if seq.count("N") > MAX_N_FRACTION * len(seq):
        return Cut(w, seq, "too_many_N")
    return Cut(w, seq)


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    chunk: list = []
    for x in items:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _values(assistant, seqs: list[str], key: str, batch_size: int, max_tokens: int) -> list:
    pairs = [(str(i), s) for i, s in enumerate(seqs)]
    return list(assistant.iter_predict_key(pairs, key, batch_size, False, max_tokens))


def scan_parts(
    features: Iterable[Feature],
    per_kind: dict[str, list[str]],
    done: set[tuple[str, str]] | None = None,
    chunk: int = 1024,
) -> Iterator[list[Window]]:
    """The units of work of a scan, whichever the engine: the windows to score (each feature's kinds that have
    keys, less those ``done``), in annotation order, in consecutive runs of ``chunk``."""
    done = done or set()
    windows = (
        window(f, kind) for f in features for kind in KINDS if kind in per_kind and (f.id, kind) not in done
    )
    return _chunks(windows, chunk)


def scan_chunk(
    assistant,
    genome: Genome,
    part: Sequence[Window],
    per_kind: dict[str, list[str]],
    batch_size: int,
    max_tokens: int,
) -> Iterator[dict]:
    """The rows of one chunk of windows, in window order then key order: the windows cut, then per kind and key
    one :meth:`Assistant.iter_predict_key` pass over the chunk's scorable windows (its batches are formed from the
    chunk alone, so the numbers depend only on the chunk, whichever engine or process scores it)."""
    cuts = [cut(genome, w) for w in part]
    preds: dict[tuple[int, str], object] = {}
    for kind, keys_ in per_kind.items():
        idx = [i for i, c in enumerate(cuts) if c.window.kind == kind and c.status == "ok"]
        for key in keys_:
            values = _values(assistant, [cuts[i].sequence for i in idx], key, batch_size, max_tokens)
            preds.update({(i, key): p for i, p in zip(idx, values, strict=True)})
    for i, c in enumerate(cuts):
        for key in per_kind[c.window.kind]:
            yield _scan_row(c, key, preds.get((i, key)))


def scan_rows(
    assistant,
    genome: Genome,
    features: Iterable[Feature],
    keys: Sequence[str] | None = None,
    done: set[tuple[str, str]] | None = None,
    batch_size: int = 256,
    max_tokens: int | None = None,
    chunk: int = 1024,
) -> Iterator[dict]:
    """One row per (feature, window, key) in :data:`SCAN_COLUMNS`, in annotation order; ``done``: (feature id,
    window kind) pairs already written (a resumed scan skips them). :func:`agrochat.chat.scan_ray.scan_rows_ray`
    gives the same rows from a Ray cluster."""
    from agrochat.train.batching import INFERENCE_MAX_TOKENS

    max_tokens = max_tokens or INFERENCE_MAX_TOKENS
    per_kind = window_keys(assistant.known_keys, keys)
    for part in scan_parts(features, per_kind, done, chunk):
        yield from scan_chunk(assistant, genome, part, per_kind, batch_size, max_tokens)


def _scan_row(c: Cut, key: str, p) -> dict:
    f, w = c.window.feature, c.window
    row = dict.fromkeys(SCAN_COLUMNS, "")
    row.update(
        transcript_id=f.id,
        gene_id=f.gene_id,
        chrom=f.chrom,
        strand=f.strand,
        window=w.kind,
        start=w.start,
        end=w.end,
        key=key,
        status=c.status,
    )
    if p is not None:
        row.update(
            value=round(p.value, 4),
            uncertainty=round(p.uncertainty, 4),
            low68=round(p.interval68[0], 4),
            high68=round(p.interval68[1], 4),
            low95=round(p.interval95[0], 4),
            high95=round(p.interval95[1], 4),
            percentile=round(p.percentile, 1),
            level=p.level,
            ood=p.ood,
            ood_reason=p.ood_reason,
        )
    return row


class WindowIndex:
    """The windows of every feature, by contig, for finding those a variant overlaps."""

    def __init__(self, features: Iterable[Feature], kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        self.by_chrom: dict[str, list[Window]] = {}
        for f in features:
            for kind in kinds:
                self.by_chrom.setdefault(f.chrom, []).append(window(f, kind))
        for ws in self.by_chrom.values():
            ws.sort(key=lambda w: w.start)
        self.starts = {c: np.array([w.start for w in ws]) for c, ws in self.by_chrom.items()}
        self.longest = max((w.length for ws in self.by_chrom.values() for w in ws), default=0)

    def overlapping(self, v: Variant) -> list[Window]:
        ws = self.by_chrom.get(v.chrom, [])
        if not ws:
            return []
        starts = self.starts[v.chrom]
        lo = int(np.searchsorted(starts, v.pos - self.longest, side="left"))
        hi = int(np.searchsorted(starts, v.end, side="right"))
        return [w for w in ws[lo:hi] if v.overlaps(w)]


@dataclass
class VariantEffectRow:
    variant: str
    window: Window | None
    key: str
    ref: object = None
    alt: object = None
    status: str = "ok"

    def row(self) -> dict:
        out = dict.fromkeys(VARIANT_COLUMNS, "")
        out.update(variant=self.variant, key=self.key, status=self.status)
        if self.window is not None:
            f = self.window.feature
            out.update(transcript_id=f.id, gene_id=f.gene_id, window=self.window.kind)
        if self.ref is not None and self.alt is not None:
            delta = self.alt.value - self.ref.value
            unc = float(np.hypot(self.ref.uncertainty, self.alt.uncertainty))
            out.update(
                ref_value=round(self.ref.value, 4),
                alt_value=round(self.alt.value, 4),
                delta=round(delta, 4),
                uncertainty=round(unc, 4),
                exceeds=abs(delta) > unc,
                ood=self.ref.ood or self.alt.ood,
            )
        return out


def variant_effects(
    assistant,
    genome: Genome,
    index: WindowIndex,
    alleles: Sequence[Variant | str],
    keys: Sequence[str] | None = None,
    batch_size: int = 256,
    max_tokens: int | None = None,
) -> list[VariantEffectRow]:
    """The effect of each allele on every window it overlaps, per key (an allele outside every window gives no
    row; a skipped allele, one row with ``status: skipped_allele``)."""
    from agrochat.train.batching import INFERENCE_MAX_TOKENS

    max_tokens = max_tokens or INFERENCE_MAX_TOKENS
    per_kind = window_keys(assistant.known_keys, keys)
    rows: list[VariantEffectRow] = []
    pairs: list[tuple[int, str, str]] = []  # (row index, ref sequence, alt sequence)
    for v in alleles:
        if isinstance(v, str):
            rows.append(VariantEffectRow(v, None, "", status="skipped_allele"))
            continue
        for w in index.overlapping(v):
            if w.kind not in per_kind:
                continue
            ref = cut(genome, w)
            try:
                alt = alt_window(w, v, genome.fetch) if ref.status == "ok" else ""
                status = ref.status
            except GenomeError:
                alt, status = "", "off_contig"
            except RefMismatch:
                alt, status = "", "ref_mismatch"
            except InputError:
                alt, status = "", "error"
            for key in per_kind[w.kind]:
                rows.append(VariantEffectRow(v.name, w, key, status=status))
                if status == "ok":
                    pairs.append((len(rows) - 1, ref.sequence, alt))
    for key in {rows[i].key for i, _, _ in pairs}:
        mine = [(i, r, a) for i, r, a in pairs if rows[i].key == key]
        seqs = list(dict.fromkeys([r for _, r, _ in mine] + [a for _, _, a in mine]))
        values = dict(zip(seqs, _values(assistant, seqs, key, batch_size, max_tokens), strict=True))
        for i, r, a in mine:
            rows[i].ref, rows[i].alt = values[r], values[a]
    return rows


SAMPLE_COLUMNS = ["sample", "transcript_id", "gene_id", "window", "key", "alleles", "exceeding", "delta_sum"]


def sample_rows(
    rows: Sequence[VariantEffectRow], samples: list[str], dosages: dict[str, list[int]]
) -> Iterator[dict]:
    """Per sample and (transcript, window, key): the alternative alleles it carries in the window (copies counted),
    how many of them change the prediction by more than their uncertainty, and the sum of their deltas weighted by
    copy number (an additive summary; it assumes the alleles act independently)."""
    table: dict[tuple, list] = {}
    for r in rows:
        if r.ref is None or r.alt is None or r.variant not in dosages:
            continue
        row = r.row()
        for sample, copies in zip(samples, dosages[r.variant], strict=True):
            if not copies:
                continue
            k = (sample, row["transcript_id"], row["gene_id"], row["window"], row["key"])
            acc = table.setdefault(k, [0, 0, 0.0])
            acc[0] += copies
            acc[1] += copies * bool(row["exceeds"])
            acc[2] += copies * row["delta"]
    for (sample, tid, gid, kind, key), (n, big, total) in sorted(table.items()):
        yield dict(zip(SAMPLE_COLUMNS, (sample, tid, gid, kind, key, n, big, round(total, 4)), strict=True))

"""Plant Genomic Benchmark (PGB) loader: the Hugging Face dataset online, or the same FASTA layout locally.

PGB (``InstaDeepAI/plant-genomic-benchmark``, CC BY-NC-SA 4.0) stores each task as FASTA files named
``<task>/<name>_<split>.fa`` (e.g. ``promoter_strength/leaf_train.fa``, ``gene_exp/zea_mays_test.fa``).
Each header is the record name followed by its label(s). The separator is not documented in our sources,
so this reader accepts ``|`` or whitespace: ``>Zm00001d033526_Zm|-1.83`` or ``>name 0.1 2.3 4.5``.
Single-value tasks give ``{"sequence", "name", "label"}``; multi-output tasks (``gene_exp.*``) give
``{"sequence", "name", "labels"}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agrochat.errors import AgrochatError, ConfigError

from .errors import BadRowLog, MissingSourceError
from .tsv import open_text, parse_label

PGB_REPO = "InstaDeepAI/plant-genomic-benchmark"
PGB_SPLITS = ("train", "validation", "test")
_CONFIG = re.compile(r"^(promoter_strength|terminator_strength)\.(leaf|protoplast)$|^gene_exp\.[a-z_]+$")


class PGBUnavailableError(AgrochatError, RuntimeError):
    """The online PGB dataset could not be loaded (offline, or the hub refused)."""


@dataclass
class PGBConfig:
    """Which PGB table to read and from where.

    Attributes:
        config: PGB config name, e.g. ``"promoter_strength.leaf"``, ``"terminator_strength.protoplast"``,
            ``"gene_exp.zea_mays"``.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        local_dir: root of a local copy in the hub's layout (``<task>/<name>_<split>.fa``); ``None`` loads
            from the Hugging Face Hub through ``datasets.load_dataset``.
        on_bad: ``"error"`` (raise on the first bad record) or ``"skip"`` (skip and count).
    """

    config: str
    split: str = "train"
    local_dir: Path | None = None
    on_bad: str = "error"

    def __post_init__(self) -> None:
        if not _CONFIG.match(self.config):
            raise ConfigError(
                f"unknown PGB config {self.config!r}: expected promoter_strength.{{leaf,protoplast}}, "
                "terminator_strength.{leaf,protoplast} or gene_exp.<species>"
            )
        if self.split not in PGB_SPLITS:
            raise ConfigError(f"split must be one of {PGB_SPLITS}, got {self.split!r}")
        if self.local_dir is not None:
            self.local_dir = Path(self.local_dir)
        if self.on_bad not in ("error", "skip"):
            raise ConfigError(f"on_bad must be 'error' or 'skip', got {self.on_bad!r}")

    @property
    def multi_output(self) -> bool:
        return self.config.startswith("gene_exp.")

    @property
    def fasta_path(self) -> Path:
        """Where the local FASTA for this config and split lives."""
        if self.local_dir is None:
            raise ConfigError("no local_dir configured")
        task, name = self.config.split(".", 1)
        return self.local_dir / task / f"{name}_{self.split}.fa"


def _iter_fasta(path: Path):
    """Yield ``(header_line_number, header, sequence)`` from a FASTA file (multi-line sequences allowed)."""
    header, start, chunks = None, 0, []
    with open_text(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith(">"):
                if header is not None:
                    yield start, header, "".join(chunks)
                header, start, chunks = line[1:].strip(), lineno, []
            elif header is None:
                yield lineno, None, line
            else:
                chunks.append(line)
    if header is not None:
        yield start, header, "".join(chunks)


def read_pgb_fasta(path: str | Path, multi_output: bool = False, log: BadRowLog | None = None) -> list[dict]:
    """Read one PGB FASTA file into ``{"sequence", "name", "label"}`` (or ``"labels"``) records."""
    path = Path(path)
    log = log or BadRowLog()
    alphabet = re.compile(r"[^ACGTN]" if multi_output else r"[^ACGT]")
    out: list[dict] = []
    for lineno, header, seq in _iter_fasta(path):
        if header is None:
            log.bad(path, lineno, "sequence line before the first '>' header")
            continue
        parts = [p for p in re.split(r"[|\s]+", header) if p]
        if len(parts) < 2:
            log.bad(path, lineno, f"header has no label: {header!r}")
            continue
        name, raw_labels = parts[0], parts[1:]
        labels = []
        for raw in raw_labels:
            ok, value = parse_label(raw, "header", path, lineno, log)
            if not ok:
                break
            labels.append(value)
        if len(labels) != len(raw_labels):
            continue
        seq = seq.upper()
        if not seq:
            log.bad(path, lineno, "empty sequence")
            continue
        bad = alphabet.search(seq)
        if bad:
            log.bad(
                path,
                lineno,
                f"non-ACGT characters in sequence: {bad.group(0)!r} at position {bad.start() + 1}",
            )
            continue
        if multi_output:
            out.append({"sequence": seq, "name": name, "labels": labels})
        elif len(labels) != 1:
            log.bad(path, lineno, f"expected one label for a single-value task, got {len(labels)}")
        else:
            out.append({"sequence": seq, "name": name, "label": labels[0]})
    return out


def load_pgb(
    config: str | PGBConfig, split: str = "train", local_dir: str | Path | None = None, on_bad: str = "error"
) -> list[dict]:
    """Load a PGB table as a list of dicts.

    With ``local_dir`` the FASTA files are read from disk; without it the real Hugging Face path
    (``datasets.load_dataset(PGB_REPO, config, split=split)``) is used, which needs network access and
    raises :class:`PGBUnavailableError` with a clear message when it fails.
    """
    cfg = config if isinstance(config, PGBConfig) else PGBConfig(config, split, local_dir, on_bad)
    if cfg.local_dir is not None:
        if not cfg.fasta_path.exists():
            raise MissingSourceError(
                f"PGB file not found: {cfg.fasta_path} (expected layout <task>/<name>_<split>.fa)"
            )
        return read_pgb_fasta(cfg.fasta_path, cfg.multi_output, BadRowLog(on_bad=cfg.on_bad))
    try:
        import datasets

        table = datasets.load_dataset(PGB_REPO, cfg.config, split=cfg.split)
    except Exception as exc:  # offline, hub errors, script-loading refusals
        raise PGBUnavailableError(
            f"could not load {PGB_REPO} config {cfg.config!r} split {cfg.split!r} from the Hugging Face Hub "
            f"({type(exc).__name__}: {exc}). Without network access pass local_dir= pointing at a copy of "
            "the PGB FASTA files (<task>/<name>_<split>.fa)."
        ) from exc
    key = "labels" if cfg.multi_output else "label"
    rows = []
    for rec in table:
        label = rec.get(key, rec.get("label"))
        rows.append({"sequence": str(rec["sequence"]).upper(), "name": rec.get("name", ""), key: label})
    return rows


__all__ = ["PGBConfig", "PGBUnavailableError", "PGB_REPO", "load_pgb", "read_pgb_fasta"]

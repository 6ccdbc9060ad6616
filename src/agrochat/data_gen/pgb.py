"""Plant Genomic Benchmark (PGB) loader: the Hugging Face dataset online, or the same FASTA layout locally.

PGB (``InstaDeepAI/plant-genomic-benchmark``, CC BY-NC-SA 4.0) stores each task as FASTA files named
``<task>/<name>_<split>.fa`` (e.g. ``promoter_strength/leaf_train.fa``, ``gene_exp/zea_mays_test.fa``).
Each header is the record name followed by its label(s). The separator is not documented in our sources,
so this reader accepts ``|`` or whitespace: ``>Zm00001d033526_Zm|-1.83`` or ``>name 0.1 2.3 4.5``.
Single-value tasks give ``{"sequence", "name", "label"}``; multi-output tasks (``gene_exp.*``) give
``{"sequence", "name", "labels"}``.

Without a local copy, :func:`load_pgb` uses a FASTA file already in the Hugging Face cache, else (after one
quick reachability probe, :func:`hub_reachable`) ``datasets.load_dataset`` and, when that fails (``datasets``
5.x no longer runs the repository's loading script), downloads the FASTA file itself.

The second half maps PGB configs to task keys (:func:`config_keys`): single-value configs to our existing keys,
``gene_exp.<species>`` to one ``gene_expression/<species>:<output name>`` key per output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agrochat import hub
from agrochat.errors import AgrochatError, ConfigError, InputError

from ..domain import tasks as T
from .errors import BadRowLog, MissingSourceError
from .tsv import open_text, parse_label

PGB_REPO = "InstaDeepAI/plant-genomic-benchmark"
PGB_LICENSE = "CC BY-NC-SA 4.0"
PGB_SPLITS = ("train", "validation", "test")
_CONFIG = re.compile(r"^(promoter_strength|terminator_strength)\.(leaf|protoplast)$|^gene_exp\.[a-z_]+$")
# Tissue names of the gene_exp outputs, in output order, per species. Empty on purpose: no source we have documents
# the tissue names or their order (../shared/data/promoters/SOURCE.md, "Plant Genomic Benchmark"), and a guessed
# name would put a wrong tissue into every answer. Add a species only from a source that states the order.
GENE_EXP_TISSUES: dict[str, tuple[str, ...]] = {}


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
            from the Hugging Face Hub (cache first, see the module docstring).
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
    def hub_file(self) -> str:
        """The file's path inside the hub repository, e.g. ``gene_exp/zea_mays_train.fa``."""
        task, name = self.config.split(".", 1)
        return f"{task}/{name}_{self.split}.fa"

    @property
    def fasta_path(self) -> Path:
        """Where the local FASTA for this config and split lives."""
        if self.local_dir is None:
            raise ConfigError("no local_dir configured")
        return self.local_dir / self.hub_file


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


def hub_reachable(url: str | None = None, timeout: float = hub.PROBE_TIMEOUT_S) -> bool:
    """Whether the hub answers (:func:`agrochat.hub.reachable`). Tests replace this function to simulate being
    offline."""
    return hub.reachable(url, timeout)


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unavailable(cfg: PGBConfig, why: str) -> PGBUnavailableError:
    """The one-line error: what is missing, where it was looked for, and the fix."""
    task, name = cfg.config.split(".", 1)
    return PGBUnavailableError(
        f"PGB file {cfg.hub_file} ({cfg.config}, split {cfg.split}) is not available: it is not in the Hugging "
        f"Face cache ({hub.cache_dir()}) and {why}. Fix: pass --pgb-dir DIR (local_dir= in Python) with a copy "
        f"of the PGB FASTA files, e.g. made with `hf download {PGB_REPO} --repo-type dataset --include "
        f"'{task}/{name}_*' --local-dir DIR` (older huggingface_hub: `huggingface-cli download`, same options)."
    )


def _download(cfg: PGBConfig, local_only: bool) -> Path:
    """The FASTA file through ``huggingface_hub.hf_hub_download`` (kept in the Hugging Face cache)."""
    import huggingface_hub

    path = huggingface_hub.hf_hub_download(
        PGB_REPO, cfg.hub_file, repo_type="dataset", local_files_only=local_only
    )
    return Path(path)


def _cached(cfg: PGBConfig) -> Path | None:
    """The FASTA file if the Hugging Face cache already holds it (no network), else None."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return _download(cfg, local_only=True)
    except LocalEntryNotFoundError:
        return None


def _from_datasets(cfg: PGBConfig) -> list[dict]:
    """Records through ``datasets.load_dataset`` (needs a ``datasets`` that still runs loading scripts)."""
    import datasets

    table = datasets.load_dataset(PGB_REPO, cfg.config, split=cfg.split)
    key = "labels" if cfg.multi_output else "label"
    rows = []
    for rec in table:
        label = rec.get(key, rec.get("label"))
        rows.append({"sequence": str(rec["sequence"]).upper(), "name": rec.get("name", ""), key: label})
    return rows


def _load_hub(cfg: PGBConfig, log: BadRowLog) -> list[dict]:
    """Cache, then (after one reachability probe) ``datasets``, then the FASTA download; see :func:`load_pgb`."""
    from huggingface_hub.errors import RemoteEntryNotFoundError

    cached = _cached(cfg)
    if cached is not None:
        return read_pgb_fasta(cached, cfg.multi_output, log)
    if hub.offline():
        raise _unavailable(cfg, "HF_HUB_OFFLINE is set")
    if not hub_reachable():
        raise _unavailable(cfg, f"{hub.endpoint()} cannot be reached")
    try:
        return _from_datasets(cfg)
    except Exception as first:  # datasets 5.x refuses script repositories; hub errors land here too
        try:
            path = _download(cfg, local_only=False)
        except RemoteEntryNotFoundError as exc:
            raise MissingSourceError(f"PGB has no file {cfg.hub_file} in {PGB_REPO}") from exc
        except Exception as second:
            why = f"loading failed (datasets: {_one_line(first)}; FASTA download: {_one_line(second)})"
            raise _unavailable(cfg, why) from second
    return read_pgb_fasta(path, cfg.multi_output, log)


def load_pgb(
    config: str | PGBConfig,
    split: str = "train",
    local_dir: str | Path | None = None,
    on_bad: str = "error",
    log: BadRowLog | None = None,
) -> list[dict]:
    """Load a PGB table as a list of dicts.

    With ``local_dir`` the FASTA files are read from disk. Without it: the FASTA file from the Hugging Face
    cache if it is there (works offline); else, unless ``HF_HUB_OFFLINE`` is set, one quick reachability probe,
    ``datasets.load_dataset(PGB_REPO, config, split=split)`` and, when that fails, the FASTA file downloaded with
    ``huggingface_hub.hf_hub_download`` (cached). When none works, :class:`PGBUnavailableError` says what is
    missing, where it was looked for and how to make a local copy. Bad records go to ``log`` (default: a new
    log with ``on_bad``).
    """
    cfg = config if isinstance(config, PGBConfig) else PGBConfig(config, split, local_dir, on_bad)
    log = log or BadRowLog(on_bad=cfg.on_bad)
    if cfg.local_dir is None:
        return _load_hub(cfg, log)
    if not cfg.fasta_path.exists():
        raise MissingSourceError(
            f"PGB file not found: {cfg.fasta_path} (expected layout <task>/<name>_<split>.fa)"
        )
    return read_pgb_fasta(cfg.fasta_path, cfg.multi_output, log)


def config_key(config: str) -> str:
    """Task key of a single-value config: ``promoter_strength.leaf`` -> ``promoter_strength/leaf``."""
    task, tissue = PGBConfig(config).config.split(".", 1)
    if task == "gene_exp":
        raise ConfigError(f"{config} has one output per tissue: use output_keys()")
    return T.make_key({"promoter_strength": T.PROMOTER, "terminator_strength": T.TERMINATOR}[task], tissue)


def read_output_names(path: str | Path) -> list[str]:
    """Output names from a text file: one per line, in output order (blank lines are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise MissingSourceError(f"output names file not found: {path}")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise InputError(f"{path}: no output names (expected one name per line, in output order)")
    dup = sorted({n for n in names if names.count(n) > 1})
    bad = [n for n in names if "/" in n]
    if dup or bad:
        raise InputError(f"{path}: output names must be unique and without '/' (got {', '.join(dup + bad)})")
    return names


def output_keys(
    config: str, n_outputs: int, names: list[str] | None = None, names_from: str = ""
) -> tuple[list[str], str]:
    """One ``gene_expression/<species>:<name>`` key per output of a ``gene_exp`` config, in output order, and
    where the names came from: ``"file"`` (``names``, read from ``names_from``), ``"table"``
    (:data:`GENE_EXP_TISSUES`) or ``"default"`` (``output_1`` .. ``output_N``; the caller should warn).
    """
    species = PGBConfig(config).config.split(".", 1)[1]
    source = "file" if names is not None else "table" if GENE_EXP_TISSUES.get(species) else "default"
    if source == "default":
        names = [f"output_{i}" for i in range(1, n_outputs + 1)]
    elif source == "table":
        names = list(GENE_EXP_TISSUES[species])
    where = (names_from or "the output names") if source == "file" else "agrochat's tissue table"
    if len(names) != n_outputs:
        raise InputError(
            f"{where} gives {len(names)} names but {config} has {n_outputs} outputs (labels per record); "
            "give one name per output, in output order"
        )
    return [T.make_key(T.GENE_EXPRESSION, f"{species}:{n}") for n in names], source


def gene_expression_meta(config: str, index: int, key: str) -> dict:
    """Registry metadata of output ``index`` (1-based) of a ``gene_exp`` config: only what PGB states; the label
    is kept as given (its transformation and unit are not documented in our sources)."""
    species = config.split(".", 1)[1]
    name = T.split_key(key)[1].split(":", 1)[1]
    return {
        "assay": f"PGB gene expression ({config}): multi-output regression on 6,000 bp sequences, "
        "one output per tissue",
        "species": species.replace("_", " ").capitalize(),
        "system": f"PGB {config} output {index} ({name})",
        "label_meaning": f"output {index} of the PGB {config} FASTA header, as given by PGB (its transformation "
        "and normalisation are not documented in our sources)",
        "unit": "units as given by PGB",
        "population": f"PGB {config} training sequences",
        "levels": ["low", "medium", "high"],
        "source": f"Plant Genomic Benchmark ({PGB_REPO}, {PGB_LICENSE}), {config}, output {index}",
    }


__all__ = [
    "GENE_EXP_TISSUES",
    "PGBConfig",
    "PGBUnavailableError",
    "PGB_LICENSE",
    "PGB_REPO",
    "PGB_SPLITS",
    "config_key",
    "gene_expression_meta",
    "hub_reachable",
    "load_pgb",
    "output_keys",
    "read_output_names",
    "read_pgb_fasta",
]

"""Motif annotation: MEME parsing, PWM scanning with the Jores et al. 2021 rules, poly(A) signals, GC.

Scanning rules (promoters, from ``promoters/SOURCE.md``):

- a hit is a relative PWM score >= 0.85, where relative = (score - min) / (max - min) of the log-odds PWM;
- TATA: best forward-strand hit anywhere;
- Inr: only inside index 160-170 (-6..+5); TCT: only inside index 164-170 (-2..+5);
- BREu / BREd: only directly upstream / downstream of the 8-bp core of the best TATA box (reported only
  when that TATA box is itself a hit);
- Y patch: best forward hit anywhere; TF clusters: best hit on either strand.

The PWM is log2(p' / 0.25) with p' = (p * nsites + 0.25) / (nsites + 1) (pseudocount 1, uniform background),
rounded to multiples of 1/1024 (exact float32 sums, so results do not depend on batch size).

Coordinates. ``start``/``end`` are 0-based, end-exclusive indices into the sequence. ``rel_pos`` is the
position of the motif's centre base (left of centre for even widths):

- promoters: relative to the TSS, index 166 (1-based) = +1 for 170-bp promoters (there is no 0; index
  165 = -1). Other lengths are assumed to end at +5 like the library (TSS at 1-based index L-4);
- terminators: relative to the poly(A) cleavage site taken as the central base (1-based index 86 of 170 nt,
  i.e. L//2 + 1) = 0, negative upstream. The library is centred on the cleavage site (Gorjifard et al. 2024).

Terminators are scanned for the canonical polyadenylation signal AATAAA (AAUAAA in the RNA) anywhere and
for one-mismatch AATAAA-like hexamers in the near-upstream region (-40..-5); the source documents name
polyadenylation motifs as a determinant of terminator strength but give no per-motif effect size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError, ResourceNotFoundError
from .paths import MOTIFS_DIR

KINDS = ("promoter", "terminator")
CPE_NAMES = ("TATA", "Inr", "BREu", "BREd", "Ypatch", "TCT")
CPE_FAMILY = "core promoter element"
PAS_CANONICAL = "AATAAA"
PAS_VARIANT = "AATAAA-like"
_CODE = np.full(256, 4, dtype=np.int8)
for _i, _c in enumerate("ACGT"):
    _CODE[ord(_c)] = _i


@dataclass
class MemeMotif:
    """One motif of a MEME file: ``name``, ``altname`` and its letter-probability matrix (w x 4, ACGT)."""

    name: str
    altname: str
    probs: np.ndarray
    nsites: float

    @property
    def width(self) -> int:
        return int(self.probs.shape[0])


def parse_meme(path_or_text: str | Path) -> list[MemeMotif]:
    """Parse MEME minimal format (``MOTIF name altname`` + ``letter-probability matrix`` rows)."""
    text = path_or_text
    if isinstance(path_or_text, Path) or "\n" not in str(path_or_text):
        text = Path(path_or_text).read_text(encoding="utf-8")
    motifs: list[MemeMotif] = []
    lines = str(text).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            parts = line.split()
            name = parts[1]
            altname = parts[2] if len(parts) > 2 else parts[1]
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("letter-probability"):
                j += 1
            if j >= len(lines):
                raise InputError(f"MOTIF {name}: no letter-probability matrix")
            header = lines[j]
            width = int(re.search(r"w=\s*(\d+)", header).group(1))
            ns = re.search(r"nsites=\s*([\d.eE+-]+)", header)
            rows = []
            k = j + 1
            while len(rows) < width and k < len(lines):
                vals = lines[k].split()
                if vals:
                    rows.append([float(v) for v in vals[:4]])
                k += 1
            probs = np.asarray(rows, dtype=float)
            if probs.shape != (width, 4):
                raise InputError(f"MOTIF {name}: expected {width} x 4 probabilities, got {probs.shape}")
            motifs.append(MemeMotif(name, altname, probs, float(ns.group(1)) if ns else 20.0))
            i = k
        else:
            i += 1
    return motifs


@dataclass
class PWM:
    """A scoring matrix ready for scanning (log-odds, ``width`` x 4) plus its score range."""

    name: str
    family: str
    matrix: np.ndarray
    both_strands: bool

    @property
    def width(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def min_score(self) -> float:
        return float(self.matrix.min(axis=1).sum())

    @property
    def max_score(self) -> float:
        return float(self.matrix.max(axis=1).sum())

    def relative(self, score: np.ndarray) -> np.ndarray:
        return (score - self.min_score) / (self.max_score - self.min_score)


def to_pwm(m: MemeMotif, name: str, family: str, both_strands: bool, pseudocount: float = 1.0) -> PWM:
    """Log-odds PWM. Entries are rounded to multiples of 1/1024 so that float32 sums are exact and scores
    (and tie-breaks) do not depend on how many sequences are scored together."""
    smoothed = (m.probs * m.nsites + 0.25 * pseudocount) / (m.nsites + pseudocount)
    return PWM(name, family, np.round(np.log2(smoothed / 0.25) * 1024) / 1024, both_strands)


@dataclass(frozen=True)
class MotifHit:
    """One motif found in a sequence (see the module docstring for coordinates)."""

    name: str
    family: str
    start: int
    end: int
    strand: str
    score: float
    rel_pos: int


@dataclass
class Annotation:
    """Everything the annotator found in one sequence."""

    kind: str
    length: int
    gc: float
    hits: list[MotifHit] = field(default_factory=list)

    def names(self) -> set[str]:
        return {h.name for h in self.hits}

    def get(self, name: str) -> MotifHit | None:
        return next((h for h in self.hits if h.name == name), None)


@dataclass
class MotifConfig:
    """Scanner settings.

    Attributes:
        cpe_meme: MEME file with the core promoter elements (TATA, Inr, BREu, BREd, Ypatch, TCT).
        tf_meme: MEME file with the 72 TF-cluster PWMs.
        threshold: minimum relative PWM score for a hit (paper: 0.85).
        pseudocount: pseudocount (in sites) for the probability -> log-odds conversion.
        inr_window, tct_window: TSS-relative (first, last) positions a whole Inr / TCT hit must lie in.
        pas_window: cleavage-site-relative (first, last) positions for one-mismatch AATAAA-like hexamers.
        chunk: sequences scored per matrix product (memory bound).
    """

    cpe_meme: Path = MOTIFS_DIR / "CPEs.meme"
    tf_meme: Path = MOTIFS_DIR / "TF-clusters.meme"
    threshold: float = 0.85
    pseudocount: float = 1.0
    inr_window: tuple[int, int] = (-6, 5)
    tct_window: tuple[int, int] = (-2, 5)
    pas_window: tuple[int, int] = (-40, -5)
    chunk: int = 1000

    def __post_init__(self) -> None:
        self.cpe_meme, self.tf_meme = Path(self.cpe_meme), Path(self.tf_meme)
        for p in (self.cpe_meme, self.tf_meme):
            if not p.exists():
                raise ResourceNotFoundError(f"MEME file not found: {p}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError("threshold must be in (0, 1]")
        if self.pseudocount < 0:
            raise ConfigError("pseudocount must be >= 0")
        for name in ("inr_window", "tct_window", "pas_window"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ConfigError(f"{name} must be (first, last) with first <= last")
        if self.chunk < 1:
            raise ConfigError("chunk must be >= 1")


def promoter_rel(index0: int, length: int) -> int:
    """TSS-relative coordinate of a 0-based index (TSS = 1-based index L-4, no position 0)."""
    tss0 = length - 5
    return index0 - tss0 + 1 if index0 >= tss0 else index0 - tss0


def promoter_index(rel: int, length: int) -> int:
    """0-based index of a TSS-relative coordinate (inverse of :func:`promoter_rel`)."""
    tss0 = length - 5
    return tss0 + rel - 1 if rel > 0 else tss0 + rel


def terminator_rel(index0: int, length: int) -> int:
    """Cleavage-site-relative coordinate of a 0-based index (0 = the central base, 0-based L//2)."""
    return index0 - length // 2


def gc_content(sequence: str) -> float:
    seq = sequence.upper()
    return (seq.count("G") + seq.count("C")) / len(seq) if seq else 0.0


class MotifScanner:
    """Vectorised annotator. Build once (parses the MEME files), then call :meth:`annotate_many`."""

    def __init__(self, config: MotifConfig | None = None):
        self.config = config or MotifConfig()
        cpes = {m.altname: m for m in parse_meme(self.config.cpe_meme)}
        missing = [n for n in CPE_NAMES if n not in cpes]
        if missing:
            raise InputError(f"{self.config.cpe_meme}: missing core promoter elements {missing}")
        pc = self.config.pseudocount
        self.cpe = {n: to_pwm(cpes[n], n, CPE_FAMILY, False, pc) for n in CPE_NAMES}
        self.tfs: list[PWM] = []
        for m in parse_meme(self.config.tf_meme):
            number = m.name.rsplit("_", 1)[-1]
            self.tfs.append(to_pwm(m, f"TF_{number}", m.altname.replace("/", ", "), True, pc))
        self.families = {p.name: p.family for p in [*self.cpe.values(), *self.tfs]}

    # ---- matrix scoring -------------------------------------------------------------------------
    def _columns(self) -> list[tuple[str, str, PWM, np.ndarray]]:
        cols = [(p.name, "+", p, p.matrix) for p in self.cpe.values() if p.name not in ("BREu", "BREd")]
        cols += [(p.name, "+", p, p.matrix) for p in (self.cpe["BREu"], self.cpe["BREd"])]
        for p in self.tfs:
            cols.append((p.name, "+", p, p.matrix))
            cols.append((p.name, "-", p, p.matrix[::-1, ::-1]))  # reverse complement (ACGT -> TGCA)
        return cols

    def _score(self, codes: np.ndarray, length: int):
        """Best start and raw log-odds score per (motif, strand), honouring the Inr/TCT windows.

        Returns ``(best, full)``: ``best[(name, strand)] = (argmax start, max score)`` arrays of shape (N,);
        ``full[name]`` keeps the whole (N, L) score array for BREu/BREd (scored at positions set by TATA).
        """
        n = codes.shape[0]
        cols = self._columns()
        onehot = np.zeros((n, length, 4), dtype=np.float32)
        rr, cc = np.nonzero(codes < 4)
        onehot[rr, cc, codes[rr, cc]] = 1.0
        widths = sorted({c[3].shape[0] for c in cols})
        edges = [w for w in (8, 12, 17) if w < widths[-1]] + [widths[-1]]
        windows = {"Inr": self.config.inr_window, "TCT": self.config.tct_window}
        best: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        full: dict[str, np.ndarray] = {}
        lo = 0
        for edge in edges:
            bucket = [c for c in cols if lo < c[3].shape[0] <= edge]
            lo = edge
            if not bucket:
                continue
            mat = np.zeros((edge, 4, len(bucket)), dtype=np.float32)
            bias = np.zeros((length, len(bucket)), dtype=np.float32)
            for j, (name, _, _, m) in enumerate(bucket):
                w = m.shape[0]
                mat[:w, :, j] = m
                first, last = 0, length - w  # allowed starts
                if name in windows:
                    wlo, whi = windows[name]
                    first = max(promoter_index(wlo, length), 0)
                    last = min(last, promoter_index(whi, length) - w + 1)
                bias[:first, j] = -np.inf
                bias[last + 1 :, j] = -np.inf
            mat = mat.transpose(1, 0, 2).reshape(4 * edge, len(bucket))
            padded = np.concatenate([onehot, np.zeros((n, edge - 1, 4), dtype=np.float32)], axis=1)
            win = np.lib.stride_tricks.sliding_window_view(padded, edge, axis=1)
            flat = np.ascontiguousarray(win).reshape(-1, 4 * edge)
            res = (flat @ mat).reshape(n, length, len(bucket))
            for j, (name, _, _, _) in enumerate(bucket):
                if name in ("BREu", "BREd"):
                    full[name] = np.array(res[:, :, j])
            res += bias
            arg = res.argmax(axis=1)
            val = np.take_along_axis(res, arg[:, None, :], axis=1)[:, 0, :]
            for j, (name, strand, _, _) in enumerate(bucket):
                best[(name, strand)] = (arg[:, j], val[:, j])
        return best, full

    # ---- annotation -----------------------------------------------------------------------------
    def annotate_many(self, sequences: list[str], kind: str = "promoter") -> list[Annotation]:
        """Annotate many sequences at once (vectorised per sequence length)."""
        if kind not in KINDS:
            raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
        seqs = [s.upper() for s in sequences]
        result: list[Annotation | None] = [None] * len(seqs)
        by_len: dict[int, list[int]] = {}
        for i, s in enumerate(seqs):
            by_len.setdefault(len(s), []).append(i)
        for length, idx in by_len.items():
            step = self.config.chunk
            for c in range(0, len(idx), step):
                part = idx[c : c + step]
                group = [seqs[i] for i in part]
                anns = (
                    self._promoters(group, length) if kind == "promoter" else self._terminators(group, length)
                )
                for i, a in zip(part, anns, strict=True):
                    result[i] = a
        return result  # type: ignore[return-value]

    def annotate(self, sequence: str, kind: str = "promoter") -> Annotation:
        return self.annotate_many([sequence], kind)[0]

    def _hit(self, pwm: PWM, start: int, strand: str, rel: float, length: int, kind: str) -> MotifHit:
        centre = start + (pwm.width - 1) // 2
        rp = promoter_rel(centre, length) if kind == "promoter" else terminator_rel(centre, length)
        return MotifHit(pwm.name, pwm.family, start, start + pwm.width, strand, round(float(rel), 4), rp)

    def _promoters(self, seqs: list[str], length: int) -> list[Annotation]:
        n = len(seqs)
        anns = [Annotation("promoter", length, gc_content(s)) for s in seqs]
        if length < 20:
            return anns
        codes = _CODE[np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)].reshape(n, length)
        best, full = self._score(codes, length)
        thr = self.config.threshold
        rows = np.arange(n)
        found = []  # (pwm, start array, strand array or str, relative score array, mask array)
        cpe_rel = {}
        for name in ("TATA", "Inr", "TCT", "Ypatch"):
            pos, raw = best[(name, "+")]
            cpe_rel[name] = (pos, self.cpe[name].relative(raw))
        tata_pos, tata_rel = cpe_rel["TATA"]
        has_tata = tata_rel >= thr
        found.append((self.cpe["TATA"], tata_pos, "+", tata_rel, has_tata))
        for name, offset in (("BREu", -4), ("BREd", 12)):
            pos = tata_pos + offset
            ok = (pos >= 0) & (pos <= length - self.cpe[name].width)
            rel = self.cpe[name].relative(full[name][rows, np.clip(pos, 0, length - 1)])
            found.append((self.cpe[name], pos, "+", rel, has_tata & ok & (rel >= thr)))
        for name in ("Inr", "TCT", "Ypatch"):
            pos, rel = cpe_rel[name]
            found.append((self.cpe[name], pos, "+", rel, rel >= thr))
        for p in self.tfs:
            (fa, fs), (ra, rs) = best[(p.name, "+")], best[(p.name, "-")]
            use_rev = rs > fs
            rel = p.relative(np.maximum(fs, rs))
            found.append((p, np.where(use_rev, ra, fa), np.where(use_rev, "-", "+"), rel, rel >= thr))
        for p, pos, strand, rel, mask in found:
            for i in np.nonzero(mask)[0]:
                st = strand if isinstance(strand, str) else str(strand[i])
                anns[i].hits.append(self._hit(p, int(pos[i]), st, rel[i], length, "promoter"))
        return anns

    def _terminators(self, seqs: list[str], length: int) -> list[Annotation]:
        out = []
        lo, hi = self.config.pas_window
        for s in seqs:
            ann = Annotation("terminator", length, gc_content(s))
            for i in range(len(s) - 5):
                hexamer = s[i : i + 6]
                centre = terminator_rel(i + 2, length)
                if hexamer == PAS_CANONICAL:
                    ann.hits.append(
                        MotifHit(PAS_CANONICAL, "poly(A) signal (AAUAAA)", i, i + 6, "+", 1.0, centre)
                    )
                elif (
                    terminator_rel(i, length) >= lo
                    and terminator_rel(i + 5, length) <= hi
                    and sum(a != b for a, b in zip(hexamer, PAS_CANONICAL, strict=True)) == 1
                ):
                    ann.hits.append(
                        MotifHit(
                            PAS_VARIANT,
                            "poly(A) signal, one mismatch from AAUAAA",
                            i,
                            i + 6,
                            "+",
                            round(5 / 6, 4),
                            centre,
                        )
                    )
            out.append(ann)
        return out


@lru_cache(maxsize=4)
def default_scanner(cpe_meme: str | None = None, tf_meme: str | None = None) -> MotifScanner:
    """A cached scanner over the shipped (or given) MEME files."""
    cfg = MotifConfig(**{k: Path(v) for k, v in (("cpe_meme", cpe_meme), ("tf_meme", tf_meme)) if v})
    return MotifScanner(cfg)


def annotate(sequence: str, kind: str = "promoter") -> Annotation:
    """Annotate one sequence with the shipped motif files (see the module docstring for the rules)."""
    return default_scanner().annotate(sequence, kind)

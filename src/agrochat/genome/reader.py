"""Reading a genome, its annotation and variant calls with maintained readers.

- Genome: ``pysam.FastaFile`` (FASTA plain or bgzipped; the index ``.fai`` and, when bgzipped, ``.gzi`` are
  written beside it on first use): bases fetched by coordinate, never the whole genome in memory.
- Annotation: ``gffutils`` (GFF3 or GTF) into a database file beside the annotation (reused while the annotation
  is unchanged): transcripts (``mRNA`` / ``transcript`` features) or genes, streamed in genome order.
- Variants: ``pysam.VariantFile`` (VCF or BCF, plain or bgzipped): one :class:`~agrochat.genome.windows.Variant` per
  alternative allele (multi-allelic records split; symbolic and ``*`` alleles skipped and counted).

The readers are an optional dependency: ``pip install 'agrochat[genome]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from agrochat.errors import InputError, ResourceNotFoundError

from .windows import Feature, Variant

TRANSCRIPT_TYPES = ("mRNA", "transcript")
PER = ("transcript", "gene")


class GenomeError(InputError):
    """A genome, annotation or variant file that cannot be read, or that does not fit the others."""


def _needs(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise GenomeError(f"reading genomes needs {module}: pip install 'agrochat[genome]' ({e})") from None


def _exists(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ResourceNotFoundError(f"{what} not found: {path}")
    return path


class Genome:
    """An indexed genome FASTA: ``fetch(chrom, start, end)`` (1-based, inclusive, forward strand, upper case)."""

    def __init__(self, path: str | Path) -> None:
        pysam = _needs("pysam")
        path = _exists(Path(path), "genome FASTA")
        try:
            self._fa = pysam.FastaFile(str(path))
        except (OSError, ValueError) as e:
            raise GenomeError(f"{path}: cannot index or read it as FASTA (plain or bgzip) ({e})") from None
        self.lengths = dict(zip(self._fa.references, self._fa.lengths, strict=True))

    def inside(self, chrom: str, start: int, end: int) -> bool:
        return chrom in self.lengths and 1 <= start and end <= self.lengths[chrom]

    def fetch(self, chrom: str, start: int, end: int) -> str:
        if chrom not in self.lengths:
            raise GenomeError(f"contig {chrom!r} is not in the genome")
        if not self.inside(chrom, start, end):
            raise GenomeError(f"{chrom}:{start}-{end} runs off the contig (length {self.lengths[chrom]})")
        return self._fa.fetch(chrom, start - 1, end).upper()


def _attr(f, *names: str) -> str:
    for name in names:
        if name in f.attributes and f.attributes[name]:
            return f.attributes[name][0]
    return ""


def _database(path: Path):
    """The gffutils database of ``path``, built once into ``<annotation>.agrochat.db`` (or in memory when the
    folder is read-only); GTF transcripts and genes are inferred from exons when the file has none."""
    gffutils = _needs("gffutils")
    db_path = path.with_name(path.name + ".agrochat.db")
    if db_path.is_file() and db_path.stat().st_mtime >= path.stat().st_mtime:
        return gffutils.FeatureDB(str(db_path))
    gtf = path.suffix.lower() in (".gtf",) or path.name.lower().endswith(".gtf.gz")
    listed = _feature_types(path) if gtf else set()
    target = str(db_path)
    try:
        db_path.unlink(missing_ok=True)
        db_path.touch()
        db_path.unlink()
    except OSError:
        target = ":memory:"
    try:
        return gffutils.create_db(
            str(path),
            target,
            merge_strategy="create_unique",
            keep_order=False,
            disable_infer_genes=not gtf or "gene" in listed,  # GTF: genes and transcripts from exons when
            disable_infer_transcripts=not gtf or "transcript" in listed,  # the file does not list them
            verbose=False,
        )
    except Exception as e:  # gffutils raises plain exceptions for malformed files
        raise GenomeError(f"{path}: cannot read it as GFF3 or GTF ({type(e).__name__}: {e})") from None


def _feature_types(path: Path, lines: int = 10000) -> set[str]:
    """The feature types among the first ``lines`` lines of a GTF (those it lists need no inference)."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    types = set()
    with opener(path, "rt") as fh:
        for i, line in enumerate(fh):
            if i >= lines:
                break
            cols = line.split("\t")
            if len(cols) > 2:
                types.add(cols[2])
    return types


def read_features(path: str | Path, per: str = "transcript") -> Iterator[Feature]:
    """Transcripts (``mRNA``/``transcript`` features; ``per="gene"``: genes) of a GFF3 or GTF file, in genome
    order."""
    if per not in PER:
        raise GenomeError(f"--per must be one of {PER}, not {per!r}")
    path = _exists(Path(path), "annotation")
    db = _database(path)
    types = ("gene",) if per == "gene" else TRANSCRIPT_TYPES
    for f in db.all_features(featuretype=types, order_by=("seqid", "start", "end")):
        if f.strand not in ("+", "-"):
            continue  # unstranded features have no TSS
        fid = _attr(f, "transcript_id", "ID", "gene_id") if per == "transcript" else _attr(f, "gene_id", "ID")
        gene = _attr(f, "gene_id", "Parent", "ID") if per == "transcript" else fid
        yield Feature(fid or f.id, gene, f.seqid, int(f.start), int(f.end), f.strand)


def read_variants(path: str | Path) -> Iterator[Variant | str]:
    """One :class:`Variant` per alternative allele of each record; a skipped allele (symbolic ``<DEL>``, ``*``,
    missing) as its ``CHROM:POS:REF:ALT`` text."""
    pysam = _needs("pysam")
    path = _exists(Path(path), "VCF")
    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as e:
        raise GenomeError(f"{path}: cannot read it as VCF/BCF ({e})") from None
    with vcf:
        for rec in vcf:
            for alt in rec.alts or ():
                if alt.startswith("<") or alt in ("*", ".") or not set(alt.upper()) <= set("ACGTN"):
                    yield f"{rec.chrom}:{rec.pos}:{rec.ref}:{alt}"
                    continue
                yield Variant(rec.chrom, rec.pos, rec.ref.upper(), alt.upper())


INFO_ID = "AGROCHAT"
INFO_FIELDS = ("allele", "transcript", "window", "key", "delta", "uncertainty", "exceeds")


def _vcf_text(value: object) -> str:
    """A value percent-encoded where VCF INFO forbids the character (VCF 4.3, section 1.2)."""
    text = str(value)
    for ch, code in (("%", "%25"), (",", "%2C"), (";", "%3B"), ("=", "%3D"), (" ", "%20"), ("|", "%7C")):
        text = text.replace(ch, code)
    return text


def annotate_vcf(src: str | Path, dst: str | Path, effects: dict[str, list[tuple]]) -> int:
    """Copy the VCF ``src`` to ``dst`` (bgzipped when it ends in ``.gz``) with an ``AGROCHAT`` INFO field on every
    record with an effect; ``effects``: ``CHROM:POS:REF:ALT`` -> tuples of :data:`INFO_FIELDS` values after the
    allele. The field is declared in the header, so bcftools and pysam read it. Returns the records annotated."""
    pysam = _needs("pysam")
    with pysam.VariantFile(str(src)) as vcf:
        vcf.header.info.add(
            INFO_ID,
            ".",
            "String",
            "agrochat predicted effect per allele, window and key: " + "|".join(INFO_FIELDS),
        )
        mode = "wz" if str(dst).endswith(".gz") else "w"
        n = 0
        with pysam.VariantFile(str(dst), mode, header=vcf.header) as out:
            for rec in vcf:
                entries = [
                    "|".join(_vcf_text(x) for x in (alt, *e))
                    for alt in rec.alts or ()
                    for e in effects.get(f"{rec.chrom}:{rec.pos}:{rec.ref}:{alt}", ())
                ]
                if entries:
                    rec.info[INFO_ID] = tuple(entries)
                    n += 1
                out.write(rec)
    return n


def read_dosages(path: str | Path, wanted: set[str]) -> tuple[list[str], dict[str, list[int]]]:
    """The samples of a VCF and, for each allele named in ``wanted`` (``CHROM:POS:REF:ALT``), how many copies of it
    each sample carries (0, 1, 2; a missing call counts 0)."""
    pysam = _needs("pysam")
    with pysam.VariantFile(str(_exists(Path(path), "VCF"))) as vcf:
        samples = list(vcf.header.samples)
        out: dict[str, list[int]] = {}
        for rec in vcf:
            for i, alt in enumerate(rec.alts or (), start=1):
                name = f"{rec.chrom}:{rec.pos}:{rec.ref.upper()}:{alt.upper()}"
                if name in wanted:
                    out[name] = [
                        sum(a == i for a in (rec.samples[s]["GT"] or ()) if a is not None) for s in samples
                    ]
    return samples, out

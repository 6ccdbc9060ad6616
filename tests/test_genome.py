"""Genome to table, known answers: real promoters and terminators (test fixtures) inserted on both strands of a
synthetic mini-genome at recorded coordinates, described by GFF3 and by GTF. ``scan`` gives back exactly the
inserted windows and ``predict()``'s numbers; ``variants`` gives predict(alt) - predict(ref) for SNVs, an MNV,
indels and a multi-allelic site, nothing for a variant outside every window, and an annotated VCF that pysam
reads back."""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import pytest

pytest.importorskip("pysam")
pytest.importorskip("gffutils")

import pysam  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from agrochat.chat import Assistant  # noqa: E402
from agrochat.chat.scan import WindowIndex, cut, scan_rows, variant_effects  # noqa: E402
from agrochat.cli import app  # noqa: E402
from agrochat.genome.reader import Genome, read_features, read_variants  # noqa: E402
from agrochat.genome.windows import PROMOTER, TERMINATOR, reverse_complement, window  # noqa: E402

FIX = Path(__file__).parent / "fixtures"
KEYS = ["promoter_strength/leaf", "terminator_strength/protoplast"]


def _column(path: Path, name: str) -> list[str]:
    lines = [x for x in path.read_text().splitlines() if not x.startswith("#")]
    return [r[name] for r in csv.DictReader(lines, delimiter="\t")]


class MiniGenome:
    """chr1 (8 kb) and chr2 (3 kb) of random bases with:
    t1 (+): promoter P1 ending at its TSS+4, terminator T1 centred on its 3' end;
    t2 (-): promoter P2 and terminator T2 reverse-complemented;
    t3 (+, chr2): its promoter window 30 % N (reported, not scored); its terminator runs off chr2's end."""

    def __init__(self, folder: Path) -> None:
        rng = random.Random(7)
        proms, terms = (
            _column(FIX / "promoters_leaf_64.tsv", "sequence"),
            _column(FIX / "terminators_train_8.tsv", "sequence"),
        )
        self.P1, self.P2, self.T1, self.T2 = proms[0], proms[1], terms[0], terms[1]
        chr1 = [rng.choice("ACGT") for _ in range(8000)]
        chr2 = [rng.choice("ACGT") for _ in range(3000)]

        def put(seq: list[str], start: int, text: str) -> None:  # 1-based start
            seq[start - 1 : start - 1 + len(text)] = list(text)

        # t1, + strand: TSS 1166, 3' end 2500
        self.t1 = ("chr1", 1166, 2500, "+")
        put(chr1, 1166 - 165, self.P1)
        put(chr1, 2500 - 85, self.T1)
        # t2, - strand: 3' end (lowest coordinate) 4000, TSS (highest) 6000
        self.t2 = ("chr1", 4000, 6000, "-")
        put(chr1, 6000 - 4, reverse_complement(self.P2))
        put(chr1, 4000 - 84, reverse_complement(self.T2))
        # t3, + strand on chr2: TSS 500 with 60 N in its promoter window; 3' end 2950 (window runs off at 3034)
        self.t3 = ("chr2", 500, 2950, "+")
        put(chr2, 400, "N" * 60)
        self.chroms = {"chr1": "".join(chr1), "chr2": "".join(chr2)}
        self.fasta = folder / "mini.fa"
        self.fasta.write_text("".join(f">{c}\n{s}\n" for c, s in self.chroms.items()))
        rows = [("t1", "g1", *self.t1), ("t2", "g2", *self.t2), ("t3", "g3", *self.t3)]
        self.gff = folder / "mini.gff3"
        self.gff.write_text(
            "##gff-version 3\n"
            + "".join(
                f"{c}\ttest\tgene\t{s}\t{e}\t.\t{st}\t.\tID={g}\n"
                f"{c}\ttest\tmRNA\t{s}\t{e}\t.\t{st}\t.\tID={t};Parent={g}\n"
                f"{c}\ttest\texon\t{s}\t{e}\t.\t{st}\t.\tID={t}.e1;Parent={t}\n"
                for t, g, c, s, e, st in rows
            )
        )
        self.gtf = folder / "mini.gtf"
        self.gtf.write_text(
            "".join(
                f'{c}\ttest\ttranscript\t{s}\t{e}\t.\t{st}\t.\tgene_id "{g}"; transcript_id "{t}";\n'
                f'{c}\ttest\texon\t{s}\t{e}\t.\t{st}\t.\tgene_id "{g}"; transcript_id "{t}";\n'
                for t, g, c, s, e, st in rows
            )
        )

    def alt_window(self, chrom: str, pos: int, ref: str, alt: str, kind: str, feature) -> str:
        """The expected window after the variant, computed on the whole edited contig (independently of the
        code under test): the anchor moves by the indel's length when the indel lies before it."""
        g = self.chroms[chrom]
        assert g[pos - 1 : pos - 1 + len(ref)] == ref
        edited = g[: pos - 1] + alt + g[pos - 1 + len(ref) :]
        _, start, end, strand = feature
        anchor = (start if strand == "+" else end) if kind == PROMOTER else (end if strand == "+" else start)
        if pos + len(ref) - 1 < anchor:
            anchor += len(alt) - len(ref)
        before, after = (165, 5) if kind == PROMOTER else (85, 85)
        if strand == "+":
            return edited[anchor - 1 - before : anchor - 1 + after]
        return reverse_complement(edited[anchor - after : anchor + before])


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    return MiniGenome(tmp_path_factory.mktemp("genome"))


@pytest.fixture(scope="module")
def assistant(model_dir):
    return Assistant.from_pretrained(model_dir)


def _value(assistant, seq: str, key: str) -> float:
    return next(assistant.iter_predict_key([seq], key, explanations=False)).value


@pytest.mark.parametrize("annotation", ["gff", "gtf"])
def test_windows_are_exactly_the_inserted_sequences(mini, annotation):
    genome = Genome(mini.fasta)
    feats = {f.id: f for f in read_features(getattr(mini, annotation))}
    assert set(feats) == {"t1", "t2", "t3"}
    assert (feats["t2"].strand, feats["t2"].gene_id) == ("-", "g2")
    assert cut(genome, window(feats["t1"], PROMOTER)).sequence == mini.P1
    assert cut(genome, window(feats["t1"], TERMINATOR)).sequence == mini.T1
    assert cut(genome, window(feats["t2"], PROMOTER)).sequence == mini.P2
    assert cut(genome, window(feats["t2"], TERMINATOR)).sequence == mini.T2
    assert cut(genome, window(feats["t3"], PROMOTER)).status == "too_many_N"
    assert cut(genome, window(feats["t3"], TERMINATOR)).status == "off_contig"


def test_scan_gives_predicts_numbers_and_reports_what_it_cannot_score(mini, assistant):
    rows = list(scan_rows(assistant, Genome(mini.fasta), read_features(mini.gff), KEYS))
    by = {(r["transcript_id"], r["window"], r["key"]): r for r in rows}
    assert len(rows) == 6  # 3 transcripts x (promoter window x 1 promoter key + terminator window x 1 key)
    for tid, kind, seq, key in (
        ("t1", PROMOTER, mini.P1, KEYS[0]),
        ("t1", TERMINATOR, mini.T1, KEYS[1]),
        ("t2", PROMOTER, mini.P2, KEYS[0]),
        ("t2", TERMINATOR, mini.T2, KEYS[1]),
    ):
        r = by[(tid, kind, key)]
        assert r["status"] == "ok" and r["value"] == pytest.approx(_value(assistant, seq, key), abs=1e-4)
        assert float(r["low95"]) <= r["value"] <= float(r["high95"]) and r["uncertainty"] > 0
    assert (
        by[("t3", PROMOTER, KEYS[0])]["status"] == "too_many_N"
        and by[("t3", PROMOTER, KEYS[0])]["value"] == ""
    )
    assert by[("t3", TERMINATOR, KEYS[1])]["status"] == "off_contig"


def _vcf(path: Path, mini: MiniGenome, records: list[tuple]) -> Path:
    head = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={c},length={len(s)}>\n" for c, s in mini.chroms.items()
    )
    head += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    path.write_text(head + "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for c, p, r, a in records))
    return path


def test_variant_effects_equal_predict_alt_minus_ref(mini, assistant, tmp_path):
    g = mini.chroms["chr1"]
    t1_tss, t2_tss, t2_end3 = 1166, 6000, 4000
    snv = ("chr1", t1_tss - 30, g[t1_tss - 31], "A" if g[t1_tss - 31] != "A" else "C")
    ins = ("chr1", t1_tss - 50, g[t1_tss - 51], g[t1_tss - 51] + "TATAAA")  # upstream of the + TSS
    dele = ("chr1", t2_tss + 20, g[t2_tss + 19 : t2_tss + 24], g[t2_tss + 19])  # upstream of the - TSS
    mnv = (
        "chr1",
        t2_end3 + 10,
        g[t2_end3 + 9 : t2_end3 + 11],
        "".join("T" if b != "T" else "G" for b in g[t2_end3 + 9 : t2_end3 + 11]),
    )
    multi_ref = g[t1_tss + 1]
    multi = ("chr1", t1_tss + 2, multi_ref, ",".join([b for b in "ACGT" if b != multi_ref][:2]))
    outside = ("chr1", 7500, g[7499], "A" if g[7499] != "A" else "C")
    symbolic = ("chr1", 3000, g[2999], "<DEL>")
    vcf = _vcf(
        tmp_path / "v.vcf", mini, sorted([snv, ins, dele, mnv, multi, outside, symbolic], key=lambda r: r[1])
    )
    alleles = list(read_variants(vcf))
    assert sum(isinstance(a, str) for a in alleles) == 1  # the symbolic allele
    index = WindowIndex(read_features(mini.gtf), [PROMOTER, TERMINATOR])
    rows = variant_effects(assistant, Genome(mini.fasta), index, alleles, KEYS)
    got = {(r.variant, r.window.feature.id if r.window else "", r.key): r.row() for r in rows}
    expected = [(snv, mini.t1, PROMOTER, mini.P1), (ins, mini.t1, PROMOTER, mini.P1)]
    expected += [(dele, mini.t2, PROMOTER, mini.P2), (mnv, mini.t2, TERMINATOR, mini.T2)]
    expected += [(("chr1", multi[1], multi_ref, a), mini.t1, PROMOTER, mini.P1) for a in multi[3].split(",")]
    assert len(multi[3].split(",")) == 2
    for (c, p, r, a), feature, kind, ref_seq in expected:
        tid = "t1" if feature is mini.t1 else "t2"
        key = KEYS[0] if kind == PROMOTER else KEYS[1]
        row = got.pop((f"{c}:{p}:{r}:{a}", tid, key))
        alt_seq = mini.alt_window(c, p, r, a, kind, feature)
        assert len(alt_seq) == 170 and alt_seq != ref_seq
        want = _value(assistant, alt_seq, key) - _value(assistant, ref_seq, key)
        assert row["status"] == "ok" and row["delta"] == pytest.approx(want, abs=2e-4), (c, p, r, a)
        assert row["exceeds"] == (abs(row["delta"]) > row["uncertainty"])
    assert [k for k in got if k[1]] == []  # nothing else: the outside variant gave no row
    assert [v["status"] for v in got.values()] == ["skipped_allele"]


def test_cli_scan_resumes_and_variants_write_an_annotated_vcf(mini, model_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "scan.tsv"
    args = ["scan", "-g", str(mini.fasta), "-a", str(mini.gff), "-o", str(out), "-m", str(model_dir)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    full = out.read_text().splitlines()
    header = full[0].split("\t")
    assert {"transcript_id", "window", "key", "value", "uncertainty", "status"} <= set(header)
    assert len(full) == 1 + 3 * 2 * 2  # 3 transcripts, 2 windows, 2 keys each (the tiny model's four keys)
    out.write_text("\n".join(full[:5]) + "\n" + full[5][:20])  # interrupted mid-line after two windows
    res = runner.invoke(app, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines() == full
    g = mini.chroms["chr1"]
    vcf = _vcf(tmp_path / "v.vcf", mini, [("chr1", 1136, g[1135], "A" if g[1135] != "A" else "C")])
    tsv, annotated = tmp_path / "effects.tsv", tmp_path / "annotated.vcf.gz"
    res = runner.invoke(
        app,
        [
            "variants",
            str(vcf),
            "-g",
            str(mini.fasta),
            "-a",
            str(mini.gtf),
            "-o",
            str(tsv),
            "--vcf-out",
            str(annotated),
            "-m",
            str(model_dir),
        ],
    )
    assert res.exit_code == 0, res.output
    effects = list(csv.DictReader(tsv.read_text().splitlines(), delimiter="\t"))
    assert {"variant", "transcript_id", "key", "delta"} <= set(effects[0]) and len(effects) == 2
    with pysam.VariantFile(str(annotated)) as back:
        assert "AGROCHAT" in back.header.info
        rec = next(iter(back))
        entries = rec.info["AGROCHAT"]
        assert len(entries) == 2 and all(e.split("|")[1] == "t1" for e in entries)
        assert {e.split("|")[3] for e in entries} == {
            "promoter_strength/leaf",
            "promoter_strength/protoplast",
        }
    bad = runner.invoke(app, ["scan", "-g", str(tmp_path / "none.fa"), "-a", str(mini.gff)])
    assert bad.exit_code != 0 and "genome FASTA not found" in bad.output


def test_variants_summarise_per_sample_genotypes(mini, model_dir, tmp_path):
    g = mini.chroms["chr1"]
    a1 = ("chr1", 1136, g[1135], "A" if g[1135] != "A" else "C")  # in t1's promoter
    a2 = ("chr1", 6030, g[6029], "A" if g[6029] != "A" else "C")  # in t2's promoter (upstream of its - TSS)
    head = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={c},length={len(s)}>\n" for c, s in mini.chroms.items()
    )
    head += '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    head += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    rows = [(*a1, "0/1", "1/1"), (*a2, "0/0", "0|1")]
    vcf = tmp_path / "g.vcf"
    vcf.write_text(
        head + "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t{s1}\t{s2}\n" for c, p, r, a, s1, s2 in rows)
    )
    tsv, per_sample = tmp_path / "e.tsv", tmp_path / "s.tsv"
    args = [
        "variants",
        str(vcf),
        "-g",
        str(mini.fasta),
        "-a",
        str(mini.gff),
        "-o",
        str(tsv),
        "-m",
        str(model_dir),
    ]
    res = CliRunner().invoke(app, [*args, "-k", KEYS[0], "--samples", str(per_sample)])
    assert res.exit_code == 0, res.output
    delta = {r["transcript_id"]: float(r["delta"]) for r in csv.DictReader(tsv.open(), delimiter="\t")}
    got = {(r["sample"], r["transcript_id"]): r for r in csv.DictReader(per_sample.open(), delimiter="\t")}
    assert set(got) == {("S1", "t1"), ("S2", "t1"), ("S2", "t2")}  # S1 carries nothing in t2
    assert got[("S2", "t1")]["alleles"] == "2" and float(got[("S2", "t1")]["delta_sum"]) == pytest.approx(
        2 * delta["t1"], abs=1e-3
    )
    assert got[("S1", "t1")]["alleles"] == "1" and got[("S2", "t2")]["alleles"] == "1"


def test_cli_scan_engine_errors_are_one_line(mini, model_dir, tmp_path, monkeypatch):
    runner = CliRunner()
    args = [
        "scan",
        "-g",
        str(mini.fasta),
        "-a",
        str(mini.gff),
        "-o",
        str(tmp_path / "s.tsv"),
        "-m",
        str(model_dir),
    ]
    res = runner.invoke(app, [*args, "--engine", "nonsense"])
    assert res.exit_code != 0 and res.output.strip().count("\n") == 0 and "--engine" in res.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` fails
    res = runner.invoke(app, [*args, "--engine", "ray"])
    assert res.exit_code != 0 and res.output.strip().count("\n") == 0
    assert "pip install 'agrochat[ray]'" in res.output and not (tmp_path / "s.tsv").exists()


@pytest.mark.slow
def test_cli_scan_on_ray_writes_the_same_bytes(mini, model_dir, tmp_path):
    ray = pytest.importorskip("ray")
    from agrochat.chat.scan_ray import scan_rows_ray

    runner = CliRunner()
    args = ["scan", "-g", str(mini.fasta), "-a", str(mini.gff), "-m", str(model_dir)]
    a, b = tmp_path / "A.tsv", tmp_path / "B.tsv"
    try:
        res = runner.invoke(app, [*args, "--engine", "ray", "--workers", "2", "--out", str(a)])
        assert res.exit_code == 0, res.output
        res = runner.invoke(app, [*args, "--out", str(b)])
        assert res.exit_code == 0, res.output
        assert b.stat().st_size > 0 and a.read_bytes() == b.read_bytes()
        # chunks of 2 windows: 3 chunks on 2 actors of a running cluster (joined, left running), in order
        ray.init(num_cpus=2, include_dashboard=False)
        local = list(
            scan_rows(
                Assistant.from_pretrained(model_dir), Genome(mini.fasta), read_features(mini.gff), chunk=2
            )
        )
        remote = list(scan_rows_ray(model_dir, mini.fasta, read_features(mini.gff), workers=2, chunk=2))
        assert len(local) == 12 and remote == local and ray.is_initialized()
    finally:
        ray.shutdown()

"""Motif annotator: MEME parsing, paper scanning rules, coordinates, strands, poly(A) signals, GC."""

from __future__ import annotations

import random

import pytest

from agrochat.data_gen.paths import MOTIFS_DIR
from agrochat.domain.motifs import (
    PAS_CANONICAL,
    MotifConfig,
    MotifScanner,
    annotate,
    default_scanner,
    parse_meme,
    promoter_index,
    promoter_rel,
)

# GC-rich background without A/T runs: scores far below 0.85 for TATA, Inr and TCT
BACKGROUND = ("GCGGCCGCGGCC" * 15)[:170]


def plant(seq: str, motif: str, index0: int) -> str:
    return seq[:index0] + motif + seq[index0 + len(motif) :]


def test_meme_files_parse():
    cpes = parse_meme(MOTIFS_DIR / "CPEs.meme")
    tfs = parse_meme(MOTIFS_DIR / "TF-clusters.meme")
    assert [m.altname for m in cpes] == ["TATA", "Inr", "BREu", "BREd", "Ypatch", "TCT"]
    assert [m.width for m in cpes] == [16, 10, 8, 7, 8, 6]
    assert len(tfs) == 72
    for m in cpes + tfs:
        assert m.probs.sum(axis=1) == pytest.approx(1.0, abs=0.01)


def test_coordinates_round_trip():
    assert promoter_rel(165, 170) == 1  # 1-based index 166 is the TSS (+1)
    assert promoter_rel(164, 170) == -1
    assert promoter_rel(0, 170) == -165
    assert promoter_rel(169, 170) == 5
    for rel in (-165, -30, -1, 1, 5):
        assert promoter_rel(promoter_index(rel, 170), 170) == rel


def test_planted_tata_box_found_at_minus_30():
    assert "TATA" not in annotate(BACKGROUND).names()
    core_start = promoter_index(-31, 170)  # TATAAATA spans -31..-24
    seq = plant(BACKGROUND, "TATAAATA", core_start)
    ann = annotate(seq)
    hit = ann.get("TATA")
    assert hit is not None and hit.strand == "+" and hit.score >= 0.85
    assert hit.start == core_start - 4  # the 16-bp PWM has 4 flanking columns before the 8-bp core
    assert -31 <= hit.rel_pos <= -24
    assert hit.rel_pos == promoter_rel(hit.start + 7, 170)


def test_inr_only_counted_at_the_tss():
    scanner = default_scanner()
    inr = "".join("ACGT"[i] for i in scanner.cpe["Inr"].matrix.argmax(axis=1))  # the Inr consensus
    inside = scanner.annotate(plant(BACKGROUND, inr, promoter_index(-6, 170)))
    outside = scanner.annotate(plant(BACKGROUND, inr, promoter_index(-80, 170)))
    assert "Inr" in inside.names()
    assert "Inr" not in outside.names()


def test_tf_found_on_reverse_strand():
    scanner = default_scanner()
    tf = scanner.tfs[15]  # TF_16 (HSF)
    consensus = "".join("ACGT"[i] for i in tf.matrix.argmax(axis=1))
    revcomp = consensus[::-1].translate(str.maketrans("ACGT", "TGCA"))
    fwd = scanner.annotate(plant(BACKGROUND, consensus, 40)).get("TF_16")
    rev = scanner.annotate(plant(BACKGROUND, revcomp, 40)).get("TF_16")
    assert fwd is not None and fwd.strand == "+" and fwd.start == 40
    assert rev is not None and rev.strand == "-" and rev.start == 40
    assert fwd.family.startswith("HSF")


def test_bre_only_next_to_tata():
    scanner = default_scanner()
    bre_u = "".join("ACGT"[i] for i in scanner.cpe["BREu"].matrix.argmax(axis=1))
    core = promoter_index(-31, 170)
    with_tata = plant(plant(BACKGROUND, "TATAAATA", core), bre_u, core - 8)
    without_tata = plant(BACKGROUND, bre_u, core - 8)
    assert {"TATA", "BREu"} <= scanner.annotate(with_tata).names()
    assert "BREu" not in scanner.annotate(without_tata).names()


def test_batch_equals_single():
    rng = random.Random(3)
    seqs = ["".join(rng.choice("ACGT") for _ in range(170)) for _ in range(25)]
    scanner = MotifScanner(MotifConfig(chunk=7))
    batch = scanner.annotate_many(seqs)
    for s, a in zip(seqs, batch, strict=True):
        assert a == scanner.annotate(s)


def test_terminator_polya_signal_relative_to_cleavage_site():
    seq = plant(BACKGROUND, PAS_CANONICAL, 85 - 20)  # hexamer starts 20 nt upstream of the centre (index 85)
    ann = annotate(seq, kind="terminator")
    hit = ann.get(PAS_CANONICAL)
    assert hit is not None and hit.start == 65 and hit.rel_pos == -18
    assert ann.kind == "terminator"
    variant = plant(BACKGROUND, "AATAAT", 85 - 20)
    assert "AATAAA-like" in annotate(variant, kind="terminator").names()
    far = plant(BACKGROUND, "AATAAT", 10)  # outside the -40..-5 near-upstream window
    assert "AATAAA-like" not in annotate(far, kind="terminator").names()


def test_gc_content():
    assert annotate("GC" * 85).gc == 1.0
    assert annotate("ATGC" * 42 + "AT").gc == pytest.approx(84 / 170)


def test_config_validation(tmp_path):
    with pytest.raises(ValueError):
        MotifConfig(threshold=1.5)
    with pytest.raises(FileNotFoundError):
        MotifConfig(cpe_meme=tmp_path / "missing.meme")

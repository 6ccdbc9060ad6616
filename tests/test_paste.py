"""``read_pasted``: DNA pasted into a chat message in the shapes people paste it (no model, fast)."""

from __future__ import annotations

import pytest

from agrochat.bridge import DnaSequenceError
from agrochat.chat.paste import PLACEHOLDER, Pasted, PasteError, read_pasted
from agrochat.errors import AgrochatError

# a 170-bp promoter-like fragment (TATA box, start codon near the end)
SEQ = (
    "GCTAAAGACAATTACATAACATACACGTCAGCACGAAACTTGTTGGCCCAGTGTGAATCGCTTAAGGGTTAAGTAAGTGTGATGC"
    "ATACGCCTTTACTTGTATATAAAACCCCATCGGACTGGCATTTTTATTACACTCAGAAACAGAACCACCATGGCGAGCAAGGACG"
)
OTHER = SEQ[::-1][:120]  # a second, different sequence


def blocks(s: str, n: int = 10) -> str:
    return " ".join(s[i : i + n] for i in range(0, len(s), n))


def wrap(s: str, width: int) -> str:
    return "\n".join(s[i : i + width] for i in range(0, len(s), width))


def genbank(s: str, origin: bool = True, end: bool = True) -> str:
    lines = [f"{i + 1:>9} {blocks(s[i : i + 60].lower())}" for i in range(0, len(s), 60)]
    return "\n".join((["ORIGIN"] if origin else []) + lines + (["//"] if end else []))


def embl(s: str) -> str:
    lines = [
        f"     {blocks(s[i : i + 60].lower()):<66}{min(i + 60, len(s)):>9}" for i in range(0, len(s), 60)
    ]
    return "\n".join([f"SQ   Sequence {len(s)} BP;", *lines, "//"])


def fasta(rid: str, s: str, width: int = 60, desc: str = "") -> str:
    return f">{rid}{' ' + desc if desc else ''}\n{wrap(s, width)}"


def check(p: Pasted) -> Pasted:
    assert p.text.count(PLACEHOLDER) == len(p.sequences) == len(p.ids)
    return p


def test_sequence_is_170_bp():
    assert len(SEQ) == 170 and set(SEQ) == set("ACGT")


# ---- formats ----------------------------------------------------------------------------------------------------
FORMATS = {
    "plain": SEQ,
    "lower": SEQ.lower(),
    "rna": SEQ.replace("T", "U"),
    "rna_lower": SEQ.replace("T", "U").lower(),
    "blocks10": blocks(SEQ),
    "blocks7": blocks(SEQ, 7),
    "blocks_lines": "\n".join(blocks(SEQ[i : i + 60]) for i in range(0, 170, 60)),
    "wrap60": wrap(SEQ, 60),
    "wrap70": wrap(SEQ, 70),
    "wrap80": wrap(SEQ.lower(), 80),
    "genbank": genbank(SEQ),
    "genbank_bare": genbank(SEQ, origin=False, end=False),
    "genbank_unindented": "\n".join(line.strip() for line in genbank(SEQ).splitlines()),
    "embl": embl(SEQ),
}


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("frame", ["{}", "Here is my promoter:\n{}\nHow strong is it in maize leaf?"])
def test_each_format_alone_and_in_prose(name, frame):
    p = check(read_pasted(frame.format(FORMATS[name])))
    assert p.sequences == (SEQ,)
    assert p.ids == (None,)
    assert p.text == frame.format(PLACEHOLDER)  # numbers, ORIGIN, SQ and // lines go with the sequence


def test_inline_runs_and_blocks_in_one_line():
    p = check(read_pasted(f"Is {SEQ} stronger than {blocks(OTHER.lower())} in leaf?"))
    assert p.sequences == (SEQ, OTHER)
    assert p.text == "Is <dna> stronger than <dna> in leaf?"


def test_punctuation_around_a_sequence():
    p = check(read_pasted(f"Promoter (5'-{SEQ}-3'), and `{OTHER}`."))
    assert p.sequences == (SEQ, OTHER)
    assert p.text == "Promoter (5'-<dna>-3'), and `<dna>`."


def test_short_last_block_is_kept():
    s = SEQ + "ACG"  # 173 bp: the last block of each layout has 3 bases
    for pasted in (
        blocks(s),
        wrap(s, 60),
        genbank(s),
        embl(s),
        "\n".join(blocks(s[i : i + 60]) for i in range(0, 173, 60)),
    ):
        assert check(read_pasted(pasted + "\nstrong?")).sequences == (s,), pasted


def test_fasta_records_keep_their_ids_and_header_words():
    msg = (
        "Compare these two:\n"
        + fasta("seq1", SEQ, desc="maize promoter, leaf")
        + "\n"
        + fasta("Zm00001d.2|prom", OTHER.lower(), width=70)
        + "\n\nWhich is stronger?"
    )
    p = check(read_pasted(msg))
    assert p.sequences == (SEQ, OTHER)
    assert p.ids == ("seq1", "Zm00001d.2|prom")
    # the header's words after the id stay in the text (the planner reads them: "terminator", an injection)
    assert p.text == "Compare these two:\nmaize promoter, leaf <dna>\n<dna>\n\nWhich is stronger?"


def test_fasta_short_record_blocks_numbers_and_windows_newlines():
    p = check(read_pasted(">primer\r\nACGUACGUAC\r\n"))
    assert p.sequences == ("ACGTACGTAC",) and p.ids == ("primer",)  # a FASTA record may be short
    numbered = ">gb1\n" + genbank(SEQ, origin=False, end=False)
    assert read_pasted(numbered).sequences == (SEQ,)
    assert read_pasted(">b\n" + blocks(SEQ)).sequences == (SEQ,)
    assert read_pasted(">x\n\n" + SEQ).sequences == (SEQ,)  # a blank line after the header


def test_fasta_and_unlabelled_sequences_mixed_in_order():
    msg = f"First {OTHER}\n{fasta('p2', SEQ)}\nand last:\n{genbank(OTHER)}"
    p = check(read_pasted(msg))
    assert p.sequences == (OTHER, SEQ, OTHER)
    assert p.ids == (None, "p2", None)
    assert p.text == "First <dna>\n<dna>\nand last:\n<dna>"


def test_several_sequences_on_their_own_lines_stay_apart():
    two = check(read_pasted(f"{SEQ}\n{OTHER}"))  # not a wrapped paste: 170 is no wrap width
    assert two.sequences == (SEQ, OTHER)
    primers = check(read_pasted(f"primers:\n{SEQ[:22]}\n{SEQ[-22:]}"))
    assert primers.sequences == (SEQ[:22], SEQ[-22:])
    numbered_list = check(read_pasted(f"1 {SEQ[:30]}\n2 {SEQ[30:60]}"))  # list numbers, not GenBank ones
    assert numbered_list.sequences == (SEQ[:30], SEQ[30:60])
    assert read_pasted(f"{SEQ}\n\n{SEQ}").sequences == (SEQ, SEQ)


def test_ambiguity_letters_become_n():
    s = SEQ[:40] + "R" + SEQ[41:80] + "Y" + SEQ[81:]
    expected = SEQ[:40] + "N" + SEQ[41:80] + "N" + SEQ[81:]
    assert read_pasted(s).sequences == (expected,)
    assert read_pasted(blocks(s)).sequences == (expected,)
    assert read_pasted(SEQ[:30] + "NNNNNNNNNN" + SEQ[40:]).sequences == (SEQ[:30] + "N" * 10 + SEQ[40:],)


def test_min_length():
    assert read_pasted("the GATTACA motif").sequences == ()
    p = check(read_pasted("the GATTACA motif", min_length=7))
    assert p.sequences == ("GATTACA",) and p.text == "the <dna> motif"
    assert read_pasted(SEQ[:19]).sequences == ()
    assert read_pasted(SEQ[:20]).sequences == (SEQ[:20],)
    with pytest.raises(ValueError):
        read_pasted(SEQ, min_length=0)


# ---- prose: never a sequence, never an error --------------------------------------------------------------------
PROSE = [
    "What does the TATA box do in a maize promoter?",
    "Does the G-30A variant lower expression in leaf?",
    "Is ACGT a motif? And GATTACA, CAAT, TGACG?",
    "a cat at a gate",
    "a ta ca ga ta ca ta at ca ac gt",
    "Thanks! can you attach the catgut cantata and gnat data at the gaunt tent?",
    "1 a cat\n2 a gnat\n3 at a tact\n4 tag gag nag",
    "W-box (TTGACY), ABRE (ACGTGG), CArG and the AuxRE TGTCTC in Zm00001d012345 and AT1G01010",
    "> quoting you: the promoter is strong\n>> and this too",
    ">promoter\nwhat is its strength?",
    "Is GC >50% here?\n>50% of reads map",
    "see https://www.ncbi.nlm.nih.gov/nuccore/NM_001234567.1 for the record",
    "sha 3f2a9c7d1b0e8f6a5c4d3b2a1f0e9d8c7b6a5f4e",
    "Please\npredict\nexpression\nthanks",
    "",
]


@pytest.mark.parametrize("msg", PROSE)
def test_prose_has_no_sequence(msg):
    p = check(read_pasted(msg))
    assert p.sequences == () and p.ids == ()
    assert p.text == msg


def test_prose_words_are_not_joined_to_a_sequence():
    p = check(read_pasted(f"Compare a {SEQ} at a {OTHER} ta ca please"))
    assert p.sequences == (SEQ, OTHER)
    assert p.text == "Compare a <dna> at a <dna> ta ca please"


# ---- invalid pastes: one line that names the problem -------------------------------------------------------------
def raises(msg: str) -> str:
    with pytest.raises(PasteError) as e:
        read_pasted(msg)
    text = str(e.value)
    assert "\n" not in text
    return text


def test_errors_are_user_errors():
    assert issubclass(PasteError, DnaSequenceError) and issubclass(PasteError, AgrochatError)
    assert issubclass(PasteError, ValueError)


def test_fasta_with_a_non_base_character():
    bad = SEQ[:56] + "X" + SEQ[57:]
    msg = raises("Predict:\n" + fasta("seq1", bad) + "\nthanks")
    assert msg == "sequence 'seq1' has a character that is not a base at position 57: 'X'"
    assert "position 100: '7'" in raises(fasta("s2", SEQ[:99] + "7" + SEQ[100:]))


def test_fasta_without_sequence():
    assert (
        raises(">seq1\n\n>seq2\n" + SEQ)
        == "FASTA record 'seq1' has no sequence (no sequence line after its '>' line)"
    )
    assert "'seq1' has no sequence" in raises("here it is:\n>seq1")
    assert "'chr1:100-300' has no sequence" in raises(">chr1:100-300\nwhat is its expression?")


def test_fasta_protein():
    msg = raises(">P12345\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQ")
    assert msg.startswith("sequence 'P12345' is not DNA") and "protein" in msg


@pytest.mark.parametrize(
    ("pasted", "where"),
    [
        (SEQ[:9] + "X" + SEQ[10:], "position 10: 'X'"),  # a typo in a plain run
        (blocks(SEQ[:45] + "5" + SEQ[46:]), "position 46: '5'"),  # a digit inside a block
        (blocks(SEQ[:123] + "E" + SEQ[124:]), "position 124: 'E'"),
        (wrap(SEQ[:70] + "o" + SEQ[71:], 60), "position 71: 'O'"),
        (genbank(SEQ[:150] + "x" + SEQ[151:]), "position 151: 'X'"),
    ],
)
def test_unlabelled_paste_with_a_non_base_character(pasted, where):
    msg = raises(f"How strong is\n{pasted}\nin leaf?")
    assert msg.startswith("the pasted DNA sequence starting") and "not a base" in msg
    assert msg.endswith(where)


def test_short_near_dna_is_not_an_error():
    # below 30 letters a stray letter is not clearly DNA: nothing found, nothing raised
    assert check(read_pasted("ACGTACGTAXCGTACGT")).sequences == ()


def test_quoted_prose_after_a_gt_line_is_not_a_record():
    for msg in (">Update\nunfortunately", ">Note\nthe TATA box is at -30", ">promoter\n\nthanks"):
        assert check(read_pasted(msg)).sequences == ()


def test_two_sequences_side_by_side_stay_two():
    a, b = SEQ, SEQ[::-1]
    for sep in (" ", "  ", " and ", "\n"):
        got = read_pasted(f"Score these: {a}{sep}{b}")
        assert got.sequences == (a, b), sep

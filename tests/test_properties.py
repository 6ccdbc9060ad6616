"""Property tests (hypothesis): tokenizer, normaliser and FASTA reader never fail with anything but our errors."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agrochat.bridge import DnaSequenceError, normalize_dna, token_count
from agrochat.chat.fasta import FastaError, read_fasta

DNA = st.text(alphabet="ACGTNacgtnUuRYSWKMBDHVryswkmbdhv \n\t", min_size=0, max_size=400)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_normaliser_only_raises_our_error(text):
    try:
        out = normalize_dna(text)
    except DnaSequenceError:
        return
    assert out and set(out) <= set("ACGTN")


@settings(max_examples=200, deadline=None)
@given(DNA)
def test_token_count_formula_and_round_trip(dna_tokenizer, text):
    try:
        seq = normalize_dna(text)
    except DnaSequenceError:
        assert not "".join(text.split())  # only empty input is rejected from this alphabet
        return
    ids = dna_tokenizer(seq)["input_ids"]
    assert ids[0] == dna_tokenizer.cls_token_id and len(ids) == token_count(seq)
    assert dna_tokenizer.decode(ids) == seq
    assert 1 not in ids and 0 not in ids  # no <pad>, no <unk>


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.text(alphabet="abc_1", min_size=1, max_size=8), DNA), max_size=5),
    st.booleans(),
    st.booleans(),
    st.binary(max_size=40),
)
def test_fasta_reader_only_raises_our_error(records, crlf, gz, junk):
    nl = "\r\n" if crlf else "\n"
    text = "".join(f">{rid}{nl}{seq}{nl}" for rid, seq in records)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.fa.gz" if gz else "x.fa")
        data = text.encode() + (junk if not records else b"")
        path.write_bytes(gzip.compress(data) if gz else data)
        try:
            out = read_fasta(path)
        except FastaError:
            return
        assert [r.id for r in out] == [rid for rid, _ in records]

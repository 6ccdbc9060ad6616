import itertools
import random

import pytest

from agrochat.bridge import DnaSequenceError, load_agront_tokenizer, normalize_dna, token_count


def test_vocab_layout(dna_tokenizer):
    vocab = dna_tokenizer.get_vocab()
    assert len(dna_tokenizer) == 4105
    assert [vocab[t] for t in ("<unk>", "<pad>", "<mask>", "<cls>")] == [0, 1, 2, 3]
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    assert all(vocab[k] == 4 + i for i, k in enumerate(kmers))
    assert [vocab[b] for b in "ATCGN"] == [4100, 4101, 4102, 4103, 4104]


def test_known_ids(dna_tokenizer):
    assert dna_tokenizer("AAAAAA")["input_ids"] == [3, 4]
    assert dna_tokenizer("GGGGGG")["input_ids"] == [3, 4099]
    assert dna_tokenizer("ATCGN")["input_ids"] == [3, 4100, 4101, 4102, 4103, 4104]
    assert dna_tokenizer.eos_token_id is None  # <cls> first, no eos


def test_170bp_gives_31_tokens(dna_tokenizer, promoters):
    seq = promoters[0]["sequence"]
    assert len(seq) == 170
    assert len(dna_tokenizer(seq)["input_ids"]) == 31  # <cls> + 28 6-mers + 2 single bases


def test_split_at_n_and_leftovers(dna_tokenizer):
    ids = dna_tokenizer("AAAAAACCNGGGGGGT")["input_ids"]
    v = dna_tokenizer.get_vocab()
    assert ids == [3, v["AAAAAA"], v["C"], v["C"], v["N"], v["GGGGGG"], v["T"]]


def test_normalisation():
    assert normalize_dna(" acg\nu\tTr y") == "ACGTTNN"
    assert normalize_dna("ACGTRYSWKMBDHV") == "ACGT" + "N" * 10


@pytest.mark.parametrize("bad,pos", [("ACGTX", 5), ("AC-GT", 3), ("AC1", 3), ("A C.G", 3)])
def test_bad_characters_name_position(bad, pos):
    with pytest.raises(DnaSequenceError, match=f"position {pos}"):
        normalize_dna(bad)


@pytest.mark.parametrize("bad", ["", "   \n", None])
def test_empty_or_not_a_string(bad):
    with pytest.raises(DnaSequenceError):
        normalize_dna(bad)


def test_token_count_formula_random():
    rng = random.Random(0)
    tok = load_agront_tokenizer()
    for _ in range(200):
        seq = "".join(
            rng.choice("ACGTN" if rng.random() < 0.3 else "ACGT") for _ in range(rng.randint(1, 400))
        )
        ids = tok(seq)["input_ids"]
        assert len(ids) == token_count(seq)
        assert tok.decode(ids) == seq  # round trip


def test_too_long_is_an_error_unless_truncated(dna_tokenizer):
    seq = "ACGTAC" * 1100  # 6,600 bp -> 1,101 tokens
    with pytest.raises(DnaSequenceError, match="encoder window"):
        dna_tokenizer(seq)
    assert len(dna_tokenizer(seq, truncation=True, max_length=1024)["input_ids"]) == 1024


def test_batch_pads_to_longest_not_window(dna_tokenizer):
    out = dna_tokenizer(["AAAAAA", "AAAAAACCCCCC"], padding=True)
    assert [len(x) for x in out["input_ids"]] == [3, 3]
    assert out["input_ids"][0][-1] == 1  # <pad>


def test_save_load_round_trip(dna_tokenizer, tmp_path):
    dna_tokenizer.save_pretrained(tmp_path)
    again = load_agront_tokenizer(tmp_path)
    assert again("ACGTACGTTN")["input_ids"] == dna_tokenizer("ACGTACGTTN")["input_ids"]

"""The AgroNT / Nucleotide Transformer 6-mer tokenizer, built offline from its rule.

Vocabulary (4105 ids): ``<unk> <pad> <mask> <cls>``, then the 4096 6-mers in
``itertools.product("ATCG", repeat=6)`` order (``AAAAAA`` = 4 … ``GGGGGG`` = 4099), then ``A T C G N``
(4100..4104). A sequence becomes ``<cls>`` followed by its tokens (no eos): it is split at every ``N`` (its own
token), each N-free stretch is cut into 6-mers from its start, and a leftover of fewer than 6 bases becomes
single-letter tokens. So an N-free sequence of length L has ``1 + L // 6 + L % 6`` tokens (170 bp -> 31).
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from pathlib import Path

from transformers import EsmTokenizer

from agrochat.errors import CheckpointError, InputError

SPECIAL_TOKENS = ["<unk>", "<pad>", "<mask>", "<cls>"]
SINGLE_BASES = ["A", "T", "C", "G", "N"]
KMER = 6
IUPAC_AMBIGUOUS = set("RYSWKMBDHV")
_WHITESPACE = re.compile(r"\s+")


class DnaSequenceError(InputError):
    """A DNA sequence is empty, holds a character that is not a nucleotide, or is too long."""


def build_vocab() -> list[str]:
    """The 4105-token AgroNT vocabulary in id order."""
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=KMER)]
    return SPECIAL_TOKENS + kmers + SINGLE_BASES


def normalize_dna(seq: str) -> str:
    """Whitespace removed, upper-cased, ``U`` -> ``T``, IUPAC ambiguity letters -> ``N``.

    Raises :class:`DnaSequenceError` naming the 1-based position (in the input with whitespace removed) of the
    first character that is not a nucleotide, and for an empty sequence.
    """
    if not isinstance(seq, str):
        raise DnaSequenceError(f"a DNA sequence must be a string, got {type(seq).__name__}")
    s = _WHITESPACE.sub("", seq).upper().replace("U", "T")
    if not s:
        raise DnaSequenceError("empty DNA sequence")
    out = []
    for i, ch in enumerate(s):
        if ch in "ACGTN":
            out.append(ch)
        elif ch in IUPAC_AMBIGUOUS:
            out.append("N")
        else:
            raise DnaSequenceError(
                f"invalid character {ch!r} at position {i + 1} of the DNA sequence "
                "(allowed: A C G T/U N and IUPAC codes R Y S W K M B D H V)"
            )
    return "".join(out)


def kmerize(seq: str) -> list[str]:
    """Split a normalised sequence into AgroNT tokens (without ``<cls>``)."""
    tokens: list[str] = []
    for i, stretch in enumerate(seq.split("N")):
        if i:
            tokens.append("N")
        n_full = len(stretch) // KMER * KMER
        tokens.extend(stretch[j : j + KMER] for j in range(0, n_full, KMER))
        tokens.extend(stretch[n_full:])
    return tokens


def token_count(seq: str) -> int:
    """Number of ids (``<cls>`` included) for a normalised sequence, by formula."""
    stretches = seq.split("N")
    return 1 + (len(stretches) - 1) + sum(len(s) // KMER + len(s) % KMER for s in stretches)


class BaseTokenizer:
    """One id per base for the convolutional encoder: ``0`` padding, ``A C G T`` = 1..4, ``N`` = 5; no ``<cls>``.

    The same small interface as :class:`AgroNTTokenizer` offers the processor: :meth:`sequence_ids`,
    :meth:`count`, ``pad_token_id``, ``save_pretrained`` / ``from_pretrained`` (a JSON file of the rule).
    """

    pad_token_id = 0
    vocab = {"<pad>": 0, "A": 1, "C": 2, "G": 3, "T": 4, "N": 5}
    _table = str.maketrans({"A": "\x01", "C": "\x02", "G": "\x03", "T": "\x04", "N": "\x05"})

    def sequence_ids(self, seq: str) -> list[int]:
        """Ids of a sequence (normalised here: case, whitespace, RNA, IUPAC codes)."""
        return list(normalize_dna(seq).translate(self._table).encode())

    @staticmethod
    def count(seq: str) -> int:
        """Number of ids of a normalised sequence: its length."""
        return len(seq)

    def save_pretrained(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "BaseTokenizer", "vocab": self.vocab}, indent=2)
        )

    @classmethod
    def from_pretrained(cls, path: str | Path) -> BaseTokenizer:
        data = json.loads((Path(path) / "tokenizer_config.json").read_text())
        if data.get("vocab") != cls.vocab:
            raise CheckpointError(f"{path}: not a base-level DNA tokenizer ({data.get('tokenizer_class')})")
        return cls()


class AgroNTTokenizer(EsmTokenizer):
    """``EsmTokenizer`` with the Nucleotide Transformer 6-mer rule and input normalisation.

    ``__call__`` gives ``<cls>`` + 6-mer ids. A sequence longer than ``model_max_length`` raises
    :class:`DnaSequenceError` unless ``truncation=True`` is passed.
    """

    def __init__(self, vocab_file: str, **kwargs) -> None:
        kwargs.setdefault("eos_token", None)
        kwargs.setdefault("model_max_length", 1024)
        super().__init__(vocab_file, **kwargs)

    def tokenize(self, text: str, **kwargs) -> list[str]:  # noqa: D102 - see class docstring
        return kmerize(normalize_dna(text))

    def sequence_ids(self, seq: str) -> list[int]:
        """``<cls>`` + 6-mer ids of a sequence (no window check; see the processor)."""
        return [self.cls_token_id] + self.convert_tokens_to_ids(self.tokenize(seq))

    @staticmethod
    def count(seq: str) -> int:
        """Number of ids (``<cls>`` included) of a normalised sequence, by formula."""
        return token_count(seq)

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(t for t in tokens if t not in SPECIAL_TOKENS)

    def __call__(self, text=None, *args, truncation=None, **kwargs):
        if text is not None and not truncation:
            for i, seq in enumerate([text] if isinstance(text, str) else text):
                n = token_count(normalize_dna(seq))
                if n > self.model_max_length:
                    raise DnaSequenceError(
                        f"sequence {i} has {n} tokens (~{len(seq)} bp), more than the encoder window of "
                        f"{self.model_max_length}; pass truncation=True or use encoder.overflow=window"
                    )
        return super().__call__(text, *args, truncation=truncation, **kwargs)


def check_rule(tokenizer: AgroNTTokenizer, where: str | Path) -> AgroNTTokenizer:
    """``tokenizer`` if its vocabulary is the 6-mer rule's, id for id; else a :class:`CheckpointError` naming the
    first difference (a checkpoint whose tokens mean something else would give silently wrong states)."""
    vocab = tokenizer.get_vocab()
    expected = build_vocab()
    if len(vocab) != len(expected):
        raise CheckpointError(
            f"{where}: tokenizer has {len(vocab)} tokens, the AgroNT 6-mer rule {len(expected)}"
        )
    for i, token in enumerate(expected):
        if vocab.get(token) != i:
            raise CheckpointError(
                f"{where}: tokenizer gives {token!r} id {vocab.get(token)}, the AgroNT 6-mer rule id {i}"
            )
    return tokenizer


def load_agront_tokenizer(path: str | Path | None = None, model_max_length: int = 1024) -> AgroNTTokenizer:
    """The AgroNT tokenizer: a checkpoint's own (a folder with ``vocab.txt``), checked against the 6-mer rule, or,
    with ``path=None``, built from the rule."""
    if path is not None:
        if not (Path(path) / "vocab.txt").is_file():
            raise CheckpointError(f"{path}: no vocab.txt (an AgroNT tokenizer folder has one)")
        return check_rule(AgroNTTokenizer.from_pretrained(str(path), model_max_length=model_max_length), path)
    with tempfile.TemporaryDirectory() as tmp:
        vocab = Path(tmp) / "vocab.txt"
        vocab.write_text("\n".join(build_vocab()) + "\n")
        return AgroNTTokenizer(str(vocab), model_max_length=model_max_length)

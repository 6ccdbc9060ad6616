"""agrochat.chat: the Python API (``Assistant``), the chat CLI and the LangChain model."""

from .assistant import DEFAULT_MODEL_DIR, Assistant, extract_dna
from .fasta import FastaError, iter_fasta, read_fasta
from .prediction import Answer, Mutagenesis, Prediction

__all__ = [
    "Answer",
    "Assistant",
    "DEFAULT_MODEL_DIR",
    "FastaError",
    "Mutagenesis",
    "Prediction",
    "extract_dna",
    "iter_fasta",
    "read_fasta",
]

"""agrochat.chat: the Python API (``Assistant``), the chat CLI and the LangChain model.

Names are loaded on first use (PEP 562), so the command line's help and argument errors never import torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Answer": "prediction",
    "Assistant": "assistant",
    "DEFAULT_MODEL_DIR": "assistant",
    "FastaError": "fasta",
    "Mutagenesis": "prediction",
    "Prediction": "prediction",
    "extract_dna": "assistant",
    "iter_fasta": "fasta",
    "read_fasta": "fasta",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value

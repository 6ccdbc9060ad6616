"""agrochat.data_gen: build training and instruction data from real benchmark labels, tissue metadata and
motif facts. The runtime knowledge it uses (registry, task keys, prompts, motif annotator, explanations) lives in
:mod:`agrochat.domain`.

Public API (loaded on first use; ``datasets`` is imported only by the build)::

    build_dataset(data_dir, out_dir, seed=0, limit=None, paraphraser=None, on_bad="error") -> DatasetDict
    load_regression_rows(data_dir, split) -> list[dict]
    load_pgb(config, split, local_dir=None) -> list[dict]
    paraphrase(example, chat_model) / Paraphraser(chat_model)
"""

from __future__ import annotations

from .errors import BadInputError, MissingSourceError

_LAZY = {
    "build_dataset": ("build", "build_dataset"),
    "BuildConfig": ("build", "BuildConfig"),
    "run_build": ("build", "run_build"),
    "load_regression_rows": ("regression", "load_regression_rows"),
    "load_pgb": ("pgb", "load_pgb"),
    "PGBConfig": ("pgb", "PGBConfig"),
    "paraphrase": ("paraphrase", "paraphrase"),
    "Paraphraser": ("paraphrase", "Paraphraser"),
    "ConversationConfig": ("conversations", "ConversationConfig"),
}

__all__ = ["BadInputError", "MissingSourceError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""agrochat.data_gen: instruction data from real benchmark labels, tissue metadata and motif facts.

Light imports (numpy only) are eager: the registry, the motif annotator and explanations are needed at
inference. Build functions (which import ``datasets``) load on first use.

Public API::

    load_registry(path=None) -> Registry          Registry.get / keys / resolve / tissues / to_json
    TaskSpec.format_value(value, sigma=None)     TaskSpec.percentile / level / mean / std
    annotate(sequence, kind="promoter") -> Annotation   MotifScanner(MotifConfig).annotate_many(seqs, kind)
    explain(annotation, key, effects) -> Explanation    load_effects()
    build_dataset(data_dir, out_dir, seed=0, limit=None, paraphraser=None, on_bad="error") -> DatasetDict
    load_regression_rows(data_dir, split) -> list[dict]
    load_pgb(config, split, local_dir=None) -> list[dict]
    paraphrase(example, chat_model) / Paraphraser(chat_model)
"""

from __future__ import annotations

from .effects import MotifEffects, load_effects
from .errors import BadInputError, MissingSourceError, UnknownTaskError
from .explain import Explanation, explain
from .motifs import Annotation, MotifConfig, MotifHit, MotifScanner, annotate
from .registry import Registry, TaskSpec, load_registry

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

__all__ = [
    "Annotation", "BadInputError", "Explanation", "MissingSourceError", "MotifConfig", "MotifEffects", "MotifHit",
    "MotifScanner", "Registry", "TaskSpec", "UnknownTaskError", "annotate", "explain", "load_effects",
    "load_registry", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""agrochat.domain: what the assistant knows at every answer, shared by :mod:`agrochat.data_gen` (training data)
and :mod:`agrochat.chat` (answers).

- :mod:`~agrochat.domain.tasks`     task keys (``promoter_strength/leaf``), systems, conditions
- :mod:`~agrochat.domain.registry`  per-key units, label distributions, value formatting (``TaskSpec.format_value``)
- :mod:`~agrochat.domain.prompts`   question/answer templates and the canonical prompt of a key
- :mod:`~agrochat.domain.motifs`    the motif annotator (core promoter elements, TF clusters, poly-A signals)
- :mod:`~agrochat.domain.effects`   measured average motif effects (Jores et al. 2021)
- :mod:`~agrochat.domain.explain`   explanation text from an annotation and the measured effects

Numpy only; resources (registry, PWMs, effects) ship in ``domain/resources/``.
"""

from __future__ import annotations

from .effects import MotifEffects, load_effects
from .explain import Explanation, explain
from .motifs import Annotation, MotifConfig, MotifHit, MotifScanner, annotate
from .registry import Registry, TaskSpec, load_registry

__all__ = [
    "Annotation",
    "Explanation",
    "MotifConfig",
    "MotifEffects",
    "MotifHit",
    "MotifScanner",
    "Registry",
    "TaskSpec",
    "annotate",
    "explain",
    "load_effects",
    "load_registry",
]

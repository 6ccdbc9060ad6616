"""Where the runtime resources (registry, motif PWMs, motif effects) are shipped."""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent / "resources"
DEFAULT_REGISTRY_PATH = RESOURCES_DIR / "registry.json"
DEFAULT_EFFECTS_PATH = RESOURCES_DIR / "motif_effects.json"
MOTIFS_DIR = RESOURCES_DIR / "motifs"

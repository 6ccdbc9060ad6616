"""Registry: JSON round trip, statistics, percentiles, levels, value rendering and alias resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agrochat.domain.registry import Registry, TaskSpec, load_registry
from agrochat.errors import UnknownTaskError


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def test_shipped_registry_has_every_task(registry):
    keys = registry.keys()
    for key in (
        "promoter_strength/leaf",
        "promoter_strength/protoplast",
        "terminator_strength/leaf",
        "terminator_strength/protoplast",
        "synthetic_promoter/leaf_withENH_light",
    ):
        assert key in keys
    assert len([k for k in keys if k.startswith("synthetic_promoter/")]) == 6
    assert [k for k in keys if k.startswith("natural_promoter/")] == [
        "natural_promoter/leaf_noENH_dark",
        "natural_promoter/leaf_noENH_light",
        "natural_promoter/leaf_withENH_light",
        "natural_promoter/proto_noENH_dark",
    ]
    natural = registry.get("natural_promoter/leaf_noENH_dark")
    assert (
        natural.n > 1000
        and natural.population == "tested natural promoters"
        and "without enhancer" in natural.system
    )
    assert len([k for k in keys if k.startswith("tissue_expression/maize:")]) == 23
    assert len([k for k in keys if k.startswith("tissue_expression/sorghum:")]) == 11
    spec = registry.get("promoter_strength/leaf")
    assert "35S minimal promoter" in spec.unit
    assert spec.n > 1000 and spec.std > 0
    assert spec.tissues == ["leaf", "protoplast"]


def test_json_round_trip(registry, tmp_path):
    path = tmp_path / "reg.json"
    registry.to_json(path)
    again = load_registry(path)
    assert again.to_dict() == registry.to_dict()
    assert Registry.from_json(registry.to_json()).to_dict() == registry.to_dict()
    data = json.loads(path.read_text())
    assert set(data["tasks"]) == set(registry.keys())


def test_stats_match_labels():
    rng = np.random.default_rng(1)
    labels = rng.normal(0.5, 1.5, size=2000)
    spec = TaskSpec.from_labels("promoter_strength/leaf", labels, ["leaf", "protoplast"])
    assert spec.mean == pytest.approx(labels.mean())
    assert spec.std == pytest.approx(labels.std(ddof=1))
    assert spec.thresholds == pytest.approx(np.quantile(labels, [1 / 3, 2 / 3]), abs=1e-5)
    assert spec.percentile(float(np.median(labels))) == pytest.approx(50, abs=1.0)
    assert spec.percentile(labels.min() - 1) == 0.0
    assert spec.percentile(labels.max() + 1) == 100.0
    probe = np.linspace(labels.min(), labels.max(), 50)
    pct = [spec.percentile(x) for x in probe]
    assert all(b >= a for a, b in zip(pct[:-1], pct[1:], strict=True))
    # empirical check: percentile of the 90% quantile is about 90
    assert spec.percentile(float(np.quantile(labels, 0.9))) == pytest.approx(90, abs=1.0)


def test_levels_follow_terciles():
    spec = TaskSpec.from_labels(
        "terminator_strength/leaf", np.arange(300, dtype=float), ["leaf", "protoplast"]
    )
    lo, hi = spec.thresholds
    assert spec.level(lo - 1) == "weak"
    assert spec.level((lo + hi) / 2) == "moderate"
    assert spec.level(hi + 1) == "strong"


def test_ties_take_the_middle_of_the_run():
    labels = [0.0] * 60 + list(np.linspace(1, 5, 40))
    spec = TaskSpec.from_labels("tissue_expression/maize:primary root", labels, ["maize:primary root"])
    assert spec.percentile(0.0) == pytest.approx(30, abs=1.5)
    assert spec.level(0.0) == "low"


def test_format_value(registry):
    spec = registry.get("promoter_strength/leaf")
    high = spec.quantiles[87]
    text = spec.format_value(high, sigma=0.4)
    assert text.startswith(f"{high:.2f} ± 0.40 log2 units relative to the 35S minimal promoter (")
    assert "87th percentile of tested promoters; strong)" in text
    low = spec.format_value(spec.quantiles[2])
    assert "±" not in low and "weak" in low and "2nd percentile" in low
    assert "log2(FPKM+1)" in registry.get("tissue_expression/maize:primary root").format_value(3.0)


def test_resolve_aliases(registry):
    assert registry.resolve("promoter", "tobacco leaf") == "promoter_strength/leaf"
    assert registry.resolve("promoter_strength", "leaf") == "promoter_strength/leaf"
    for alias in ("protoplast", "maize protoplast", "proto", "Maize Protoplasts"):
        assert registry.resolve("promoter_strength", alias) == "promoter_strength/protoplast"
    assert registry.resolve("terminator", "proto") == "terminator_strength/protoplast"
    assert registry.resolve("synthetic", "leaf_withENH_light") == "synthetic_promoter/leaf_withENH_light"
    assert registry.resolve("tissue_expression", "primary root") == "tissue_expression/maize:primary root"
    assert registry.resolve("promoter_strength/leaf") == "promoter_strength/leaf"


def test_resolve_condition_wording(registry):
    # plain system names keep their meaning: the benchmark keys
    for text in ("tobacco leaf", "leaf", "tobacco leaves", "N. benthamiana leaves"):
        assert registry.resolve("promoter", text) == "promoter_strength/leaf"
    assert registry.resolve("promoter strength", "maize protoplasts") == "promoter_strength/protoplast"
    # explicit condition words pick the natural-promoter condition (unnamed parts: leaf, with enhancer, dark)
    cases = {
        "without enhancer": "leaf_noENH_dark",
        "no enhancer dark": "leaf_noENH_dark",
        "in the light": "leaf_withENH_light",
        "tobacco leaves without an enhancer, in the light": "leaf_noENH_light",
        "maize protoplasts with no enhancer": "proto_noENH_dark",
        "leaf_noENH_light": "leaf_noENH_light",
    }
    for text, cond in cases.items():
        assert registry.resolve("promoter", text) == f"natural_promoter/{cond}", text
        assert registry.resolve("natural promoters", text) == f"natural_promoter/{cond}", text
        assert registry.resolve("synthetic", text) == f"synthetic_promoter/{cond}", text
    # the benchmark condition named in words is still the benchmark key
    assert (
        registry.resolve("promoter", "tobacco leaf with the 35S enhancer, in the dark")
        == "promoter_strength/leaf"
    )
    assert registry.resolve("promoter", "protoplasts, with enhancer") == "promoter_strength/protoplast"
    # every phrasing the templates use for a condition resolves back to its key
    from agrochat.domain import tasks as T
    from agrochat.domain.prompts import system_names

    for cond in T.NATURAL_CONDITIONS:
        for text in system_names(f"natural_promoter/{cond}"):
            assert registry.resolve("promoter", text) == f"natural_promoter/{cond}", text
    for text in ("protoplast in the light", "root without enhancer", "light and dark"):
        with pytest.raises(UnknownTaskError):
            registry.resolve("promoter", text)


def test_unknown_task_error_lists_known(registry):
    with pytest.raises(UnknownTaskError) as info:
        registry.get("promoter_strength/root")
    assert isinstance(info.value, KeyError)
    assert "promoter_strength: leaf, protoplast" in str(info.value)
    with pytest.raises(UnknownTaskError, match="Known tissues"):
        registry.resolve("promoter_strength", "root")
    with pytest.raises(UnknownTaskError, match="Known tasks"):
        registry.resolve("enhancer_strength", "leaf")


def test_std_is_safe_to_divide_by():
    spec = TaskSpec.from_labels(
        "tissue_expression/maize:mature pollen", [0.0, 0.0, 0.0], ["maize:mature pollen"]
    )
    assert spec.std == 1.0 and spec.mean == 0.0


def test_spec_validation():
    spec = load_registry().get("promoter_strength/leaf").to_dict()
    spec["quantiles"] = list(reversed(spec["quantiles"]))
    with pytest.raises(ValueError, match="sorted"):
        TaskSpec.from_dict(spec)

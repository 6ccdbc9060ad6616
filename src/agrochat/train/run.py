"""Entry point of the recipe: load the data the config names, then run the :class:`Trainer`."""

from __future__ import annotations

from pathlib import Path

from agrochat.errors import ConfigError

from .config import TrainConfig
from .data import RegressionRow, TrainingData
from .trainer import Trainer

SPLITS = ("train", "validation")


def _norm_from_registry(registry, keys: list[str]) -> tuple[dict, dict]:
    norm, units = {}, {}
    for k in keys:
        try:
            spec = registry.get(k)
        except KeyError:
            continue
        norm[k] = [float(spec.mean), float(spec.std) if spec.std > 0 else 1.0]
        units[k] = spec.unit
    return norm, units


def load_training_data(cfg: TrainConfig) -> TrainingData:
    """Rows for every stage from a built dataset (``data.path``), the fixtures, or raw sources (``data_dir``)."""
    from datasets import load_from_disk

    from agrochat.data_gen.build import BuildConfig, run_build
    from agrochat.data_gen.paths import FIXTURES_DIR
    from agrochat.data_gen.regression import load_regression_rows
    from agrochat.domain.registry import load_registry

    keys = list(cfg.data.tasks or cfg.model.numeric_head.keys)
    if cfg.data.path:
        root = Path(cfg.data.path)
        if not (root / "hf").is_dir():
            raise ConfigError(f"data.path={root} is not a dataset built by `agrochat data build`")
        dataset = load_from_disk(str(root / "hf"))
        registry = load_registry(root / "registry.json")
        source = root
    else:
        build = BuildConfig(
            data_dir=FIXTURES_DIR / "mini_data" if cfg.data.fixtures else (cfg.data.data_dir or None),
            out_dir=None,
            seed=cfg.seed,
            write_jsonl=False,
        )
        result = run_build(build)
        dataset, registry = result.dataset, result.registry
        source = build.data_dir  # resolved (../shared/data, or the fixtures)
    wanted = set(keys)
    conversations = {
        split: [r for r in dataset[split] if set(r["target_keys"]) <= wanted and r["target_keys"]]
        for split in SPLITS
        if split in dataset
    }
    regression = {
        split: [
            RegressionRow(r["sequence"], r["key"], float(r["target"]))
            for r in load_regression_rows(source, split, keys=keys)
        ]
        for split in SPLITS
    }
    norm, units = _norm_from_registry(registry, keys)
    return TrainingData(
        regression=regression, conversations=conversations, norm=norm, units=units, registry=registry
    )


def run(cfg: TrainConfig, resume: bool = False, data: TrainingData | None = None) -> dict:
    data = data if data is not None else load_training_data(cfg)
    trainer = Trainer(cfg, data, resume=resume)
    results = trainer.run()
    if data.registry is not None and trainer.main:  # the model answers with this registry's units/percentiles
        data.registry.to_json(Path(cfg.output_dir) / "model" / "registry.json")
    return results

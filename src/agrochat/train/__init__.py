"""agrochat.train: two-stage (plus direct-regression warm-up) training through accelerate."""

from .config import DataConfig, StageConfig, TrainConfig, apply_overrides, load_config

__all__ = ["DataConfig", "StageConfig", "TrainConfig", "apply_overrides", "load_config", "run"]


def run(cfg: TrainConfig, resume: bool = False, data=None) -> dict:
    """Train as ``cfg`` says; ``data`` (a :class:`~agrochat.train.data.TrainingData`) defaults to ``cfg.data``."""
    from .run import run as _run

    return _run(cfg, resume=resume, data=data)

"""Training configs: one dataclass per concern, loaded from ``configs/*.yaml`` with ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agrochat.bridge.config import TRAINABLE, ModelConfig, _from_dict, check_bits_mode
from agrochat.bridge.trainable import PART_MODES, TrainableModes
from agrochat.errors import ConfigError

STAGE_KINDS = ("regress", "align", "instruct")
"""Stage names. The trainer tells only two kinds of stage apart (:attr:`StageConfig.kind`)."""
REGRESS = "regress"
"""Stage kind: the encoder learns from (sequence, label) rows, without the decoder."""
CONVERSATION = "conversation"
"""Stage kind: the model learns from conversations through the decoder (``align`` and ``instruct``)."""


@dataclass
class StageConfig:
    """One training stage.

    ``regress``: encoder + a pooled regression probe learn straight from (sequence, label) rows: cheap, no decoder.
    ``align``: projector + numeric head learn through the frozen decoder on conversations.
    ``instruct``: LoRA on encoder and decoder, projector and head fully, on conversations.
    """

    name: str = "align"
    """regress | align | instruct."""
    encoder: str = "frozen"
    """Encoder trainable mode in this stage: frozen | lora | full."""
    decoder: str = "frozen"
    """Decoder trainable mode in this stage: frozen | lora | full."""
    projector: str = "full"
    """Projector in the decoder stages: full | frozen. Freeze it when the numeric head reads the projected DNA
    (``readout: dna``) and the numbers should stay exactly as the regress stage left them."""
    head: str = "full"
    """Numeric head in the decoder stages: full | frozen."""
    epochs: float = 1.0
    """Passes over the stage's training rows (fractions allowed)."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = no limit)."""
    max_examples: int = 0
    """Use a deterministic subset of this many training rows (0 = all)."""
    lr: float = 1e-3
    """Peak learning rate (linear warm-up, cosine decay)."""
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    max_tokens: int = 4096
    """Token budget per batch (padded decoder tokens for conversations, padded DNA tokens for regress)."""
    max_batch_size: int = 64
    """Upper bound on examples per batch."""
    eval_every: int = 0
    """Evaluate every N steps (0 = only at the end of the stage)."""
    save_every: int = 0
    """Checkpoint every N steps (0 = only at the end of the stage)."""
    eval_examples: int = 256
    """Validation rows used per evaluation (balanced across tasks)."""
    balance_tasks: bool = True
    """With ``max_examples``, draw an equal share of rows per task instead of a uniform sample."""
    lm_loss: bool = True
    """Train on the answer text too (False: only the numeric head's loss, and no LM logits are computed)."""
    frame_shift: int = 0
    """``regress`` only: each time a training sequence is used, drop 0..N bases (random) from its 5' end. AgroNT's
    6-mer tokens do not overlap, so without this a small encoder sees each promoter in one reading frame only;
    with N=5 it sees all six (validation is never shifted)."""
    shift: int = 0
    """``regress`` only: each time a training sequence is used, drop 0..N bases (random) from its 5' or its 3'
    end, so motifs are seen a few bases off their usual place (LegNet-style shift augmentation; validation is
    never shifted)."""
    reverse_complement: bool = False
    """``regress`` only: reverse-complement half of the training sequences each epoch. STARR-seq constructs
    have one orientation, so this is a choice to measure, not a default."""
    num_loss: str = "nll"
    """``regress`` only: ``nll`` (Gaussian NLL for mean and variance) or ``mse_nll`` (the mean learns by squared
    error, the variance by the NLL around the detached mean: the NLL's 1/variance scaling no longer slows the
    mean of noisy tasks, and the intervals stay calibrated)."""
    task_weighting: bool = False
    """``regress`` only: each (sequence, task) counts once in the loss, so a promoter's 34 tissue-expression
    values weigh as much as its one promoter-strength value (without it, tasks with many keys per sequence
    dominate the gradient)."""
    schedule: str = "cosine"
    """Learning-rate schedule: ``cosine`` (linear warm-up from 0 over ``warmup_ratio``, cosine to 0) or
    ``onecycle`` (OneCycle as in LegNet: warm-up from lr/25 over ``warmup_ratio``, cosine down to lr/1e4)."""
    cycle_momentum: bool = False
    """With ``schedule: onecycle``: Adam's beta1 moves opposite to the learning rate, from 0.95 at the ends to 0.85
    at the peak (torch's OneCycleLR, as in LegNet's recipe)."""
    keep_best: bool = False
    """Evaluate every ``eval_every`` steps and end the stage with the weights of the lowest validation loss
    (early stopping without stopping: the best snapshot is kept on disk, so a resumed run keeps it too)."""
    token_lr_scale: float = 1.0
    """Learning-rate multiplier for the new ``<dna>``/``<num>`` embedding rows (PEFT trainable tokens): two rows
    among 49k see few gradients, and at the base rate the decoder never learns to emit ``<num>`` itself."""

    def __post_init__(self) -> None:
        if self.name not in STAGE_KINDS:
            raise ConfigError(f"stage name {self.name!r} is not one of {list(STAGE_KINDS)}")
        for part in ("encoder", "decoder"):
            if getattr(self, part) not in TRAINABLE:
                raise ConfigError(
                    f"stage {self.name}: {part}={getattr(self, part)!r} not in {list(TRAINABLE)}"
                )
        for part in ("projector", "head"):
            if getattr(self, part) not in PART_MODES:
                raise ConfigError(
                    f"stage {self.name}: {part}={getattr(self, part)!r} not in {list(PART_MODES)}"
                )
        if self.kind == REGRESS and self.decoder != "frozen":
            raise ConfigError("the regress stage does not use the decoder; set decoder: frozen")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ConfigError(f"stage {self.name}: set epochs > 0 or max_steps > 0")
        if self.lr <= 0 or self.max_tokens <= 0 or self.max_batch_size <= 0 or self.token_lr_scale <= 0:
            raise ConfigError(
                f"stage {self.name}: lr, token_lr_scale, max_tokens and max_batch_size must be > 0"
            )
        if not 0 <= self.frame_shift <= 5:
            raise ConfigError(f"stage {self.name}: frame_shift must be in [0, 5] (one 6-mer)")
        if not 0 <= self.shift <= 50:
            raise ConfigError(f"stage {self.name}: shift must be in [0, 50] bases")
        if self.num_loss not in ("nll", "mse_nll"):
            raise ConfigError(f"stage {self.name}: num_loss={self.num_loss!r} not in ['nll', 'mse_nll']")
        if self.schedule not in ("cosine", "onecycle"):
            raise ConfigError(f"stage {self.name}: schedule={self.schedule!r} not in ['cosine', 'onecycle']")
        if self.cycle_momentum and self.schedule != "onecycle":
            raise ConfigError(f"stage {self.name}: cycle_momentum needs schedule: onecycle")
        if self.keep_best and self.eval_every <= 0:
            raise ConfigError(f"stage {self.name}: keep_best needs eval_every > 0")

    @property
    def kind(self) -> str:
        """``regress`` (rows, encoder only) or ``conversation`` (``align``/``instruct``: through the decoder)."""
        return REGRESS if self.name == "regress" else CONVERSATION

    def trainable_modes(self, reads_dna: bool) -> TrainableModes:
        """What trains in this stage. ``reads_dna``: the model's numeric head reads the projected DNA
        (``readout: dna``), so a regress stage trains the model's own projector and head; otherwise the regress
        stage trains a pooled probe instead (:meth:`trains_probe`) and leaves projector and head as they are."""
        if self.kind == REGRESS:
            own = "full" if reads_dna else "frozen"
            return TrainableModes(self.encoder, self.decoder, projector=own, numeric_head=own)
        return TrainableModes(self.encoder, self.decoder, projector=self.projector, numeric_head=self.head)

    def trains_probe(self, reads_dna: bool) -> bool:
        """Whether the pooled regression probe trains: in a regress stage of a model whose head does not read
        the projected DNA."""
        return self.kind == REGRESS and not reads_dna


@dataclass
class DataConfig:
    """Where training rows come from."""

    path: str = ""
    """A dataset directory written by ``agrochat data build`` (empty: build from ``data_dir``)."""
    data_dir: str = ""
    """Raw sources for an on-the-fly build (empty: ``../shared/data`` or the shipped fixtures)."""
    fixtures: bool = False
    """Build from the small fixtures shipped in the package (tests, demos)."""
    tasks: list[str] = field(default_factory=list)
    """Keep only these task/tissue keys (empty = all)."""


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig()])
    output_dir: str = "runs/default"
    init_from: str = ""
    """A saved model directory whose encoder and projector weights start this run (e.g. the ``regress`` stage
    of another run, to train a variant of the later stages without repeating it). Empty: fresh weights."""
    start_stage: int = 0
    """Skip the stages before this index (with ``init_from``: a variant that reuses another run's early stages,
    e.g. ``start_stage=1 model.numeric=text`` for the digits comparison model)."""
    seed: int = 0
    mixed_precision: str = "no"
    """no | bf16 | fp16 (accelerate)."""
    gradient_accumulation_steps: int = 1
    keep_last: int = 2
    """Checkpoints to keep (older ones are deleted)."""
    log_every: int = 10
    tensorboard: bool = True
    """Also log to TensorBoard when it is installed."""
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = _from_dict(DataConfig, self.data, "data")
        self.stages = [
            _from_dict(StageConfig, s, "stages[]") if isinstance(s, dict) else s for s in self.stages
        ]
        if not self.stages:
            raise ConfigError("at least one stage is needed")
        for stage in self.stages:  # quantised base weights train through LoRA only
            check_bits_mode(f"stage {stage.name}: encoder", self.model.encoder.load_in_bits, stage.encoder)
            check_bits_mode(f"stage {stage.name}: decoder", self.model.decoder.load_in_bits, stage.decoder)
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"mixed_precision={self.mixed_precision!r} not in ['no', 'bf16', 'fp16']")
        if not 0 <= self.start_stage < len(self.stages):
            raise ConfigError(
                f"start_stage={self.start_stage} is not a stage index (0..{len(self.stages) - 1})"
            )
        if self.gradient_accumulation_steps < 1 or self.keep_last < 1:
            raise ConfigError("gradient_accumulation_steps and keep_last must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data, "train")


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML; ``stages.1.lr=3e-4`` indexes lists)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        node: Any = data
        parts = key.split(".")
        try:
            for p in parts[:-1]:
                node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = _parse_value(value)
            else:
                node[last] = _parse_value(value)
        except (ValueError, IndexError, TypeError, AttributeError, yaml.YAMLError) as e:
            raise ConfigError(f"override {item!r} does not fit the config ({e})") from e
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a YAML preset and apply overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    return TrainConfig.from_dict(apply_overrides(_load_yaml(path), overrides or []))


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A preset, merged over the preset its ``base:`` names (mappings merge key by key; lists are replaced)."""
    if path.resolve() in seen:
        raise ConfigError(f"config {path} includes itself through base:")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = path.parent / base
    if not base_path.is_file():
        raise ConfigError(f"{path}: base config {base_path} not found")
    return _merge(_load_yaml(base_path, seen + (path.resolve(),)), data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out

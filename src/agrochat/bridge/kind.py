"""What a pasted sequence is: a core promoter or a terminator, told apart by its sequence alone.

The chat planner asks this when the user's words do not say. Both source libraries hold 170-bp sequences
(promoters: Jores et al. 2021, -165..+5 around the TSS; terminators: Gorjifard et al. 2024, around the cleavage
site), so length gives nothing away; a small CNN on the bases does.

Model: an embedding of the base ids (padding, A, C, G, T, N), a few convolutions (SiLU, dropout, a max-pool by 2
between them), global max and mean pooling over the real positions, and a linear output: the logit that the
sequence is a terminator. An optional learned position embedding (``KindConfig.position_embedding``) did not
help on validation and is off by default.

Lengths: a sequence longer than ``KindConfig.max_len`` is cropped to its central ``max_len`` bases; a shorter
one is padded on the right, and padding is zeroed before every convolution and left out of the pooling, so a
sequence gets the same probability alone or in a padded batch.

On disk (``save_pretrained``): ``kind_config.json`` and ``kind.safetensors`` (float16 weights; loaded back as
float32). This module imports nothing from agrochat but :mod:`agrochat.errors`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from agrochat.errors import CheckpointError, ConfigError, InputError, ResourceNotFoundError

CONFIG_FILE = "kind_config.json"
WEIGHTS_FILE = "kind.safetensors"
KIND_TYPES = ("cnn",)

# Base ids: 0 is padding, then A C G T, and N for any IUPAC ambiguity code.
PAD_ID = 0
BASE_IDS = {"A": 1, "C": 2, "G": 3, "T": 4, "N": 5}
AMBIGUOUS = set("RYSWKMBDHVN")


@dataclass
class KindConfig:
    """Architecture of the promoter/terminator classifier (stored as ``kind_config.json``)."""

    type: str = "cnn"
    """Classifier type; only ``cnn`` exists (the builder raises on any other)."""
    embed_dim: int = 8
    """Width of the learned embedding of each base id (padding, A, C, G, T, N; padding embeds to zeros)."""
    channels: list[int] = field(default_factory=lambda: [64, 64, 64, 64])
    """Output width of each convolution; a max-pool by 2 follows every convolution but the last. (Chosen on
    validation: 3 or 4 layers of 64 or 3 of 128 all reached ~0.91 balanced accuracy; 4 x 64 had the lowest loss.)"""
    kernel: int = 9
    """Kernel of every convolution (odd, so the output is aligned with the input)."""
    dropout: float = 0.2
    """Dropout after every convolution (training only)."""
    max_len: int = 170
    """Longer sequences are cropped to their central ``max_len`` bases (170: the length of both libraries)."""
    position_embedding: bool = False
    """Add a learned embedding of each position (counted from the 5' end, ``max_len`` of them) to the base
    embedding. Both libraries are aligned (promoters -165..+5 around the TSS, terminators around the cleavage
    site), so where a motif sits may tell them apart; without it the model is translation-equivariant."""

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise ConfigError(f"kind.type must be a non-empty string, got {self.type!r}")
        for name in ("embed_dim", "kernel", "max_len"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"kind.{name} must be a positive integer, got {v!r}")
        if self.kernel % 2 == 0:
            raise ConfigError(f"kind.kernel must be odd, got {self.kernel}")
        if not isinstance(self.channels, list | tuple) or not self.channels:
            raise ConfigError(f"kind.channels must list at least one width, got {self.channels!r}")
        if any(not isinstance(c, int) or isinstance(c, bool) or c <= 0 for c in self.channels):
            raise ConfigError(f"kind.channels must be positive integers, got {self.channels!r}")
        self.channels = list(self.channels)
        if not isinstance(self.dropout, int | float) or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"kind.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.position_embedding, bool):
            raise ConfigError(
                f"kind.position_embedding must be true or false, got {self.position_embedding!r}"
            )

    @classmethod
    def from_dict(cls, d: dict) -> KindConfig:
        """A config from ``d``; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ConfigError(f"unknown kind config keys {extra}; known: {sorted(known)}")
        return cls(**d)


def encode(sequences: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Base ids (B, L) and a mask (B, L) of real positions, L = the longest sequence after cropping.

    Uppercases, turns U into T, drops whitespace, maps IUPAC ambiguity codes to N and crops sequences longer
    than ``max_len`` to their central ``max_len`` bases; raises :class:`InputError` on an empty sequence or a
    letter that is not a nucleotide code."""
    rows = []
    for i, s in enumerate(sequences):
        s = "".join(s.split()).upper().replace("U", "T")
        if not s:
            raise InputError(f"sequence {i + 1} is empty")
        bad = sorted({c for c in s if c not in BASE_IDS and c not in AMBIGUOUS})
        if bad:
            raise InputError(f"sequence {i + 1} has characters that are not nucleotides: {''.join(bad)}")
        if len(s) > max_len:
            start = (len(s) - max_len) // 2
            s = s[start : start + max_len]
        rows.append([BASE_IDS.get(c, BASE_IDS["N"]) for c in s])
    length = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)  # (B, L)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids, ids != PAD_ID  # (B, L), (B, L)


class KindClassifier(nn.Module):
    """Base ids (B, L) -> the logit (B,) that each sequence is a terminator (not a core promoter)."""

    def __init__(self, config: KindConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(len(BASE_IDS) + 1, config.embed_dim, padding_idx=PAD_ID)
        self.position = (
            nn.Parameter(torch.zeros(config.max_len, config.embed_dim)) if config.position_embedding else None
        )
        widths = [config.embed_dim, *config.channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, config.kernel, padding=config.kernel // 2)
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(2 * config.channels[-1], 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, L) base ids, mask (B, L) true at real positions (default: ids != PAD_ID) -> logits (B,)."""
        if mask is None:
            mask = ids != PAD_ID
        m = mask.unsqueeze(1).float()  # (B, 1, L)
        x = self.embed(ids)  # (B, L, E)
        if self.position is not None:
            x = x + self.position[: ids.shape[1]]  # (B, L, E); padding is zeroed by the mask below
        x = x.transpose(1, 2)  # (B, E, L)
        for i, conv in enumerate(self.convs):
            x = self.drop(F.silu(conv(x * m)))  # (B, C_i, L_i)
            if i < len(self.convs) - 1:
                # padding must not win a max: -inf there, then zeros where a window held only padding
                x = F.max_pool1d(x.masked_fill(m == 0, float("-inf")), 2, ceil_mode=True)  # (B, C_i, L_i')
                m = F.max_pool1d(m, 2, ceil_mode=True)  # (B, 1, L_i'), L_i' = ceil(L_i / 2)
                x = x.masked_fill(m == 0, 0.0)
        x = x * m  # (B, C, L')
        mean = x.sum(-1) / m.sum(-1).clamp(min=1)  # (B, C)
        mx = x.masked_fill(m == 0, float("-inf")).amax(-1)  # (B, C)
        return self.out(torch.cat([mx, mean], dim=-1)).squeeze(-1)  # (B,)

    @torch.no_grad()
    def prob_terminator(self, sequences: list[str], batch_size: int = 256) -> list[float]:
        """P(terminator) per sequence (1 - P(core promoter)); any case, U or T, any length (see the module doc).
        Runs in eval mode (the module's mode is restored afterwards)."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            probs: list[float] = []
            for s in range(0, len(sequences), batch_size):
                ids, mask = encode(list(sequences[s : s + batch_size]), self.config.max_len)  # (B, L)
                logits = self(ids.to(device), mask.to(device))  # (B,)
                probs += torch.sigmoid(logits.float()).tolist()
            return probs
        finally:
            self.train(was_training)

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``kind_config.json`` and ``kind.safetensors`` (float16 weights) to the folder ``path``."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(self.config), indent=1) + "\n")
        state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path / WEIGHTS_FILE))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> KindClassifier:
        """Load a folder written by :meth:`save_pretrained` (float32, eval mode, on the CPU)."""
        from safetensors.torch import load_file

        path = Path(path)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (path / name).is_file():
                raise ResourceNotFoundError(f"{path} is not a kind classifier: no {name}")
        try:
            config = KindConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()))
        except (json.JSONDecodeError, TypeError) as e:
            raise CheckpointError(f"{path / CONFIG_FILE} is not a kind config: {e}") from e
        model = build_kind_classifier(config)
        state = {k: v.float() for k, v in load_file(str(path / WEIGHTS_FILE)).items()}
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise CheckpointError(f"{path / WEIGHTS_FILE} does not match {path / CONFIG_FILE}: {e}") from e
        return model.eval()


def build_kind_classifier(config: KindConfig) -> KindClassifier:
    """A randomly initialised classifier of ``config.type`` (only ``cnn``)."""
    if config.type == "cnn":
        return KindClassifier(config)
    raise ConfigError(f"unknown kind classifier type {config.type!r}; known: {', '.join(KIND_TYPES)}")

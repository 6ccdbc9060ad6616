"""The decoder's planner: it reads the conversation (text and every sequence as ``<dna>`` embeddings) and plans
the turn.

The base decoder (every adapter off) runs its first ``layer`` layers over the conversation; a :class:`PlanHead`, a
small transformer over those states, reads the plan from them: the operation, the task of the turn's numbers
(one of the model's tasks), the key of every number (one logit per key the model knows, so only known keys can
come out), which of the conversation's sequences the turn is about (one logit per sequence, read from its DNA
positions) and a design's direction. The decoder is frozen, so training caches its states once and trains the head
only (:mod:`agrochat.train.plan`).

Where the words do not say whether a sequence is a promoter or a terminator, its DNA does: a planner may carry a
sequence-kind classifier (:mod:`agrochat.bridge.kind`) whose probability enters the choice of the keys' group.

Stored in a checkpoint's ``planner/`` folder: ``planner_config.json``, ``plan_head.safetensors`` (float16), with
``members`` > 1 the other heads as ``plan_head.1.safetensors``... (their probabilities are averaged), and, with a
kind classifier, ``kind/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from agrochat.errors import CheckpointError, ConfigError

from . import top_adapter as top
from .processor import DNA_TOKEN

CONFIG_FILE = "planner_config.json"
HEAD_FILE = "plan_head.safetensors"
KIND_DIR = "kind"


def task_of(key: str) -> str:
    """The task of a numeric-head key (``task/condition``)."""
    return key.split("/", 1)[0]


@dataclass
class PlannerConfig:
    """The planner of a model.

    keys: the task keys a plan may name (the model's numeric head keys), in head order.
    ops: the operations a plan may name; goals: a design's directions; groups: the group of each key (one turn's
    keys come from one group; empty: each key's task). All three given by the trainer, from
    :mod:`agrochat.domain.operations`.
    layer: how many of the decoder's layers run before the head reads their states (0: the embeddings alone).
    width, depth, heads, dropout: the plan head's transformer (model width, layers, attention heads, dropout).
    queries: learned attention queries that summarise the turn for the operation, task and direction.
    history_chars: earlier assistant turns are cut to this many characters before the planner reads them.
    default: chat plans every turn with this planner (``Assistant.plan(planner="auto")``); False: only when asked
    for (``planner="decoder"``), the rules plan otherwise.
    members: how many plan heads of this shape (trained apart, e.g. on other data) read the same decoder states;
    the plan takes the mean of their probabilities.
    storage: how the heads' weights are stored: ``float16``, or ``int8`` (each matrix row scaled to its largest
    absolute value: half the size; loaded back as float32).
    """

    keys: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    layer: int = 24
    width: int = 256
    depth: int = 2
    heads: int = 4
    queries: int = 4
    dropout: float = 0.1
    history_chars: int = 300
    default: bool = False
    members: int = 1
    storage: str = "float16"

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("planner.keys is empty: a planner plans numbers for known keys")
        if len(set(self.keys)) != len(self.keys):
            raise ConfigError("planner.keys has duplicates")
        if not self.ops or not self.goals:
            raise ConfigError("planner.ops and planner.goals must name the operations and directions")
        if not self.groups:
            self.groups = [task_of(k) for k in self.keys]
        if len(self.groups) != len(self.keys):
            raise ConfigError(f"planner.groups has {len(self.groups)} entries for {len(self.keys)} keys")
        if int(self.layer) < 0:
            raise ConfigError(f"planner.layer must be >= 0, got {self.layer}")
        for name in ("width", "depth", "heads", "queries", "history_chars", "members"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"planner.{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ConfigError(
                f"planner.width ({self.width}) must be a multiple of planner.heads ({self.heads})"
            )
        if not isinstance(self.default, bool):
            raise ConfigError(f"planner.default must be true or false, got {self.default!r}")
        if self.storage not in ("float16", "int8"):
            raise ConfigError(f"planner.storage must be float16 or int8, not {self.storage!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"planner.dropout must be in [0, 1), got {self.dropout}")

    @property
    def group_names(self) -> list[str]:
        """The groups of :attr:`keys`, in order of first appearance."""
        return list(dict.fromkeys(self.groups))

    @property
    def group_of(self) -> dict[str, str]:
        return dict(zip(self.keys, self.groups, strict=True))


class PlanHead(nn.Module):
    """Plan logits from decoder states: a small transformer over the conversation; learned queries attend for the
    turn's summary (operation, task, direction) and one learned query per key attends for that key's logit, so a
    key is scored by the words and bases that name it."""

    def __init__(self, d_model: int, config: PlannerConfig) -> None:
        super().__init__()
        w, n_keys = config.width, len(config.keys)
        self.inp = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, w))
        layer = nn.TransformerEncoderLayer(
            w, config.heads, 2 * w, config.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)
        self.queries = nn.Parameter(torch.randn(config.queries, w) * w**-0.5)  # (Q, W)
        self.key_queries = nn.Parameter(torch.randn(n_keys, w) * w**-0.5)  # (K, W)
        self.trunk = nn.Sequential(nn.Linear((2 + config.queries) * w, w), nn.GELU(), nn.LayerNorm(w))
        self.op = nn.Linear(w, len(config.ops))
        self.group = nn.Linear(w, len(config.group_names))
        self.key_w = nn.Parameter(torch.zeros(n_keys, w))  # (K, W): each key's read of its pooled state
        self.key_z = nn.Linear(w, n_keys)
        self.goal = nn.Linear(w, len(config.goals))
        self.seq = nn.Sequential(nn.Linear(2 * w, w), nn.GELU(), nn.Linear(w, 1))
        self.kind = nn.Linear(2, len(config.group_names))  # what the sequences are -> the group of the keys

    @staticmethod
    def _attend(h: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each query's attention-pooled state: h (B, L, W), q (N, W), mask (B, L) -> (B, N, W)."""
        scores = torch.einsum("blw,nw->bnl", h, q) / h.shape[-1] ** 0.5  # (B, N, L)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        return torch.einsum("bnl,blw->bnw", scores.softmax(-1), h)

    def forward(
        self,
        h: torch.Tensor,
        mask: torch.Tensor,
        last: torch.Tensor,
        seq_index: torch.Tensor,
        n_seqs: list[int],
        kinds: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """h (B, L, D) decoder states; mask (B, L) text+DNA positions; last (B,) index of the last prompt token;
        seq_index (B, L) the sequence each DNA position belongs to (-1 elsewhere); n_seqs: sequences per
        conversation; kinds (B, 2): per conversation the mean probability that its sequences are terminators and
        whether it has any (zeros without a kind classifier)."""
        B = h.shape[0]
        mask = mask.bool()
        h = self.norm(self.encoder(self.inp(h), src_key_padding_mask=~mask))  # (B, L, W)
        m = mask.float().unsqueeze(-1)  # (B, L, 1)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1)  # (B, W)
        pooled = self._attend(h, self.queries, mask).flatten(1)  # (B, Q*W)
        z = self.trunk(torch.cat([h[torch.arange(B), last], mean, pooled], -1))  # (B, W)
        per_key = self._attend(h, self.key_queries, mask)  # (B, K, W)
        keys = (per_key * self.key_w).sum(-1) + self.key_z(z)  # (B, K)
        seq_logits = []
        for b in range(B):
            if not n_seqs[b]:
                seq_logits.append(h.new_zeros(0))
                continue
            onehot = (
                F.one_hot(seq_index[b].clamp(min=0), n_seqs[b]).float() * (seq_index[b] >= 0).float()[:, None]
            )  # (L, S)
            pooled_s = onehot.T @ h[b] / onehot.sum(0).clamp(min=1)[:, None]  # (S, W)
            seq_logits.append(
                self.seq(torch.cat([pooled_s, z[b].expand(n_seqs[b], -1)], -1)).squeeze(-1)
            )  # (S,)
        return {
            "op": self.op(z),
            "group": self.group(z) + self.kind(kinds if kinds is not None else z.new_zeros(B, 2)),
            "keys": keys,
            "goal": self.goal(z),
            "seqs": seq_logits,
        }


@dataclass(frozen=True)
class PlanScores:
    """The planner's probabilities for one turn: ``groups`` of the turn's keys, and each key's probability given
    its group (``group_of``: key -> group)."""

    op: dict[str, float]
    keys: dict[str, float]
    goal: dict[str, float]
    sequences: list[float]
    groups: dict[str, float] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)


def choose_keys(groups: dict[str, float], keys: dict[str, float], group_of: dict[str, str]) -> list[str]:
    """The keys of a plan: those of the most likely group with probability above 0.5, else that group's most
    likely key (``groups`` empty: every key competes)."""
    if groups:
        best = max(groups, key=groups.get)
        keys = {k: p for k, p in keys.items() if group_of.get(k) == best} or keys
    chosen = [k for k, p in keys.items() if p > 0.5]
    return chosen or [max(keys, key=keys.get)]


def kind_features(kind, sequences: list[str]) -> torch.Tensor:
    """(2,): the mean probability that ``sequences`` are terminators (``kind``: a classifier with
    ``prob_terminator``) and whether there are any; zeros without a classifier or sequences."""
    if kind is None or not sequences:
        return torch.zeros(2)
    return torch.tensor([sum(kind.prob_terminator(list(sequences))) / len(sequences), 1.0])


class Planner:
    """The decoder's first ``config.layer`` layers and a :class:`PlanHead`, over a model's processor; ``kind``: an
    optional sequence-kind classifier (:class:`~agrochat.bridge.kind.KindClassifier`)."""

    def __init__(
        self, model, head: PlanHead, config: PlannerConfig, kind=None, others: list[PlanHead] | None = None
    ) -> None:
        self.model = model
        self.head = head  # the head that trains
        self.others = others or []  # the ensemble's other members (config.members - 1), read only
        self.config = config
        self.kind = kind
        self.key_index = {k: i for i, k in enumerate(config.keys)}

    # ---- construction ----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, model, config: PlannerConfig, kind=None) -> Planner:
        """A fresh head for ``model``'s decoder (``kind``: a trained sequence-kind classifier, or None)."""
        n = top.n_layers(top.peft_decoder(model))
        if config.layer > n:
            raise ConfigError(f"planner.layer is {config.layer} but the decoder has {n} layers")
        return cls(model, PlanHead(_width(model), config).eval(), config, kind)

    @classmethod
    def from_pretrained(cls, path: str | Path, model) -> Planner:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise CheckpointError(f"{path} has no {CONFIG_FILE}")
        kind = None
        if (path / KIND_DIR).is_dir():
            from .kind import KindClassifier

            kind = KindClassifier.from_pretrained(path / KIND_DIR)
        planner = cls.build(model, PlannerConfig(**json.loads((path / CONFIG_FILE).read_text())), kind)
        planner.others = [
            PlanHead(_width(model), planner.config).eval() for _ in range(planner.config.members - 1)
        ]
        for head, file in zip(
            [planner.head, *planner.others], _head_files(planner.config.members), strict=True
        ):
            if not (path / file).is_file():
                raise CheckpointError(f"{path} has no {file} (planner.members is {planner.config.members})")
            weights = _unpack(load_file(str(path / file)))
            try:
                head.load_state_dict(weights)
            except RuntimeError as e:
                raise CheckpointError(f"{path / file} does not match its {CONFIG_FILE}: {e}") from None
        return planner

    def save_pretrained(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for head, file in zip([self.head, *self.others], _head_files(self.config.members), strict=True):
            save_file(_pack(head.state_dict(), self.config.storage), str(path / file))
        (path / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=1))
        if self.kind is not None:
            self.kind.save_pretrained(path / KIND_DIR)

    # ---- inputs ----------------------------------------------------------------------------------------------
    def conversation(self, messages: list[dict]) -> list[dict]:
        """The conversation as the planner reads it (as long as it learned on): the user turns that paste a
        sequence, the last assistant turn, cut to ``history_chars``, and the last user turn, in order."""
        turns = [m for m in messages if m.get("role") in ("user", "assistant")]
        last_answer = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=-1)
        out = []
        for i, m in enumerate(turns):
            text = str(m.get("content") or "")
            if i == len(turns) - 1 or (m["role"] == "user" and DNA_TOKEN in text):
                out.append({"role": m["role"], "content": text})
            elif i == last_answer:
                out.append({"role": "assistant", "content": text[: self.config.history_chars]})
        return out

    def encode(self, messages: list[dict], sequences: list[str]):
        """One conversation as a processor :class:`~agrochat.bridge.processor.Example` (generation prompt)."""
        return self.model.processor.encode(self.conversation(messages), sequences, answer_prefix="")

    def batch(self, examples) -> dict:
        """Collate examples; adds ``last`` (B,), ``seq_index`` (B, L) and ``n_seqs``."""
        b = self.model.processor.collate(examples)
        ids = b["input_ids"]
        b["last"] = b["attention_mask"].sum(1) - 1
        is_dna = ids == self.model.dna_token_id  # (B, L)
        seq_index = torch.full_like(ids, -1)
        n_seqs = []
        for i, e in enumerate(examples):
            lengths = [self.model.dna_positions(len(d)) for d in e.dna_ids]
            seq_index[i, is_dna[i]] = torch.repeat_interleave(
                torch.arange(len(lengths)), torch.tensor(lengths, dtype=torch.long)
            )
            n_seqs.append(len(lengths))
        b["seq_index"], b["n_seqs"] = seq_index, n_seqs
        return b

    # ---- the decoder -----------------------------------------------------------------------------------------
    def states(self, b: dict) -> torch.Tensor:
        """The base decoder's states after ``config.layer`` layers (B, L, D): what the head reads."""
        return self.states_at(b, [self.config.layer])[self.config.layer]

    def states_at(self, b: dict, layers: list[int]) -> dict[int, torch.Tensor]:
        """The base decoder's states after each of ``layers`` layers (each (B, L, D)), in one pass."""
        h = self.model.embed(b["input_ids"], b.get("dna_input_ids"), b.get("dna_attention_mask"))  # (B, L, D)
        out, done = {}, 0
        with top.active(self.model, None) as dec:
            inner = dec.get_base_model().model
            for n in sorted(set(layers)):
                h = top.run_layers(inner, h, b["attention_mask"], done, n, final_norm=False)
                out[n], done = h, n
        return out

    def logits(self, h: torch.Tensor, b: dict) -> dict:
        return self.head(h, b["attention_mask"], b["last"], b["seq_index"], b["n_seqs"], b.get("kinds"))

    @torch.no_grad()
    def scores(self, messages: list[dict], sequences: list[str]) -> PlanScores:
        """The planner's probabilities for the last user turn of ``messages`` (``<dna>`` placeholders, one per
        sequence, in order)."""
        self.head.eval()
        b = self.batch([self.encode(messages, sequences)])
        b["kinds"] = kind_features(self.kind, sequences)[None]  # (1, 2)
        h = self.states(b)  # (1, L, D): read by every member
        outs = [
            head(h, b["attention_mask"], b["last"], b["seq_index"], b["n_seqs"], b["kinds"])
            for head in (self.head, *self.others)
        ]

        def mean(name: str, prob) -> list[float]:
            return torch.stack([prob(o[name][0]) for o in outs]).mean(0).tolist()

        soft, sig = (lambda x: x.softmax(-1)), torch.sigmoid
        return PlanScores(
            op=dict(zip(self.config.ops, mean("op", soft), strict=True)),
            keys=dict(zip(self.config.keys, mean("keys", sig), strict=True)),
            goal=dict(zip(self.config.goals, mean("goal", soft), strict=True)),
            sequences=mean("seqs", sig),
            groups=dict(zip(self.config.group_names, mean("group", soft), strict=True)),
            group_of=self.config.group_of,
        )


SCALE = ".int8_scale"  # the per-row scales of an int8-stored matrix, stored beside it under this suffix


def _pack(state: dict[str, torch.Tensor], storage: str) -> dict[str, torch.Tensor]:
    """A head's weights as stored: float16, or (``int8``) every matrix as int8 rows with a float32 scale each."""
    out = {}
    for k, v in state.items():
        v = v.detach().float()
        if storage == "int8" and v.ndim >= 2:
            scale = (
                v.abs().amax(dim=tuple(range(1, v.ndim)), keepdim=True).clamp(min=1e-12) / 127
            )  # (R, 1, ..)
            out[k] = (v / scale).round().to(torch.int8).contiguous()
            out[k + SCALE] = scale.contiguous()
        else:
            out[k] = v.to(torch.float16).contiguous()
    return out


def _unpack(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """:func:`_pack` undone, as float32."""
    return {
        k: v.float() * stored[k + SCALE] if k + SCALE in stored else v.float()
        for k, v in stored.items()
        if not k.endswith(SCALE)
    }


def _head_files(members: int) -> list[str]:
    """The files of an ensemble's heads: ``plan_head.safetensors``, then ``plan_head.1.safetensors``, ..."""
    return [HEAD_FILE] + [HEAD_FILE.replace(".safetensors", f".{i}.safetensors") for i in range(1, members)]


def _width(model) -> int:
    return top.peft_decoder(model).get_base_model().config.hidden_size


def plan_losses(out: dict, t: dict) -> torch.Tensor:
    """Training loss of a batch. ``t``: op (B,), group (B,) and goal (B,) class ids (-100 where the turn has no
    number / is not a design), keys (B, K) multi-hot, seqs: per conversation a (S,) 0/1 target (empty where the
    turn names none)."""
    loss = F.cross_entropy(out["op"], t["op"]) + 10 * F.binary_cross_entropy_with_logits(
        out["keys"], t["keys"]
    )
    for name in ("group", "goal"):
        if (t[name] >= 0).any():
            loss = loss + F.cross_entropy(out[name], t[name], ignore_index=-100)
    pairs = [(lg, s) for lg, s in zip(out["seqs"], t["seqs"], strict=True) if len(s) and s.sum() > 0]
    if pairs:
        loss = loss + F.binary_cross_entropy_with_logits(
            torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        )
    return loss


__all__ = [
    "PlanHead",
    "PlanScores",
    "Planner",
    "PlannerConfig",
    "choose_keys",
    "kind_features",
    "plan_losses",
    "task_of",
]

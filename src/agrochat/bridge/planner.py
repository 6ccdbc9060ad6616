"""The decoder's planner: it reads the conversation (text and every sequence as ``<dna>`` embeddings) and plans
the turn.

A LoRA adapter named ``plan`` on the decoder's top ``layers`` layers, and a :class:`PlanHead` on its last states,
give the operation, the key of every number (one logit per key the model knows, so only known keys can come out),
which of the conversation's sequences the turn is about (one logit per sequence, read from its DNA positions) and
a design's direction. The lower layers run the base decoder (no adapter), so training can cache their output once
and train only the top (:mod:`agrochat.train.plan`).

Stored in a checkpoint's ``planner/`` folder: ``planner_config.json``, ``plan_head.safetensors`` and the adapter in
PEFT's layout (``adapter_config.json``, ``adapter_model.safetensors``).
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
from .top_adapter import TopLoraConfig

ADAPTER = "plan"
CONFIG_FILE = "planner_config.json"
HEAD_FILE = "plan_head.safetensors"


@dataclass
class PlannerConfig(TopLoraConfig):
    """The planner of a model: its top-layer adapter (:class:`~agrochat.bridge.top_adapter.TopLoraConfig`) and

    keys: the task keys a plan may name (the model's numeric head keys), in head order.
    ops: the operations a plan may name; goals: a design's directions (both given by the trainer, from
    :mod:`agrochat.domain.operations`).
    hidden: width of the plan head's trunk.
    history_chars: earlier assistant turns are cut to this many characters before the planner reads them.
    """

    keys: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    hidden: int = 256
    history_chars: int = 300

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.keys:
            raise ConfigError("planner.keys is empty: a planner plans numbers for known keys")
        if len(set(self.keys)) != len(self.keys):
            raise ConfigError("planner.keys has duplicates")
        if not self.ops or not self.goals:
            raise ConfigError("planner.ops and planner.goals must name the operations and directions")
        for name in ("hidden", "history_chars"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"planner.{name} must be >= 1, got {getattr(self, name)}")


class PlanHead(nn.Module):
    """Plan logits from the decoder's last-layer states: a few learned queries attend over the conversation for
    the turn's summary (operation, direction), and one learned query per key attends for that key's logit, so a
    key is scored by the words and bases that name it."""

    def __init__(
        self, d_model: int, n_ops: int, n_keys: int, n_goals: int, hidden: int, n_queries: int = 4
    ) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(n_queries, d_model) * d_model**-0.5)  # (Q, D)
        self.key_queries = nn.Parameter(torch.randn(n_keys, d_model) * d_model**-0.5)  # (K, D)
        self.norm = nn.LayerNorm(d_model)
        self.trunk = nn.Sequential(
            nn.Linear((2 + n_queries) * d_model, hidden), nn.GELU(), nn.LayerNorm(hidden)
        )
        self.op = nn.Linear(hidden, n_ops)
        self.key_w = nn.Parameter(torch.zeros(n_keys, d_model))  # (K, D): each key's read of its pooled state
        self.key_z = nn.Linear(hidden, n_keys)
        self.goal = nn.Linear(hidden, n_goals)
        self.seq = nn.Sequential(nn.Linear(d_model + hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))

    @staticmethod
    def _attend(h: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each query's attention-pooled state: h (B, L, D), q (N, D), mask (B, L) -> (B, N, D)."""
        scores = torch.einsum("bld,nd->bnl", h, q) / h.shape[-1] ** 0.5  # (B, N, L)
        scores = scores.masked_fill(~mask.bool()[:, None, :], float("-inf"))
        return torch.einsum("bnl,bld->bnd", scores.softmax(-1), h)

    def forward(
        self,
        h: torch.Tensor,
        mask: torch.Tensor,
        last: torch.Tensor,
        seq_index: torch.Tensor,
        n_seqs: list[int],
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """h (B, L, D); mask (B, L) text+DNA positions; last (B,) index of the last prompt token; seq_index (B, L)
        the sequence each DNA position belongs to (-1 elsewhere); n_seqs: sequences per conversation."""
        B = h.shape[0]
        h = self.norm(h)
        m = mask.float().unsqueeze(-1)  # (B, L, 1)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1)  # (B, D)
        pooled = self._attend(h, self.queries, mask).flatten(1)  # (B, Q*D)
        z = self.trunk(torch.cat([h[torch.arange(B), last], mean, pooled], -1))  # (B, H)
        per_key = self._attend(h, self.key_queries, mask)  # (B, K, D)
        keys = (per_key * self.key_w).sum(-1) + self.key_z(z)  # (B, K)
        seq_logits = []
        for b in range(B):
            if not n_seqs[b]:
                seq_logits.append(h.new_zeros(0))
                continue
            onehot = (
                F.one_hot(seq_index[b].clamp(min=0), n_seqs[b]).float() * (seq_index[b] >= 0).float()[:, None]
            )
            pooled_s = onehot.T @ h[b] / onehot.sum(0).clamp(min=1)[:, None]  # (S, D)
            seq_logits.append(
                self.seq(torch.cat([pooled_s, z[b].expand(n_seqs[b], -1)], -1)).squeeze(-1)
            )  # (S,)
        return {"op": self.op(z), "keys": keys, "goal": self.goal(z), "seqs": seq_logits}


@dataclass(frozen=True)
class PlanScores:
    """The planner's probabilities for one turn."""

    op: dict[str, float]
    keys: dict[str, float]
    goal: dict[str, float]
    sequences: list[float]


class Planner:
    """The decoder (with its ``plan`` adapter) and a :class:`PlanHead`, over a model's processor."""

    def __init__(self, model, head: PlanHead, config: PlannerConfig, adapter: bool = True) -> None:
        self.model = model
        self.head = head
        self.config = config
        self.adapter = adapter  # False: the base decoder's states (for measuring what the adapter adds)
        self.key_index = {k: i for i, k in enumerate(config.keys)}

    def without_adapter(self) -> Planner:
        """The same head on the base decoder (every adapter off)."""
        return Planner(self.model, self.head, self.config, adapter=False)

    # ---- construction ----------------------------------------------------------------------------------------
    @classmethod
    def build(cls, model, config: PlannerConfig) -> Planner:
        """Add a fresh ``plan`` adapter to ``model``'s decoder (a PEFT model) and a fresh head."""
        top.add(model, ADAPTER, config)
        d = top.peft_decoder(model).get_base_model().config.hidden_size
        return cls(model, _head(d, config).eval(), config)

    @classmethod
    def from_pretrained(cls, path: str | Path, model) -> Planner:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / CONFIG_FILE).is_file():
            raise CheckpointError(f"{path} has no {CONFIG_FILE}")
        config = PlannerConfig(**json.loads((path / CONFIG_FILE).read_text()))
        top.load(model, ADAPTER, path)
        d = top.peft_decoder(model).get_base_model().config.hidden_size
        head = _head(d, config)
        head.load_state_dict(load_file(str(path / HEAD_FILE)))
        return cls(model, head.eval(), config)

    def save_pretrained(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        top.save(self.model, ADAPTER, path)
        save_file({k: v.contiguous() for k, v in self.head.state_dict().items()}, str(path / HEAD_FILE))
        (path / CONFIG_FILE).write_text(json.dumps(asdict(self.config), indent=1))

    # ---- inputs ----------------------------------------------------------------------------------------------
    def conversation(self, messages: list[dict]) -> list[dict]:
        """The conversation as the planner reads it: user turns whole, assistant turns cut short."""
        out = []
        for m in messages:
            text = str(m.get("content") or "")
            if m.get("role") == "assistant":
                text = text[: self.config.history_chars]
            if m.get("role") in ("user", "assistant"):
                out.append({"role": m["role"], "content": text})
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
    def _adapter(self) -> str | None:
        return ADAPTER if self.adapter else None

    def states(self, b: dict) -> torch.Tensor:
        """Last-layer decoder states (B, L, D) with the plan adapter."""
        embeds = self.model.embed(
            b["input_ids"], b.get("dna_input_ids"), b.get("dna_attention_mask")
        )  # (B, L, D)
        with top.active(self.model, self._adapter()) as dec:
            out = dec.get_base_model().model(
                inputs_embeds=embeds, attention_mask=b["attention_mask"], use_cache=False
            )
        return out.last_hidden_state

    def lower_states(self, b: dict) -> torch.Tensor:
        """Input of the first adapted layer (B, L, D): the base decoder's lower layers."""
        embeds = self.model.embed(b["input_ids"], b.get("dna_input_ids"), b.get("dna_attention_mask"))
        return top.lower_states(self.model, self._adapter(), self.config.layers, embeds, b["attention_mask"])

    def upper_states(self, h: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The adapted top layers and the final norm on cached :meth:`lower_states` (B, L, D)."""
        return top.upper_states(self.model, self._adapter(), self.config.layers, h, attention_mask)

    def logits(self, h: torch.Tensor, b: dict) -> dict:
        return self.head(h, b["attention_mask"], b["last"], b["seq_index"], b["n_seqs"])

    @torch.no_grad()
    def scores(self, messages: list[dict], sequences: list[str]) -> PlanScores:
        """The planner's probabilities for the last user turn of ``messages`` (``<dna>`` placeholders, one per
        sequence, in order)."""
        self.head.eval()
        b = self.batch([self.encode(messages, sequences)])
        out = self.logits(self.states(b), b)
        op = out["op"][0].softmax(-1).tolist()
        keys = out["keys"][0].sigmoid().tolist()
        goal = out["goal"][0].softmax(-1).tolist()
        return PlanScores(
            op=dict(zip(self.config.ops, op, strict=True)),
            keys=dict(zip(self.config.keys, keys, strict=True)),
            goal=dict(zip(self.config.goals, goal, strict=True)),
            sequences=out["seqs"][0].sigmoid().tolist(),
        )


def _head(d_model: int, config: PlannerConfig) -> PlanHead:
    return PlanHead(d_model, len(config.ops), len(config.keys), len(config.goals), config.hidden)


def plan_losses(
    out: dict, op: torch.Tensor, keys: torch.Tensor, goal: torch.Tensor, seqs: list[torch.Tensor]
):
    """Training loss of a batch: op (B,) and goal (B,) class ids (goal -100 where not a design), keys (B, K)
    multi-hot, seqs: per conversation a (S,) 0/1 target (empty where the turn names none)."""
    loss = F.cross_entropy(out["op"], op) + F.binary_cross_entropy_with_logits(
        out["keys"], keys, pos_weight=keys.new_full((keys.shape[1],), 3.0)
    )  # few keys are named per turn: weigh them up
    if (goal >= 0).any():
        loss = loss + F.cross_entropy(out["goal"], goal, ignore_index=-100)
    pairs = [(lg, t) for lg, t in zip(out["seqs"], seqs, strict=True) if len(t) and t.sum() > 0]
    if pairs:
        loss = loss + F.binary_cross_entropy_with_logits(
            torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        )
    return loss


__all__ = ["PlanHead", "PlanScores", "Planner", "PlannerConfig", "plan_losses"]

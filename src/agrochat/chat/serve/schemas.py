"""Request bodies. Chat requests accept the OpenAI fields a client may send (extra ones are ignored); the
agrochat endpoints reject unknown fields so a typo is an error, not a silent default."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=1, ge=1, le=1, description="only one choice per request")


class SequenceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=200)
    sequence: str


class PredictRequest(BaseModel):
    """Give ``sequences`` (strings, or ``{"id", "sequence"}`` records) or ``fasta`` (the text of a FASTA file).
    ``task`` may be a full key (``promoter_strength/leaf``); then ``tissue`` is ignored."""

    model_config = ConfigDict(extra="forbid")
    sequences: list[str | SequenceRecord] | None = None
    fasta: str | None = None
    task: str = "promoter_strength"
    tissue: str | None = "leaf"
    explanations: bool = True


class ExplainRequest(BaseModel):
    """The explanation of one sequence (regions, attribution); ``plot``: include the attribution logo PNG (base64)."""

    model_config = ConfigDict(extra="forbid")
    sequence: str
    task: str = "promoter_strength"
    tissue: str | None = "leaf"
    plot: bool = True
    heatmap: bool = False  # also the 4 x L substitution heat map (PNG, base64)

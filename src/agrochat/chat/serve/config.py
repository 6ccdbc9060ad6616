"""Server settings: request limits and the model queue, checked when built."""

from __future__ import annotations

from dataclasses import dataclass

from agrochat.errors import ConfigError


@dataclass(frozen=True)
class ServeConfig:
    """Limits of one ``agrochat serve`` process. Every request over a limit gets a 4xx JSON error."""

    model_id: str = "agrochat"  # the name /v1/models lists and chat requests must use
    max_body_bytes: int = 2_000_000  # a request body above this: 413
    max_sequences: int = 256  # sequences (or FASTA records) per /v1/predict request
    max_sequence_length: int = 1000  # bases per sequence (predict, explain, and DNA pasted into chat)
    max_messages: int = 64  # messages per chat request
    max_message_chars: int = 20_000  # characters per chat message
    max_new_tokens: int = 128  # cap on a chat request's max_tokens
    default_max_new_tokens: int = 64  # when a chat request sets no max_tokens
    queue_size: int = 16  # model jobs waiting behind the running one; more: 503 with Retry-After
    batch_wait_ms: float = 5.0  # /v1/predict: how long a gathered batch waits for more requests to join it
    # (after the first request with the model idle; after the running batch ends otherwise)
    max_batch: int = 256  # /v1/predict: sequences per model batch (a batch this full runs at once)
    max_queued_sequences: int = 4096  # /v1/predict: sequences waiting or running; more: 503 with Retry-After
    retry_after_s: int = 2  # the Retry-After a 503 carries
    api_key: str | None = (
        None  # when set, every /v1/ request needs Authorization: Bearer <api_key> (else 401)
    )

    def __post_init__(self) -> None:
        if not self.model_id or not self.model_id.strip():
            raise ConfigError("model_id must be a non-empty name")
        for name in (
            "max_body_bytes",
            "max_sequences",
            "max_sequence_length",
            "max_messages",
            "max_message_chars",
            "max_new_tokens",
            "default_max_new_tokens",
            "retry_after_s",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.api_key is not None and (len(self.api_key) < 8 or any(c.isspace() for c in self.api_key)):
            raise ConfigError("api_key must be at least 8 characters without spaces")
        if self.batch_wait_ms < 0 or self.max_batch < 1 or self.max_queued_sequences < self.max_sequences:
            raise ConfigError(
                "batch_wait_ms must be >= 0, max_batch >= 1 and max_queued_sequences >= max_sequences"
            )
        if self.queue_size < 0:
            raise ConfigError(f"queue_size must be 0 or more, not {self.queue_size}")
        if self.default_max_new_tokens > self.max_new_tokens:
            raise ConfigError("default_max_new_tokens must not exceed max_new_tokens")

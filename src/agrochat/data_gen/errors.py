"""Errors and the bad-row log shared by all readers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from agrochat.errors import ConfigError, InputError, ResourceNotFoundError

ON_BAD_CHOICES = ("error", "skip")


class BadInputError(InputError):
    """A source file is malformed. The message names the file and the 1-based line number."""

    def __init__(self, path: str | Path, line: int | None, reason: str):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class MissingSourceError(ResourceNotFoundError):
    """A required source file is absent from the data directory."""


class NoSplitRowsError(InputError):
    """A task key asked for has no rows in the split asked for (its dataset has no such split)."""


@dataclass
class BadRowLog:
    """Collects rows skipped under ``on_bad="skip"``.

    Attributes:
        on_bad: ``"error"`` raises :class:`BadInputError` at the first bad row; ``"skip"`` counts and goes on.
        counts: skipped rows per ``(file name, reason)``.
        examples: the first few ``file:line: reason`` strings, for the summary.
        max_examples: how many examples to keep.
    """

    on_bad: str = "error"
    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 20

    def __post_init__(self) -> None:
        if self.on_bad not in ON_BAD_CHOICES:
            raise ConfigError(f"on_bad must be one of {ON_BAD_CHOICES}, got {self.on_bad!r}")
        if self.max_examples < 0:
            raise ConfigError("max_examples must be >= 0")

    def bad(self, path: str | Path, line: int | None, reason: str) -> None:
        """Report a bad row: raise, or record it and return so the caller skips the row."""
        err = BadInputError(path, line, reason)
        if self.on_bad == "error":
            raise err
        self.counts[(Path(path).name, reason.split(":")[0])] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(err))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

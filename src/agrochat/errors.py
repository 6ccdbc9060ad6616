"""Errors a user can cause, all derived from :class:`AgrochatError`.

Front ends (the CLI, the REPL, the LangChain tool, the server) catch :class:`AgrochatError` only and show its
one-line message; any other exception is a bug and keeps its traceback. The subclasses also derive from the
built-in exception they refine (``ValueError``, ``KeyError``, ...), so ``except ValueError`` keeps working.
Module-specific subclasses live beside their code (``DnaSequenceError`` in ``bridge/tokenizer.py``,
``VariantError`` in ``chat/variants.py``, ``BadInputError`` in ``data_gen/errors.py``, ...)."""

from __future__ import annotations


class AgrochatError(Exception):
    """Something the user can fix: the message is one line that says what and where."""


class InputError(AgrochatError, ValueError):
    """A value given by the user (a sequence, a question, an option) cannot be used."""


class ConfigError(AgrochatError, ValueError):
    """A config value is missing, of the wrong type, or names an unknown component type."""


class UnknownTaskError(AgrochatError, KeyError):
    """A task key, task or tissue is not known. The message lists what is known."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown task"


class ResourceNotFoundError(AgrochatError, FileNotFoundError):
    """A file or directory the user pointed to (or a resource it needs) does not exist."""


class CheckpointError(AgrochatError, RuntimeError):
    """A model directory or checkpoint is incomplete, of another version, or does not match its config."""

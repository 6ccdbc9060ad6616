"""The one base class of every error a user can cause (bad sequences, unknown tasks, bad configs, missing
files). Front ends (CLI, REPL, LangChain tool, server) catch :class:`AgrochatError` only, so any other exception
is a bug and keeps its traceback."""

from __future__ import annotations


class AgrochatError(Exception):
    """Something the user can fix: the message is one line that says what and where."""


class UnknownTaskError(AgrochatError, KeyError):
    """A task key, task or tissue is not in the registry. The message lists what is known."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "unknown task"

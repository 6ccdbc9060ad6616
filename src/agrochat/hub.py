"""Where a pretrained checkpoint comes from: a local folder, the Hugging Face cache, or the hub, decided in seconds.

``transformers`` retries an unreachable hub for about a minute per file before it fails with a long traceback;
a run that loads an encoder, its tokenizer and a decoder waited minutes for that. :func:`resolve` answers first:
a local folder is used as it is; a hub id already in the Hugging Face cache is used from the cache (no network);
otherwise the hub is probed once (a few seconds) and, when it cannot be reached, a one-line
:class:`~agrochat.errors.ResourceNotFoundError` names what is missing, where it was looked for, and the option
that takes a local copy. Leaf module: imports nothing of agrochat but its errors.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

from agrochat.errors import ResourceNotFoundError

PROBE_TIMEOUT_S = 5.0
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=4)
def reachable(url: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the hub answers at all within about ``timeout`` seconds (any HTTP status counts as an answer),
    probed once per process. The probe runs in a daemon thread, so a hanging name lookup cannot stall the
    caller."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(url or endpoint(), timeout=timeout).close()  # noqa: S310 - the hub endpoint
            answer.append(True)
        except urllib.error.HTTPError:
            answer.append(True)
        except Exception:  # no route, no name lookup, timeout, malformed address
            answer.append(False)

    thread = threading.Thread(target=probe, name="agrochat-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(answer) and answer[0]


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _cached_snapshot(repo_id: str, repo_type: str) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, repo_type=repo_type, local_files_only=True)
    except Exception:  # not cached (LocalEntryNotFoundError, a malformed id, ...)
        return None


def _looks_local(name: str) -> bool:
    """Not of the form of a hub id (``name`` or ``org/name``)."""
    return not HUB_ID.fullmatch(name)


def resolve(name_or_path: str, option: str, repo_type: str = "model") -> str:
    """A local folder for ``name_or_path`` (a folder, or a cached hub snapshot), or the hub id itself when the hub
    can be reached; else a one-line error. ``option``: the config field or flag that takes a local copy, named
    in the message (``model.encoder.name_or_path``)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    if _looks_local(name_or_path) or path.exists():
        raise ResourceNotFoundError(f"{option}={name_or_path}: no such folder")
    cached = _cached_snapshot(name_or_path, repo_type)
    if cached is not None:
        return cached
    if not offline() and reachable():
        return name_or_path
    why = "HF_HUB_OFFLINE is set" if offline() else f"{endpoint()} cannot be reached"
    raise ResourceNotFoundError(
        f"{name_or_path} is not in the Hugging Face cache ({cache_dir()}) and {why}; download it where there is "
        f"network (hf download {name_or_path}"
        + (" --repo-type dataset" if repo_type == "dataset" else "")
        + f" --local-dir DIR) and set {option}=DIR"
    )

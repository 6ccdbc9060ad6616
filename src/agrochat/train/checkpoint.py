"""Training checkpoints: model (``save_pretrained`` layout), optimizer, scheduler, sampler and RNG state.

Everything is safetensors or JSON (no pickles). Each checkpoint is written into a temporary directory and renamed
into place, so a half-written one never has the final name and is never picked up by ``--resume``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from safetensors.torch import load_model as load_model_part
from safetensors.torch import save_model as save_model_part

STATE_FILE = "trainer_state.json"


def optimizer_to_safetensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into tensors (safetensors) and JSON metadata."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{name}"] = value.detach().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_safetensors(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    for pid, st in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(st)
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    np_state = np.random.get_state()
    tensors = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64))}
    meta = {
        "python": _jsonable(random.getstate()),
        "numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    n = meta["numpy"]
    np.random.set_state((n[0], tensors["numpy_keys"].numpy().astype(np.uint32), n[1], n[2], n[3]))
    random.setstate(_tupled(meta["python"]))


def _jsonable(x):
    return [_jsonable(v) for v in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x


def write_checkpoint(root: Path, name: str, write_fn, keep_last: int) -> Path:
    """Create ``root/name`` atomically: ``write_fn(tmp_dir)`` fills a temp dir that is then renamed."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        write_fn(tmp)
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        tmp.chmod(0o755)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def save_tensors_atomic(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """``save_file`` into a temp file renamed over ``path``: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temp dirs and dirs without a state file are ignored)."""
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.name.startswith("step-") and (p / STATE_FILE).is_file()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def save_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2))


def load_json(path: Path):
    return json.loads(path.read_text())


__all__ = [
    "STATE_FILE",
    "list_checkpoints",
    "load_file",
    "load_json",
    "load_model_part",
    "save_model_part",
    "optimizer_from_safetensors",
    "optimizer_to_safetensors",
    "rng_state",
    "save_file",
    "save_json",
    "save_tensors_atomic",
    "set_rng_state",
    "write_checkpoint",
]

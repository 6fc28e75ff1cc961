"""Training checkpoints: atomic writes, the newest K kept, safe loading.

A checkpoint holds everything needed to continue exactly: model, optimizer, scheduler, gradient
scaler, step, epoch, batches done in the epoch, RNG states, the MLflow run id, and what model it
is (method and backbone ``_target_``) so a mismatched resume is refused with a clear message.
Files load with ``torch.load(weights_only=True)``: no pickled code runs.
"""
from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from prism_runner.errors import UserError

PATTERN = re.compile(r"^step_(\d+)\.pt$")


def rng_state() -> Dict[str, Any]:
    """Python, NumPy and torch RNG states in a form ``weights_only`` loading accepts."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the old file or the new one, never a torn file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CheckpointManager:
    """Numbered checkpoints ``step_00000100.pt`` in one folder, the newest ``keep`` retained."""

    def __init__(self, folder: Path, keep: int = 2):
        self.folder = Path(folder)
        self.keep = max(1, int(keep))

    def list(self) -> List[Path]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir()
                 if (m := PATTERN.match(p.name))]
        return [p for _, p in sorted(found)]

    def latest(self) -> Optional[Path]:
        files = self.list()
        return files[-1] if files else None

    def save(self, state: Dict[str, Any], step: int) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step_{step:08d}.pt"
        atomic_save(state, path)
        for old in self.list()[:-self.keep]:
            old.unlink(missing_ok=True)
        for torn in self.folder.glob(".step_*.tmp-*"):  # left by a process killed mid-write
            torn.unlink(missing_ok=True)
        return path


def load_checkpoint(path: Path) -> Dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a torn or foreign file: say which and why
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot load checkpoint {path}: {first}; start fresh with "
                        "trainer.resume=never or point trainer.resume at another checkpoint") from None


def check_compatible(state: Dict[str, Any], identity: Dict[str, str], path: Path) -> None:
    """Refuse a checkpoint made by a different method or backbone."""
    saved = state.get("identity", {})
    for key, expected in identity.items():
        if saved.get(key) != expected:
            raise UserError(
                f"checkpoint {path} holds {key} {saved.get(key)!r}, but this run builds "
                f"{expected!r}; resume it with the config it was trained with, or start fresh "
                "with trainer.resume=never")

"""Helpers for the scale tests (sweeps, launchers, shared recipes, reruns).

A plain module (not conftest.py) so its names never clash with tests/conftest.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[2]

# A run that takes seconds: 2 steps, tiny CNN, one thread, no tracking. NO_EVAL skips the probe
# (the score is then -loss), EVAL keeps a small one.
FAST = ["trainer.max_steps=2", "tracking=none", "trainer.progress=false", "data.batch_size=64",
        "backbone.width=8", "trainer.num_threads=1"]
NO_EVAL = ["~eval"]
EVAL = ["eval.baseline=false", "eval.max_iter=50", "eval.knn_k=5"]


def run_module(module: str, args: List[str], cwd: Path, env: Optional[dict] = None,
               timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PRISM_OUTPUT_DIR": str(cwd / "outputs"),
                "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    if "PRISM_RECIPES" not in (env or {}):
        full_env.pop("PRISM_RECIPES", None)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def check(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


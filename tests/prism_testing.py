"""Shared test helpers: compose configs like the CLI does, and run the CLI in a subprocess.

A plain module (not conftest.py) so that `from prism_testing import ...` never clashes with
another folder's conftest."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional


REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def compose(overrides: List[str], run_dir: Optional[Path] = None):
    """The config ``python -m prism_runner OVERRIDES`` would run (``run_dir`` set for tests)."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from omegaconf import open_dict

    import prism_runner  # noqa: F401  (resolvers)

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    if run_dir is not None:
        with open_dict(cfg):
            cfg.run_dir = str(run_dir)
    return cfg


def run_cli(args: List[str], cwd: Path, env: Optional[dict] = None, timeout: int = 600):
    """``python -m prism_runner ARGS`` in ``cwd``; returns the CompletedProcess."""
    full_env = {**os.environ, "PRISM_OUTPUT_DIR": str(cwd / "outputs"), **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "prism_runner", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


# Small, fast settings for end-to-end tests on the bundled digits.
TINY = ["tracking=none", "trainer.progress=false", "data.batch_size=64", "eval.baseline=false",
        "eval.max_iter=200"]


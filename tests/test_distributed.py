"""Data-parallel training on 2 CPU processes (gloo) follows the 1-process loss curve at the
same global batch: data is sharded, NT-Xent gathers negatives across processes, and only the
main process writes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prism_testing import run_cli

ARGS = ["tracking=none", "trainer.progress=false", "eval=none", "trainer.max_steps=6",
        "trainer.log_every=1", "data.batch_size=64"]


def _losses(run_dir: Path):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row]


def test_two_processes_match_one_process(tmp_path):
    one = run_cli(ARGS + ["hydra.run.dir=one"], cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-2000:]
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "PRISM_OUTPUT_DIR": str(tmp_path / "out")}
    two = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--mixed_precision", "no",
                          "--dynamo_backend", "no", "-m", "prism_runner", *ARGS,
                          "hydra.run.dir=two"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert two.returncode == 0, (two.stdout + two.stderr)[-3000:]
    assert "training SimCLR for 6 steps" in two.stdout
    single, parallel = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(single) == len(parallel) == 6
    # Batch-norm statistics are per process, so the curves agree closely, not bit for bit.
    for a, b in zip(single, parallel):
        assert b == pytest.approx(a, rel=0.03)
    # One writer: a single set of checkpoints and one summary.
    assert len(list((tmp_path / "two" / "checkpoints").glob("step_*.pt"))) >= 1
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["steps"] == 6

"""Interruptions lose nothing: SIGTERM (preemption) checkpoints and exits cleanly, the resumed
run continues the same MLflow run, and a SIGKILL in the middle of a checkpoint write leaves the
previous checkpoint loadable and resumes to the same weights as an uninterrupted run."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from prism_testing import run_cli

HERE = Path(__file__).parent
ARGS = ["trainer.progress=false", "data.batch_size=64", "eval=none", "trainer.max_steps=30",
        "trainer.checkpoint_every=2", "trainer.keep_checkpoints=3"]


def _env(tmp_path, **extra):
    return {**os.environ, "PRISM_OUTPUT_DIR": str(tmp_path / "outputs"),
            "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


def _wait_for(path: Path, proc, seconds=300):
    deadline = time.time() + seconds
    while not path.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert path.exists(), "the run never wrote its first checkpoint"


def test_sigterm_checkpoints_and_resume_continues_the_mlflow_run(tmp_path):
    args = ARGS + ["hydra.run.dir=run"]
    proc = subprocess.Popen([sys.executable, "-m", "prism_runner", *args], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    _wait_for(tmp_path / "run" / "checkpoints" / "step_00000002.pt", proc)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 143, output[-2000:]
    assert "SIGTERM" in output and "hydra.run.dir=" in output
    resumed = run_cli(args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "outputs" / "mlflow.db")
    runs = db.execute("select run_uuid, status from runs").fetchall()
    assert len(runs) == 1 and runs[0][1] == "FINISHED", runs
    steps = [s for (s,) in db.execute("select distinct step from metrics where key='loss'")]
    assert max(steps) == 30


def test_sigkill_during_checkpoint_write_loses_nothing(tmp_path):
    straight = run_cli(ARGS + ["tracking=none", "hydra.run.dir=straight"], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-2000:]

    killed = subprocess.run([sys.executable, str(HERE / "kill_during_save.py"), *ARGS,
                             "tracking=none", "hydra.run.dir=killed"], cwd=tmp_path,
                            env=_env(tmp_path, KILL_AT_SAVE="3"), capture_output=True,
                            text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL
    folder = tmp_path / "killed" / "checkpoints"
    assert sorted(p.name for p in folder.glob("step_*.pt")) == ["step_00000002.pt",
                                                                "step_00000004.pt"]
    torch.load(folder / "step_00000004.pt", weights_only=True)  # the previous one is intact

    resumed = run_cli(ARGS + ["tracking=none", "hydra.run.dir=killed"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout and "step_00000004.pt" in resumed.stdout
    assert not list(folder.glob(".step_*"))  # the torn temporary file was cleaned up
    a = load_file(str(tmp_path / "straight" / "backbone.safetensors"))
    b = load_file(str(tmp_path / "killed" / "backbone.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)

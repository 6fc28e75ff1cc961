"""Resume: an interrupted run, resumed, ends with exactly the weights of an uninterrupted one."""
import shutil
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from prism_testing import REPO, compose, run_cli

COMMON = ["tracking=none", "trainer.progress=false", "data.batch_size=64", "eval=none",
          "trainer.checkpoint_every=2", "trainer.keep_checkpoints=50"]


def _same_weights(dir_a, dir_b):
    a = load_file(str(dir_a / "backbone.safetensors"))
    b = load_file(str(dir_b / "backbone.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_sigint_checkpoints_and_resume_matches_straight_run(tmp_path):
    args = COMMON + ["trainer.max_steps=40"]
    straight = run_cli(args + ["hydra.run.dir=straight"], cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-2000:]

    env = {"PRISM_OUTPUT_DIR": str(tmp_path / "outputs"), "PATH": "/usr/bin:/bin",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "prism_runner", *args,
                             "hydra.run.dir=interrupted"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = tmp_path / "interrupted" / "checkpoints" / "step_00000002.pt"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, output[-2000:]
    assert "hydra.run.dir=" in output and "Traceback" not in output
    saved = sorted((tmp_path / "interrupted" / "checkpoints").glob("step_*.pt"))
    assert saved and saved[-1].name != "step_00000040.pt"

    resumed = run_cli(args + ["hydra.run.dir=interrupted"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout
    _same_weights(tmp_path / "straight", tmp_path / "interrupted")


def test_resume_from_mid_run_checkpoint_restores_everything(tmp_path):
    """Optimizer, scheduler, RNG and data position all come back: same final weights."""
    from prism_runner.app import run

    args = COMMON + ["trainer.max_steps=8"]
    run(compose(args, run_dir=tmp_path / "a"))
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "checkpoints" / "step_00000004.pt", tmp_path / "b" / "checkpoints")
    run(compose(args, run_dir=tmp_path / "b"))
    _same_weights(tmp_path / "a", tmp_path / "b")


def test_checkpoint_from_another_backbone_is_refused(tmp_path):
    from prism_runner.app import run
    from prism_runner.errors import UserError
    import pytest

    run(compose(COMMON + ["trainer.max_steps=2"], run_dir=tmp_path / "a"))
    with pytest.raises(UserError, match="holds backbone"):
        run(compose(COMMON + ["trainer.max_steps=4", "backbone=resnet18_cifar"],
                    run_dir=tmp_path / "a"))

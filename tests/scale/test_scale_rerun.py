"""python -m prism_runner.rerun RUN_DIR reproduces a run's losses in a fresh folder."""
from __future__ import annotations

import json

import pytest

from scale_helpers import FAST, NO_EVAL, check, run_module


def test_rerun_reproduces_final_loss(tmp_path):
    check(run_module("prism_runner", [*FAST, *NO_EVAL, "trainer.log_every=1"], tmp_path))
    (original,) = (tmp_path / "outputs" / "runs" / "default").iterdir()
    new_dir = tmp_path / "again"
    proc = check(run_module("prism_runner.rerun", [str(original), "--run-dir", str(new_dir)],
                            tmp_path))
    assert f"into {new_dir}" in proc.stdout
    first = json.loads((original / "summary.json").read_text())
    second = json.loads((new_dir / "summary.json").read_text())
    assert second["run_dir"] == str(new_dir) and second["steps"] == first["steps"] == 2
    assert second["final_loss"] == pytest.approx(first["final_loss"], rel=0, abs=1e-6)
    # a second rerun into the same folder is refused (it would resume or mix runs)
    refused = run_module("prism_runner.rerun", [str(original), "--run-dir", str(new_dir)],
                         tmp_path)
    assert refused.returncode != 0 and "already holds a run" in refused.stderr


def test_apply_overrides():
    from omegaconf import OmegaConf

    from prism_runner.rerun import apply_overrides

    cfg = OmegaConf.create({"optim": {"lr": 0.1}, "eval": {"k": 1}, "seed": 0})
    apply_overrides(cfg, ["optim.lr=0.5", "+extra.x=1", "~eval", "seed=2"])
    assert cfg == OmegaConf.create({"optim": {"lr": 0.5}, "seed": 2, "extra": {"x": 1}})
    with pytest.raises(SystemExit, match="not in the run's config"):
        apply_overrides(cfg, ["nope=1"])
    with pytest.raises(SystemExit, match="single values"):
        apply_overrides(cfg, ["seed=1,2"])

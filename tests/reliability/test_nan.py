"""A NaN loss stops the run with the step and the terms (keeping the last good checkpoint), or,
with trainer.nan_policy=skip_batch, the batch is dropped and training goes on."""
import json

import pytest
import torch

from prism_testing import compose
from prism_runner.app import run
from prism_runner.errors import UserError

BASE = ["tracking=none", "trainer.progress=false", "data.batch_size=64", "eval=none",
        "method._target_=nan_method.NaNAtCalls", "trainer.max_steps=8",
        "trainer.checkpoint_every=2", "trainer.log_every=4", "trainer.keep_checkpoints=10"]


def test_nan_stops_with_step_terms_and_keeps_good_checkpoints(tmp_path):
    cfg = compose(BASE + ["+method.nan_calls=[5]"], run_dir=tmp_path)
    with pytest.raises(UserError, match=r"non-finite loss at step \d.*loss=nan.*optim.lr"):
        run(cfg)
    saved = sorted((tmp_path / "checkpoints").glob("step_*.pt"))
    assert [p.name for p in saved] == ["step_00000002.pt", "step_00000004.pt"]
    state = torch.load(saved[-1], weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_skip_batch_drops_the_bad_batch_and_finishes(tmp_path):
    cfg = compose(BASE + ["+method.nan_calls=[3,6]", "trainer.nan_policy=skip_batch"],
                  run_dir=tmp_path)
    score = run(cfg)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 8 and score == score  # finite, not NaN
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("skipped_batches", 0) for r in rows) == 2


def test_skip_batch_gives_up_after_the_limit(tmp_path):
    cfg = compose(BASE + ["+method.nan_calls=[1,2,3]", "trainer.nan_policy=skip_batch",
                          "trainer.max_skipped_batches=2"], run_dir=tmp_path)
    with pytest.raises(UserError, match="non-finite loss"):
        run(cfg)

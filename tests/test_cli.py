"""The command line end to end, and the one-line errors users get for common mistakes."""
import json
import sqlite3

import numpy as np

from prism_testing import TINY, run_cli


def test_tiny_run_end_to_end_with_mlflow(tmp_path):
    result = run_cli(["trainer.max_steps=3", "trainer.checkpoint_every=2", "trainer.log_every=1",
                      "data.batch_size=64", "eval.max_iter=200", "hydra.run.dir=run"],
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = tmp_path / "run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["metric"] == "probe_acc"
    assert 0 < summary["epochs"] < 1              # epochs trained: 3 steps of a longer epoch
    assert 0.0 < summary["score"] <= 1.0 and summary["baseline_score"] is not None
    assert summary["mlflow_run_id"] and summary["checkpoint"].endswith("step_00000003.pt")
    assert (run_dir / "backbone.safetensors").is_file()
    assert (run_dir / "config.yaml").is_file() and (run_dir / "environment.json").is_file()
    assert "probe_acc" in result.stdout and str(run_dir / "summary.json") in result.stdout
    # The run is in the stable MLflow store, with params, tags, metrics and artifacts.
    db = sqlite3.connect(tmp_path / "outputs" / "mlflow.db")
    run_id = summary["mlflow_run_id"]
    params = dict(db.execute("select key, value from params where run_uuid=?", (run_id,)))
    tags = dict(db.execute("select key, value from tags where run_uuid=?", (run_id,)))
    metrics = {k for (k,) in db.execute("select distinct key from metrics where run_uuid=?", (run_id,))}
    status = db.execute("select status from runs where run_uuid=?", (run_id,)).fetchone()[0]
    assert params["method._target_"] == "prism_runner.methods.simclr.SimCLR"
    assert params["trainer.max_steps"] == "3"
    assert "git_commit" in tags and "version.torch" in tags and tags["recipe"] == "default"
    assert {"loss", "lr", "samples_per_s", "eval/probe_acc", "score"} <= metrics
    assert status == "FINISHED"
    artifacts = list((tmp_path / "outputs" / "mlartifacts").rglob("*"))
    names = {p.name for p in artifacts}
    assert {"config.yaml", "summary.json", "backbone.safetensors"} <= names


def _error(result):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr


def test_unknown_option_lists_available(tmp_path):
    err = _error(run_cli(["method=nope"], cwd=tmp_path))
    assert "nope" in err and "simclr" in err


def test_unknown_recipe_lists_available(tmp_path):
    err = _error(run_cli(["+recipe=nope"], cwd=tmp_path))
    assert "nope" in err and "simclr" in err


def test_missing_required_value_names_key_and_example(tmp_path):
    err = _error(run_cli(["data=image_folder", *TINY], cwd=tmp_path))
    assert "data.root" in err and "data.root=" in err


def test_missing_data_path(tmp_path):
    err = _error(run_cli(["data=image_folder", "data.root=/no/such/folder", *TINY], cwd=tmp_path))
    assert "/no/such/folder" in err and "does not exist" in err


def test_empty_image_folder(tmp_path):
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    err = _error(run_cli(["data=image_folder", f"data.root={tmp_path / 'imgs'}", *TINY],
                         cwd=tmp_path))
    assert "no images found" in err


def test_undecodable_image_is_named(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / cls / f"{i}.png")
    good = (folder / "a" / "0.png").read_bytes()
    (folder / "b" / "broken.png").write_bytes(good[: len(good) // 2])
    err = _error(run_cli(["data=image_folder", f"data.root={folder}", *TINY], cwd=tmp_path))
    assert "broken.png" in err and "on_error=skip" in err


def test_bad_tracking_uri(tmp_path):
    """The store opens in the background while data is built, but a bad one still stops the run
    before its first step."""
    result = run_cli(["trainer.max_steps=1", "tracking.uri=nosuchscheme://x",
                      "trainer.progress=false", "hydra.run.dir=run"], cwd=tmp_path)
    err = _error(result)
    assert "tracking.uri" in err and "tracking=none" in err
    assert "[prism_runner] training" not in result.stdout
    assert not list((tmp_path / "run").rglob("*.pt"))


def test_wrong_type_and_unknown_trainer_key(tmp_path):
    err = _error(run_cli(["trainer.max_steps=abc", *TINY], cwd=tmp_path))
    assert "trainer.max_steps" in err
    err = _error(run_cli(["+trainer.max_step=3", *TINY], cwd=tmp_path))
    assert "trainer.max_step" in err and "trainer.max_steps" in err


def test_batch_larger_than_dataset(tmp_path):
    err = _error(run_cli(["data.batch_size=4096", "tracking=none", "trainer.progress=false"],
                         cwd=tmp_path))
    assert "fewer than one batch" in err

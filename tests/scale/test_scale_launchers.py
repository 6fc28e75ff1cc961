"""submitit launchers: the SLURM config composes; a 2-job submitit_local multirun runs."""
from __future__ import annotations

import json
import pickle
import time

from scale_helpers import FAST, NO_EVAL, REPO, check, run_module


def test_slurm_launcher_composes_with_documented_keys(tmp_path):
    proc = check(run_module("prism_runner", ["--cfg", "hydra", "+recipe=simclr",
                                             "hydra/launcher=slurm"], tmp_path))
    import yaml

    launcher = yaml.safe_load(proc.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    for key in ("partition", "timeout_min", "nodes", "gpus_per_node", "tasks_per_node",
                "cpus_per_task", "mem_gb", "setup", "max_num_timeout", "submitit_folder"):
        assert key in launcher, key
    assert launcher["max_num_timeout"] > 0  # requeue on timeout/preemption
    assert any("PRISM_OUTPUT_DIR" in line for line in launcher["setup"])


def test_local_launcher_composes():
    from hydra import compose, initialize_config_dir

    import prism_runner  # noqa: F401

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True,
                      overrides=["hydra/launcher=local"])
    assert cfg.hydra.launcher._target_.endswith("submitit_launcher.LocalLauncher")


def test_sweep_dir_resolution_survives_pickling():
    """A requeued submitit task unpickles the launcher with the driver's config: the resolver
    cache travels with it, so ${now:} in hydra.sweep.dir resolves to the same folder."""
    from omegaconf import OmegaConf

    import hydra.core.utils  # noqa: F401  (registers the `now` resolver)

    cfg = OmegaConf.create({"sweep": {"dir": "out/${now:%H-%M-%S-%f}", "subdir": "${num}"},
                            "num": 3})
    first = str(cfg.sweep.dir)
    time.sleep(0.01)
    again = pickle.loads(pickle.dumps(cfg))
    assert str(again.sweep.dir) == first


def test_local_launcher_two_jobs(tmp_path):
    check(run_module("prism_runner", ["-m", "hydra/launcher=local", "seed=0,1", *FAST, *NO_EVAL],
                     tmp_path))
    (sweep,) = (tmp_path / "outputs" / "multiruns" / "default").iterdir()
    losses = []
    for job in ("0", "1"):
        summary = json.loads((sweep / job / "summary.json").read_text())
        assert summary["steps"] == 2
        assert summary["run_dir"] == str(sweep / job)
        losses.append(summary["final_loss"])
    assert losses[0] != losses[1]  # different seeds
    assert list((sweep / ".submitit").iterdir())


def test_slurm_setup_pins_the_output_root(monkeypatch):
    """The setup lines resolve in the driver, so every task writes where the driver does."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate

    import prism_runner  # noqa: F401

    monkeypatch.setenv("PRISM_OUTPUT_DIR", "/shared/prism")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True,
                      overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"])
    HydraConfig.instance().set_config(cfg)
    launcher = instantiate(cfg.hydra.launcher)
    assert "export PRISM_OUTPUT_DIR=/shared/prism" in launcher.params["setup"]
    assert launcher.params["submitit_folder"].startswith("/shared/prism/multiruns/default/")
    assert launcher.params["partition"] == "gpu"

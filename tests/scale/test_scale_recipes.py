"""Shared recipe folders (PRISM_RECIPES) and the recipes CLI."""
from __future__ import annotations

import json
import textwrap

from scale_helpers import FAST, NO_EVAL, check, run_module

TEAM_MODULE = '''
import torch
from torch import nn


class TeamBackbone(nn.Module):
    """The team's own backbone: flatten + MLP."""

    def __init__(self, in_channels: int, image_size: int, width: int = 8):
        super().__init__()
        self.out_dim = width
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size ** 2, width))

    def forward(self, x):
        return self.net(x)
'''

TEAM_RECIPE = '''
# @package _global_
# Team SimCLR: digits with the team's own backbone.
name: team_simclr
backbone:
  _target_: team_models.TeamBackbone
  in_channels: ${data.channels}
  image_size: ${data.image_size}
'''


def make_team_repo(tmp_path):
    repo = tmp_path / "team_repo"
    (repo / "recipes").mkdir(parents=True)
    (repo / "team_models.py").write_text(TEAM_MODULE)
    # same name as a bundled recipe: the team's wins, with a notice
    (repo / "recipes" / "simclr.yaml").write_text(textwrap.dedent(TEAM_RECIPE).lstrip())
    (repo / "recipes" / "team_only.yaml").write_text("# Only in the team repo.\nname: only\n")
    return repo


def test_external_recipe_with_own_module_runs(tmp_path):
    repo = make_team_repo(tmp_path)
    env = {"PRISM_RECIPES": str(repo / "recipes")}
    proc = check(run_module("prism_runner", ["+recipe=simclr", *FAST, *NO_EVAL], tmp_path,
                            env=env))
    assert proc.stderr.count("overrides the bundled one") == 1
    (run_dir,) = (tmp_path / "outputs" / "runs" / "team_simclr").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 2
    assert "team_models.TeamBackbone" in (run_dir / "config.yaml").read_text()


def test_recipes_cli_list_show_copy(tmp_path):
    repo = make_team_repo(tmp_path)
    env = {"PRISM_RECIPES": str(repo / "recipes")}
    listed = check(run_module("prism_runner.recipes", ["list"], tmp_path, env=env)).stdout
    lines = {line.split()[0]: line for line in listed.splitlines() if line.strip()}
    assert "Team SimCLR" in lines["simclr"] and "overrides bundled" in lines["simclr"]
    assert "PRISM_RECIPES" in lines["team_only"]
    assert "bundled" in lines["graphcl"] and "GraphCL" in lines["graphcl"]

    shown = check(run_module("prism_runner.recipes", ["show", "simclr", "seed=3"], tmp_path,
                             env=env)).stdout
    assert "team_models.TeamBackbone" in shown and "seed: 3" in shown

    bundled = check(run_module("prism_runner.recipes", ["show", "simclr"], tmp_path)).stdout
    assert "resnet18_cifar" in bundled

    dest = tmp_path / "mine"
    dest.mkdir()
    check(run_module("prism_runner.recipes", ["copy", "simclr", str(dest)], tmp_path))
    assert (dest / "simclr.yaml").read_text().startswith("# @package _global_")
    again = run_module("prism_runner.recipes", ["copy", "simclr", str(dest)], tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr

    missing = run_module("prism_runner.recipes", ["show", "simclrr"], tmp_path)
    assert missing.returncode != 0 and "did you mean simclr" in missing.stderr


def test_recipes_cli_does_not_import_torch(tmp_path):
    code = ("import sys, runpy; sys.argv=['x','list']\n"
            "try:\n runpy.run_module('prism_runner.recipes', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_first_prism_recipes_folder_wins(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, text in ((a, "# From a.\nname: a\n"), (b, "# From b.\nname: b\n")):
        folder.mkdir()
        (folder / "shared.yaml").write_text(text)
    monkeypatch.setenv("PRISM_RECIPES", f"{a}:{b}")
    from prism_runner.recipes import find_recipes

    assert find_recipes()["shared"].description == "From a."
    from hydra import compose, initialize_config_dir

    from scale_helpers import REPO

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["+recipe=shared"])
    assert cfg.name == "a"


def test_searchpath_route_finds_recipe_and_module(tmp_path):
    """hydra.searchpath=[prism-recipes:///repo/recipes] works like PRISM_RECIPES."""
    import sys

    from hydra import compose, initialize_config_dir
    from hydra.utils import get_class

    from scale_helpers import REPO

    repo = make_team_repo(tmp_path)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            f"hydra.searchpath=[prism-recipes://{repo / 'recipes'}]", "+recipe=team_only"])
    assert cfg.name == "only"
    try:
        assert get_class("team_models.TeamBackbone").__name__ == "TeamBackbone"
    finally:
        sys.path[:] = [p for p in sys.path if p != str(repo)]
        sys.modules.pop("team_models", None)

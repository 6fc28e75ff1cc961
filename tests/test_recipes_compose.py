"""Every shipped recipe composes, resolves, and names importable `_target_`s."""
import importlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from prism_testing import REPO, compose, run_cli

RECIPES = sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))


def _targets(node):
    if isinstance(node, dict):
        if "_target_" in node:
            yield node["_target_"]
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


def _importable(target: str) -> bool:
    module, _, attr = target.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


@pytest.mark.parametrize("recipe", RECIPES + [None])
def test_recipe_composes_and_targets_import(recipe, tmp_path):
    overrides = [f"+recipe={recipe}"] if recipe else []
    cfg = compose(overrides, run_dir=tmp_path)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if recipe:
        assert resolved["name"] == recipe, "a recipe sets `name` to its file name"
        header = (REPO / "recipes" / f"{recipe}.yaml").read_text().splitlines()
        assert header[0].strip() == "# @package _global_"
        assert any("python -m prism_runner" in line for line in header[:15]), \
            "the header comment states the command"
    missing = [t for t in _targets(resolved) if not _importable(t)]
    assert not missing, f"unimportable _target_: {missing}"


def test_cli_prints_composed_config_for_a_recipe(tmp_path):
    result = run_cli(["--cfg", "job", "+recipe=simclr"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "resnet18_cifar" in result.stdout and "name: simclr" in result.stdout


def test_help_lists_groups_and_recipes(tmp_path):
    result = run_cli(["--help"], cwd=tmp_path)
    assert result.returncode == 0
    assert "method: " in result.stdout and "simclr" in result.stdout
    assert "recipe: " in result.stdout

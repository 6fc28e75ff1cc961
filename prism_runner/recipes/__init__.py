"""Browse recipes from the command line (no torch import)::

    python -m prism_runner.recipes list              # name, origin, one-line description
    python -m prism_runner.recipes show NAME [key=value ...] [--resolve]
    python -m prism_runner.recipes copy NAME DEST    # copy the recipe file out to edit

Recipes come from the bundled ``recipes/`` folder and the folders in ``PRISM_RECIPES``
(``dir1:dir2``, first wins); a recipe in a ``PRISM_RECIPES`` folder overrides a bundled one of
the same name.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from hydra_plugins.prism_runner_recipes.recipes_plugin import (
    BUNDLED_RECIPES, ENV_VAR, user_recipe_folders,
)


@dataclass
class Recipe:
    name: str
    path: Path
    origin: str                      # "bundled" or "PRISM_RECIPES:<folder>"
    description: str
    shadows: Optional[Path] = None   # the bundled recipe this one overrides


def describe(path: Path) -> str:
    """The first comment line of a recipe that is not a ``# @package`` directive."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        text = stripped.lstrip("#").strip()
        if text and not text.startswith("@package"):
            return text
    return ""


def find_recipes() -> Dict[str, Recipe]:
    """Every recipe Hydra would find for ``+recipe=NAME``, by name (the winning file)."""
    found: Dict[str, Recipe] = {}
    folders = [(folder, f"{ENV_VAR}:{folder}") for folder in user_recipe_folders()
               if folder.is_dir()]
    folders.append((BUNDLED_RECIPES, "bundled"))
    for folder, origin in folders:
        for path in sorted(folder.glob("*.yaml")):
            if path.stem in found:
                winner = found[path.stem]
                if origin == "bundled" and winner.shadows is None:
                    winner.shadows = path
                continue
            found[path.stem] = Recipe(path.stem, path, origin, describe(path))
    return dict(sorted(found.items()))


def get_recipe(name: str) -> Recipe:
    recipes = find_recipes()
    if name.endswith(".yaml"):
        name = name[:-5]
    if name not in recipes:
        import difflib

        near = difflib.get_close_matches(name, list(recipes), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise SystemExit(f"error: no recipe named {name!r}{hint} "
                         f"(see: python -m prism_runner.recipes list)")
    return recipes[name]


def list_lines(recipes: Dict[str, Recipe]) -> List[str]:
    if not recipes:
        return ["no recipes found"]
    width = max(len(r.name) for r in recipes.values())
    origin_width = max(len(r.origin) for r in recipes.values())
    lines = []
    for recipe in recipes.values():
        note = "  (overrides bundled)" if recipe.shadows else ""
        lines.append(f"{recipe.name:<{width}}  {recipe.origin:<{origin_width}}  "
                     f"{recipe.description}{note}")
    return lines

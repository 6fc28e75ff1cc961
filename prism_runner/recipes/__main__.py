"""``python -m prism_runner.recipes list | show NAME | copy NAME DEST`` (see the package doc)."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import List, Optional

from prism_runner.recipes import find_recipes, get_recipe, list_lines

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose(name: str, overrides: List[str]):
    from hydra import compose as hydra_compose, initialize_config_dir

    import prism_runner  # noqa: F401  (registers the ${prism.*} resolvers)

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=[f"+recipe={name}", *overrides])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m prism_runner.recipes",
        description="List, show and copy prism_runner recipes (bundled and PRISM_RECIPES).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="recipes with their origin and one-line description")
    show = sub.add_parser("show", help="print a recipe's composed config")
    show.add_argument("name")
    show.add_argument("overrides", nargs="*", help="key=value overrides, as on the run command")
    show.add_argument("--resolve", action="store_true", help="resolve ${...} interpolations")
    show.add_argument("--raw", action="store_true", help="print the recipe file, not composed")
    copy = sub.add_parser("copy", help="copy a recipe file out to edit")
    copy.add_argument("name")
    copy.add_argument("dest", help="a file path or a folder (gets NAME.yaml)")
    copy.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)

    if args.command == "list":
        print("\n".join(list_lines(find_recipes())))
        print("\nrun one:  python -m prism_runner +recipe=NAME   "
              "(compose: python -m prism_runner.recipes show NAME)")
        return 0

    recipe = get_recipe(args.name)
    if args.command == "show":
        if args.raw:
            print(recipe.path.read_text(encoding="utf-8"), end="")
            return 0
        from omegaconf import OmegaConf

        cfg = compose(recipe.name, args.overrides)
        print(f"# recipe {recipe.name} ({recipe.origin}: {recipe.path})")
        print(OmegaConf.to_yaml(cfg, resolve=args.resolve), end="")
        return 0

    dest = Path(args.dest).expanduser()
    if dest.is_dir() or args.dest.endswith(("/", "\\")):
        dest = dest / recipe.path.name
    if dest.exists() and not args.force:
        print(f"error: {dest} exists; pass --force to overwrite", file=sys.stderr)
        return 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe.path, dest)
    print(f"copied {recipe.name} ({recipe.origin}) to {dest}")
    if dest.parent.resolve() != recipe.path.parent.resolve():
        print(f"run it from there:  PRISM_RECIPES={dest.parent} python -m prism_runner "
              f"+recipe={dest.stem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Make flat recipe folders appear to Hydra as the config group ``recipe``.

Recipes live flat in ``recipes/NAME.yaml`` (and in any folder named by ``PRISM_RECIPES``), but a
Hydra search-path root holds *groups* as sub-folders. ``RecipeFolderSource`` serves one flat
folder as the group ``recipe`` under the scheme ``prism-recipes://``; ``PrismSearchPath`` puts the
bundled folder and the user's folders on the search path, computed from this file and the
environment rather than the current directory, so ``+recipe=NAME`` works from anywhere.

This module is imported during Hydra's plugin scan: it must stay free of heavy imports.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

GROUP = "recipe"
SCHEME = "prism-recipes"
ENV_VAR = "PRISM_RECIPES"
BUNDLED_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


_NOTICES: set = set()


def notice_once(message: str) -> None:
    """Print ``message`` to stderr once per process (Hydra loads a recipe more than once)."""
    if message not in _NOTICES:
        _NOTICES.add(message)
        print(message, file=sys.stderr, flush=True)


def importable_root(folder: Path) -> Path:
    """The folder put on ``sys.path`` for a recipe folder: a team repository's root, i.e. the
    parent of a folder named ``recipes``, else the folder itself."""
    return folder.parent if folder.name == "recipes" else folder


def user_recipe_folders() -> List[Path]:
    """Folders named in ``PRISM_RECIPES`` (``dir1:dir2``), in priority order."""
    raw = os.environ.get(ENV_VAR, "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


class RecipeFolderSource(ConfigSource):
    """A flat folder of ``*.yaml`` recipes exposed as the config group ``recipe``."""

    def __init__(self, provider: str, path: str) -> None:
        if "://" not in path:
            path = f"{SCHEME}://{path}"
        super().__init__(provider=provider, path=path)
        self.folder = Path(self.path)
        if self.folder.resolve() != BUNDLED_RECIPES and self.folder.is_dir():
            # A team repository's own modules become importable for `_target_`, whether the
            # folder came from PRISM_RECIPES or hydra.searchpath=[prism-recipes:///path].
            root = str(importable_root(self.folder.resolve()))
            if root not in sys.path:
                sys.path.insert(0, root)

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def _file(self, config_path: str) -> Optional[Path]:
        """``recipe/NAME.yaml`` -> folder/NAME.yaml; anything outside the group -> None."""
        head, _, rest = config_path.partition("/")
        if head != GROUP or not rest:
            return None
        return self.folder / rest

    def load_config(self, config_path: str) -> ConfigResult:
        path = self._file(self._normalize_file_name(config_path))
        if path is None or not path.is_file():
            raise ConfigLoadError(f"Recipe not found: {config_path} in {self.folder}")
        text = path.read_text(encoding="utf-8")
        bundled = BUNDLED_RECIPES / path.name
        if self.folder != BUNDLED_RECIPES and bundled.is_file():
            notice_once(f"[prism_runner] notice: recipe '{path.stem}' from {self.folder} "
                        f"overrides the bundled one ({bundled})")
        header = ConfigSource._get_header_dict(text[:512])
        if header.get("package") is None:
            # A recipe is a whole experiment: its keys are global even when the
            # `# @package _global_` line is missing or follows other comments.
            header["package"] = "_global_"
        return ConfigResult(
            config=OmegaConf.create(OmegaConf.load(path)),
            path=f"{SCHEME}://{self.path}",
            provider=self.provider,
            header=header,
        )

    def available(self) -> bool:
        return self.folder.is_dir()

    def is_group(self, config_path: str) -> bool:
        return config_path in ("", GROUP) and self.available()

    def is_config(self, config_path: str) -> bool:
        path = self._file(self._normalize_file_name(config_path))
        return path is not None and path.is_file()

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> List[str]:
        if not self.available():
            return []
        if config_path == "":
            return [GROUP] if results_filter in (None, ObjectType.GROUP) else []
        if config_path != GROUP or results_filter == ObjectType.GROUP:
            return []
        return sorted(f"{GROUP}/{p.stem}" for p in self.folder.glob("*.yaml"))


class PrismSearchPath(SearchPathPlugin):
    """Bundled recipes last, ``PRISM_RECIPES`` folders first so a team's recipe wins."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # prepend() puts a folder first: walk in reverse so the first folder named wins.
        for folder in reversed(user_recipe_folders()):
            if not folder.is_dir():
                print(f"[prism_runner] warning: {ENV_VAR} names {folder}, which is not a folder",
                      file=sys.stderr)
                continue
            search_path.prepend(provider=f"recipes:{folder.name}", path=f"{SCHEME}://{folder}")
            # The team repository's own modules become importable for `_target_`.
            root = str(importable_root(folder))
            if root not in sys.path:
                sys.path.insert(0, root)
        search_path.append(provider="prism_runner", path=f"{SCHEME}://{BUNDLED_RECIPES}")

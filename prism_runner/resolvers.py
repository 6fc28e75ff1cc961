"""OmegaConf resolvers used by the shipped configs.

``${prism.cwd:}`` is the directory the user launched from (Hydra may change directories later),
``${prism.repo:}`` the checkout this package lives in (for bundled data).
"""
import os
from pathlib import Path

from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[1]
_LAUNCH_DIR = os.getcwd()

if not OmegaConf.has_resolver("prism.cwd"):
    OmegaConf.register_new_resolver("prism.cwd", lambda: _LAUNCH_DIR)
if not OmegaConf.has_resolver("prism.repo"):
    OmegaConf.register_new_resolver("prism.repo", lambda: str(REPO_ROOT))

"""Command line: ``python -m prism_runner [+recipe=NAME] [key=value ...]``.

Composition, ``--help``, ``--info`` and ``--cfg job`` never import torch: the training code is
imported only inside the task function.
"""
import os
import sys

import hydra
from omegaconf import DictConfig

import prism_runner  # noqa: F401  (registers resolvers)
from prism_runner.errors import UserError


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        from prism_runner.app import run

        return run(cfg)
    except UserError as error:
        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
        if multirun or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise  # the sweeper records the trial as failed; full traceback on request
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

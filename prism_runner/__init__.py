"""prism_runner: one YAML-first runner for self-supervised learning.

Importing the package is cheap (no torch): configuration, ``--help`` and ``--cfg job`` stay
instant, and heavy libraries load only when a run needs them.
"""
from prism_runner import resolvers as _resolvers  # noqa: F401  (registers ${prism.*})

__version__ = "0.1.0"


def run(cfg):
    """Build, train and evaluate the experiment in ``cfg``; return its evaluation score."""
    from prism_runner.app import run as _run

    return _run(cfg)

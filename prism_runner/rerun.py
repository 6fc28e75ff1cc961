"""Rerun a past run from its run folder (or MLflow run id) into a fresh run folder::

    python -m prism_runner.rerun RUN_DIR [key=value ...] [--run-dir NEW_DIR]
    python -m prism_runner.rerun --mlflow RUN_ID [--tracking-uri sqlite:///outputs/mlflow.db]

It loads the run's resolved ``config.yaml`` (written by every run; ``.hydra/config.yaml`` as a
fallback), applies the overrides (``key=value``, ``+key=value``, ``~key``; config *groups* were
already resolved into values, so change ``optim.lr=...`` rather than ``optim=sgd``), sets a new
run folder and ``trainer.resume=never``, and trains. Same machine, same seed, same checkout and
package versions -> the same losses step for step (differences from the original's
``environment.json`` are printed before the run starts).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional


def load_run_config(run_dir: Path):
    from omegaconf import OmegaConf

    for candidate in (run_dir / "config.yaml", run_dir / ".hydra" / "config.yaml"):
        if candidate.is_file():
            return OmegaConf.load(candidate), candidate
    raise SystemExit(f"error: {run_dir} holds neither config.yaml nor .hydra/config.yaml; "
                     "give a run folder written by python -m prism_runner")


def apply_overrides(cfg, overrides: List[str]):
    """Apply command-line style overrides to a plain (already composed) config."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from omegaconf import OmegaConf, open_dict

    parsed = OverridesParser.create().parse_overrides(overrides)
    with open_dict(cfg):
        for override in parsed:
            key = override.key_or_group
            if override.is_sweep_override():
                raise SystemExit(f"error: {override.input_line}: a rerun takes single values")
            if override.type == OverrideType.DEL:
                parent_key, _, leaf = key.rpartition(".")
                parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
                if parent is None or leaf not in parent:
                    raise SystemExit(f"error: ~{key}: no such key in the run's config")
                del parent[leaf]
                continue
            exists = OmegaConf.select(cfg, key, default=None) is not None or \
                _has_key(cfg, key)
            if not exists and override.type != OverrideType.ADD and \
                    not override.input_line.startswith("++"):
                raise SystemExit(f"error: {key} is not in the run's config; use +{key}=... to "
                                 "add it")
            OmegaConf.update(cfg, key, override.value(), merge=True, force_add=True)
    return cfg


def _has_key(cfg, key: str) -> bool:
    from omegaconf import OmegaConf

    parent_key, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    return parent is not None and OmegaConf.is_dict(parent) and leaf in parent


def run_dir_from_mlflow(run_id: str, tracking_uri: Optional[str]) -> Path:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    if tracking_uri is None:
        root = os.environ.get("PRISM_OUTPUT_DIR", str(Path.cwd() / "outputs"))
        tracking_uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    run_dir = run.data.tags.get("run_dir")
    if run_dir and Path(run_dir).is_dir():
        return Path(run_dir)
    # The folder is gone (another machine, cleaned up): use the logged config.yaml artifact.
    target = Path.cwd() / f"mlflow-run-{run_id}"
    target.mkdir(parents=True, exist_ok=True)
    client.download_artifacts(run_id, "config.yaml", str(target))
    return target


def environment_differences(run_dir: Path) -> List[str]:
    """What differs between the original run's environment.json and this process."""
    path = run_dir / "environment.json"
    if not path.is_file():
        return []
    from prism_runner.app import git_commit, package_versions

    recorded: Dict[str, Any] = json.loads(path.read_text())
    notes = []
    now_commit = git_commit()
    if recorded.get("git_commit") and recorded["git_commit"] != now_commit:
        notes.append(f"git commit: run {recorded['git_commit']}, now {now_commit}")
    now_versions = package_versions()
    for name, version in (recorded.get("versions") or {}).items():
        if now_versions.get(name) != version:
            notes.append(f"{name}: run {version}, now {now_versions.get(name)}")
    return notes


def main(argv: Optional[List[str]] = None) -> float:
    parser = argparse.ArgumentParser(prog="python -m prism_runner.rerun",
                                     description="Rerun a past run into a fresh run folder.")
    parser.add_argument("run", nargs="?", help="the past run's folder")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    parser.add_argument("--mlflow", metavar="RUN_ID", help="find the run by MLflow run id")
    parser.add_argument("--tracking-uri", help="MLflow store for --mlflow (default: "
                        "sqlite:///$PRISM_OUTPUT_DIR/mlflow.db or ./outputs/mlflow.db)")
    parser.add_argument("--run-dir", help="the new run folder (default: RUN-rerun-TIME beside "
                        "the original)")
    args = parser.parse_args(argv)
    overrides = list(args.overrides)
    if args.mlflow:
        if args.run:  # with --mlflow every positional is an override
            overrides.insert(0, args.run)
        source = run_dir_from_mlflow(args.mlflow, args.tracking_uri)
    elif args.run:
        source = Path(args.run).expanduser().resolve()
    else:
        parser.error("give a run folder or --mlflow RUN_ID")
    if not source.is_dir():
        raise SystemExit(f"error: {source} is not a folder")

    import prism_runner  # noqa: F401  (resolvers, for a .hydra/config.yaml with ${...})
    from omegaconf import open_dict

    cfg, config_path = load_run_config(source)
    cfg = apply_overrides(cfg, overrides)
    new_dir = Path(args.run_dir).expanduser().resolve() if args.run_dir else \
        source.parent / f"{source.name}-rerun-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    if (new_dir / "summary.json").exists() or (new_dir / "checkpoints").exists():
        raise SystemExit(f"error: {new_dir} already holds a run; choose another --run-dir")
    with open_dict(cfg):
        cfg.run_dir = str(new_dir)
        cfg.trainer.resume = "never"
    for note in environment_differences(source):
        print(f"[prism_runner] rerun: differs from the original: {note}", file=sys.stderr)
    print(f"[prism_runner] rerun of {source} (config {config_path.name}) into {new_dir}",
          flush=True)

    from prism_runner.errors import UserError

    try:
        from prism_runner.app import run

        return run(cfg)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()

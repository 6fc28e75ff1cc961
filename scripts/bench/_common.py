"""Helpers shared by the benchmark modules in scripts/bench/ (not part of the package).

Every module writes ``RESULTS/<name>.json`` and ``RESULTS/<name>.md`` (a table with the command
and date); ``run_all.py`` concatenates the tables. ``RESULTS`` is ``$PRISM_BENCH_OUT`` or
``/tmp/prism_bench``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
BENCH = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("PRISM_BENCH_OUT", "/tmp/prism_bench"))
PY = sys.executable
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PRISM_OUTPUT_DIR", str(RESULTS / "outputs"))


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def now() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


def command_line() -> str:
    rel = os.path.relpath(sys.argv[0], REPO)
    return " ".join([".venv/bin/python", rel] + [shlex.quote(a) for a in sys.argv[1:]])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``median [min-max] (n)`` for tables."""
    if not values:
        return "-"
    return f"{median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compose(overrides: List[str], run_dir: Optional[Path] = None):
    """The config ``python -m prism_runner OVERRIDES`` would run (as tests/prism_testing.py)."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from omegaconf import open_dict

    import prism_runner  # noqa: F401  (resolvers)

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    if run_dir is not None:
        with open_dict(cfg):
            cfg.run_dir = str(run_dir)
    return cfg


def steady_rate(stamps: Sequence[float], batch: int, skip: int) -> float:
    """Samples/s between step ``skip`` and the last step (``stamps[i]`` = end of step i+1)."""
    if len(stamps) <= skip + 1:
        raise ValueError(f"need more than {skip + 1} steps, got {len(stamps)}")
    span = stamps[-1] - stamps[skip]
    return batch * (len(stamps) - 1 - skip) / span


def timed_cli(args: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None,
              launcher: Optional[List[str]] = None, timeout: int = 1800) -> Dict:
    """Run the CLI through ``_timed_cli.py`` (``python -m prism_runner ARGS`` plus step
    timestamps); returns wall time, per-step times relative to process start, peak RSS (max over
    the process tree's members, from wait4) and the run's summary."""
    import tempfile

    RESULTS.mkdir(parents=True, exist_ok=True)
    times_file = Path(tempfile.mktemp(prefix="steps_", suffix=".json", dir=RESULTS))
    full_env = {**os.environ, "PRISM_BENCH_TIMES": str(times_file), **(env or {})}
    full_env.setdefault("PRISM_OUTPUT_DIR", str(RESULTS / "outputs"))
    cmd = (launcher or [PY]) + [str(BENCH / "_timed_cli.py")] + list(args)
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=str(cwd or RESULTS), env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    import threading

    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (max RSS of its tree)
    killer.cancel()
    wall = time.time() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(cmd)}\n{out[-3000:]}")
    data = json.loads(times_file.read_text()) if times_file.exists() else {}
    times_file.unlink(missing_ok=True)
    data["wall_s"] = wall
    data["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    data["start"] = start
    data["output_tail"] = out[-1500:]
    import re

    found = re.search(r"training \S+ for (\d+) steps \((\d+) per epoch\)", out)
    if found:
        data["total_steps"], data["steps_per_epoch"] = int(found.group(1)), int(found.group(2))
    return data


def write_result(name: str, data: Dict, table: str, command: Optional[str] = None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {**data, "date": now(), "loadavg_end": loadavg(), "machine": machine(),
            "command": command or command_line()}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))
    md = (f"{table.rstrip()}\n\n_Command:_ `{data['command']}` — {data['date']}, {data['machine']}; "
          f"load average at start {data.get('loadavg_start', '?')}, at end {data['loadavg_end']}._\n")
    (RESULTS / f"{name}.md").write_text(md)
    print(md, flush=True)


def table(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)

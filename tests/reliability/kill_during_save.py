"""Run the CLI, but SIGKILL the process in the middle of its KILL_AT_SAVE-th checkpoint write."""
import os
import signal
import sys

import torch

_real_save = torch.save
_count = 0


def _dying_save(obj, f, *args, **kwargs):
    global _count
    _count += 1
    if _count == int(os.environ["KILL_AT_SAVE"]):
        f.write(b"\x80half a checkpoint" * 1000)
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_save(obj, f, *args, **kwargs)


torch.save = _dying_save

import runpy  # noqa: E402

sys.argv = ["prism_runner", *sys.argv[1:]]
runpy.run_module("prism_runner", run_name="__main__", alter_sys=True)

"""``python -m prism_runner ARGS`` plus step timestamps, for the benchmarks.

Wraps ``prism_runner.app.fit`` so that the method's ``on_step_end`` hook also records
``time.time()`` after every optimizer step (one list append: nothing else changes), and writes
``{"steps": [...], "fit_start": t, "imported": t}`` to ``$PRISM_BENCH_TIMES`` on the main process.
Used as a script: ``python scripts/bench/_timed_cli.py +recipe=simclr ...`` (also under
``accelerate launch``).
"""
import json
import os
import sys
import time

T_IMPORT = time.time()


def main():
    import prism_runner.app as app
    import prism_runner.tracking as tracking

    real_fit = app.fit
    record = {"steps": [], "imported": T_IMPORT, "app_imported": time.time()}
    real_open, real_wait = tracking.MlflowTracker._open, tracking.MlflowTracker.wait

    def _open(self, *args, **kwargs):  # how long opening the MLflow store takes (its own thread)
        record["tracker_start"] = time.time()
        try:
            return real_open(self, *args, **kwargs)
        finally:
            record["tracker_ready"] = time.time()

    def wait(self):  # how long the main thread waits for it before the first step
        t0 = time.time()
        try:
            return real_wait(self)
        finally:
            record.setdefault("tracker_wait_s", time.time() - t0)

    tracking.MlflowTracker._open = _open
    tracking.MlflowTracker.wait = wait

    def fit(*, method, **kwargs):
        stamps = record["steps"]
        previous = getattr(method, "on_step_end", None)

        def on_step_end(step, total):
            stamps.append(time.time())
            if previous is not None:
                previous(step, total)

        method.on_step_end = on_step_end
        record["fit_start"] = time.time()
        try:
            return real_fit(method=method, **kwargs)
        finally:
            if previous is None:
                del method.on_step_end
            else:
                method.on_step_end = previous
            record["fit_end"] = time.time()
            record["global_batch"] = kwargs["settings"].global_batch
            if kwargs["accelerator"].is_main_process and os.environ.get("PRISM_BENCH_TIMES"):
                with open(os.environ["PRISM_BENCH_TIMES"], "w") as f:
                    json.dump(record, f)

    app.fit = fit
    import runpy

    sys.argv = ["prism_runner"] + sys.argv[1:]
    runpy.run_module("prism_runner", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

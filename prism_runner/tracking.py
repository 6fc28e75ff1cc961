"""Experiment tracking. MLflow by default; ``tracking=none`` for nothing.

The store is opened and metrics are written on a background thread, so a slow store (SQLite on
a network disk, a remote server) never stalls the training step, and opening it (importing
mlflow, creating the run: seconds) overlaps with building the data and the model.
"""
from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from prism_runner.errors import UserError


class NullTracker:
    """Tracks nothing; every call is a no-op."""

    run_id: Optional[str] = None
    uri: Optional[str] = None

    def start(self, run_name: str, params: Dict[str, Any], tags: Dict[str, str],
              run_id: Optional[str] = None) -> Optional[str]:
        return None

    def wait(self) -> None:
        pass

    def log_metrics(self, metrics: Dict[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, artifact_path: Optional[str] = None) -> None:
        pass

    def set_tags(self, tags: Dict[str, str]) -> None:
        pass

    def finish(self, status: str = "FINISHED") -> None:
        pass


class MlflowTracker(NullTracker):
    """Logs params, tags, metrics and artifacts to an MLflow tracking store.

    Args:
        uri: any MLflow tracking URI (``sqlite:///path/mlflow.db``, ``http://host:5000``, ...).
        artifact_root: where artifacts go for experiments this tracker creates (local stores).
        experiment: experiment name; runs of one recipe share it.
        log_model: log the final backbone weights (safetensors) as an artifact.
        tags: extra tags for every run (e.g. a team or sweep name).
    """

    def __init__(self, uri: str, experiment: str = "default", artifact_root: Optional[str] = None,
                 log_model: bool = True, tags: Optional[Dict[str, str]] = None):
        self.uri, self.experiment, self.log_model = uri, experiment, log_model
        self.extra_tags = dict(tags or {})
        self.artifact_root = artifact_root
        self.client = None
        self._run_id: Optional[str] = None
        self._queue: "queue.Queue" = queue.Queue()
        self._worker: Optional[threading.Thread] = None
        self._opened = threading.Event()
        self._open_error: Optional[BaseException] = None

    @property
    def run_id(self) -> Optional[str]:
        """The MLflow run id (waits for the store to open; raises if it could not)."""
        self.wait()
        return self._run_id

    def wait(self) -> None:
        """Block until :meth:`start` has opened the store and the run; re-raise its error."""
        if self._worker is None:
            return
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def _connect(self):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow.tracking import MlflowClient

        if self.uri.startswith("sqlite:///"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = MlflowClient(tracking_uri=self.uri)
            experiment = client.get_experiment_by_name(self.experiment)
            if experiment is None:
                location = Path(self.artifact_root).resolve().as_uri() if self.artifact_root else None
                experiment_id = client.create_experiment(self.experiment, artifact_location=location)
            else:
                experiment_id = experiment.experiment_id
        except Exception as error:
            raise UserError(f"cannot open the MLflow store tracking.uri={self.uri}: "
                            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
                            "; fix the URI or turn tracking off with tracking=none") from None
        return client, experiment_id

    def start(self, run_name, params, tags, run_id=None):
        """Open the store and the run (a resumed training continues ``run_id``) on the tracker's
        thread and return at once; :meth:`wait` (or ``run_id``) joins it."""
        self._worker = threading.Thread(target=self._open_then_drain, name="mlflow-tracker",
                                        args=(run_name, params, tags, run_id), daemon=True)
        self._worker.start()

    def _open_then_drain(self, run_name, params, tags, run_id) -> None:
        try:
            self._open(run_name, params, tags, run_id)
        except BaseException as error:  # handed to the main thread by wait()
            self._open_error = error
        finally:
            self._opened.set()
        if self._open_error is None:
            self._drain()

    def _open(self, run_name, params, tags, run_id) -> None:
        self.client, experiment_id = self._connect()
        from mlflow.entities import Param, RunTag

        tags = {**tags, **self.extra_tags}
        if run_id is not None:
            try:  # a resumed training continues its own run
                self.client.get_run(run_id)
                self.client.update_run(run_id, status="RUNNING")
                self._run_id = run_id
            except Exception:
                run_id = None
        if run_id is None:
            run = self.client.create_run(experiment_id, run_name=run_name, tags=tags)
            self._run_id = run.info.run_id
            items = [Param(k[:250], str(v)[:6000]) for k, v in params.items()]
            for i in range(0, len(items), 100):
                self.client.log_batch(self._run_id, params=items[i:i + 100])
        else:
            self.client.log_batch(self._run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def _drain(self) -> None:
        from mlflow.entities import Metric

        while True:
            job = self._queue.get()
            if job is None:
                return
            metrics, step, timestamp = job
            try:
                self.client.log_batch(self._run_id, metrics=[
                    Metric(k, float(v), timestamp, step) for k, v in metrics.items()])
            except Exception as error:  # tracking must never kill training
                print(f"[prism_runner] warning: MLflow metric logging failed: {error}")

    def log_metrics(self, metrics, step):
        import time

        if self._worker is not None:  # queued until the store is open
            self._queue.put((dict(metrics), int(step), int(time.time() * 1000)))

    def set_tags(self, tags):
        if self.run_id is not None:
            for key, value in tags.items():
                self.client.set_tag(self._run_id, key, str(value))

    def log_artifact(self, path, artifact_path=None):
        if self.run_id is not None:
            self.client.log_artifact(self._run_id, str(path), artifact_path)

    def finish(self, status="FINISHED"):
        """Flush queued metrics and close the run (never raises for a store that did not open:
        that error has been reported already)."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=60)
            self._worker = None
        if self._run_id is not None:
            self.client.set_terminated(self._run_id, status=status)

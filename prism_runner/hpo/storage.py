"""One spelling for Optuna storages, shared by the sweeper (driver) and the trial's callback.

- a URL (``sqlite:///path/optuna.db``, ``postgresql://...``, anything with ``://``) goes to
  Optuna's RDB storage as is;
- anything else is a file path for Optuna's ``JournalStorage`` with a file backend, which suits
  a shared file system (many SLURM jobs appending to one log; no database server, no SQLite
  locking over NFS). ``journal:PATH`` spells the same explicitly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def is_journal(spec: str) -> bool:
    return spec.startswith("journal:") or "://" not in spec


def journal_path(spec: str) -> Path:
    path = spec[len("journal:"):] if spec.startswith("journal:") else spec
    return Path(path).expanduser()


def open_storage(spec: Any):
    """An Optuna storage for ``spec`` (a string as above, None for in-memory, or a storage)."""
    if spec is None or not isinstance(spec, str):
        return spec
    if not is_journal(spec):
        if spec.startswith("sqlite:///"):
            Path(spec[len("sqlite:///"):]).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return spec
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = journal_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The open(O_CREAT|O_EXCL) lock works on NFS and Lustre, where symlink locks may not.
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))

"""Paired data for cross-modal methods: a manifest (CSV or JSONL) naming two modalities per row.

Each row names one item of each modality (``columns: {image: COL, text: COL}``; modalities are
``image``, ``text`` and ``audio``) and optionally a label (``label: COL``) and a split
(``split: COL`` with values ``train``/``test``). A text column holds the text itself; an image or
audio column holds a reference, resolved against the manifest's folder:

- ``path/to/file.png`` (or ``.wav``...): a file; absolute paths are used as they are;
- ``path/to/array#17``: item 17 of an MNIST-style IDX file (plain or gzipped) or a ``.npy`` array;
- a member name of a tar(.gz) archive, when ``archives`` maps that modality to one
  (``archives: {image: {path: images.tar.gz, prefix: "64/"}}``: member = prefix + value).

Every reference is checked when the data set is built: a row naming a missing file, member or
array item raises :class:`~prism_runner.errors.DataError` naming the row and the file (with
``on_error=skip`` the row is dropped and listed in ``DataSource.skipped``). Everything is then
decoded into memory: images as uint8 (C, H, W) at ``image_size`` (transparent pixels composited on
white), audio as 1-D float32 at ``sample_rate`` (via :func:`prism_runner.data.audio.read_audio`).
"""
from __future__ import annotations

import csv
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from prism_runner.data.images import decode_image  # one image decoder for every reader
from prism_runner.data.source import (
    DataSource, check_on_error, require_path, stratified_split, stratified_subset,
)
from prism_runner.errors import DataError

MODALITIES = ("image", "text", "audio")
FILE_MODALITIES = ("image", "audio")
TRAIN_SPLITS = {"train", "training"}
TEST_SPLITS = {"test", "testing", "val", "valid", "validation", "heldout", "held-out"}


@dataclass
class PairedDataSource(DataSource):
    """A :class:`DataSource` of paired items, with the names of its classes and modalities."""

    class_names: List[str] = field(default_factory=list)   # label i is class_names[i]
    modalities: Tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"{len(self.train)} training pairs ({' + '.join(self.modalities)})"]
        if self.probe_test is not None:
            parts.append(f"{len(self.probe_test)} held-out pairs")
        if self.class_names:
            parts.append(f"{len(self.class_names)} classes")
        if self.skipped:
            parts.append(f"{len(self.skipped)} rows skipped")
        return ", ".join(parts)


class PairDataset(torch.utils.data.Dataset):
    """Items ``{modality: value, ..., "label": int}`` over per-modality lists held in memory."""

    def __init__(self, fields: Mapping[str, Sequence[Any]], labels: Optional[np.ndarray] = None,
                 names: Optional[Sequence[str]] = None):
        self.fields = {k: list(v) for k, v in fields.items()}
        lengths = {len(v) for v in self.fields.values()}
        if len(lengths) > 1:
            raise ValueError(f"modalities have different lengths: {lengths}")
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.names = list(names) if names is not None else None

    def __len__(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0

    def __getitem__(self, index: int) -> dict:
        item = {key: values[index] for key, values in self.fields.items()}
        if self.labels is not None:
            item["label"] = int(self.labels[index])
        return item

    def subset(self, indices: Sequence[int]) -> "PairDataset":
        idx = [int(i) for i in indices]
        return PairDataset({k: [v[i] for i in idx] for k, v in self.fields.items()},
                           None if self.labels is None else self.labels[idx],
                           None if self.names is None else [self.names[i] for i in idx])


def collate_pairs(items: List[dict]) -> dict:
    """Batch view outputs field by field.

    Equal-shaped tensors are stacked; 1-D integer tensors of different lengths (token ids) are
    padded with 0; 1-D float tensors of different lengths (waveforms) are zero-padded and their
    lengths added as ``<key>_length``; numbers become a tensor; anything else stays a list.
    """
    from prism_runner.data.text import pad_sequences

    batch: Dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        first = values[0]
        if torch.is_tensor(first):
            if all(v.shape == first.shape for v in values):
                batch[key] = torch.stack(values)
            elif first.dim() == 1 and not first.is_floating_point():
                batch[key] = pad_sequences(values)
            elif first.dim() == 1:
                lengths = torch.tensor([v.numel() for v in values])
                out = torch.zeros(len(values), int(lengths.max()), dtype=first.dtype)
                for i, v in enumerate(values):
                    out[i, : v.numel()] = v
                batch[key], batch[f"{key}_length"] = out, lengths
            else:
                raise DataError(f"cannot batch field {key!r}: shapes differ "
                                f"({tuple(first.shape)} vs others) and it is not 1-D")
        elif isinstance(first, (int, float, np.integer, np.floating)):
            batch[key] = torch.as_tensor(values)
        else:
            batch[key] = values
    return batch


# --------------------------------------------------------------------------------- reading rows

def read_manifest(path: Path) -> List[Tuple[int, Dict[str, Any]]]:
    """``(row number, row dict)`` for every row of a CSV/TSV (header line = row 1) or JSONL file
    (line numbers; blank lines skipped)."""
    suffix = path.suffix.lower()
    rows: List[Tuple[int, Dict[str, Any]]] = []
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataError(f"{path} line {number} is not valid JSON: {error}") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path} line {number}: expected a JSON object per line")
                    rows.append((number, row))
        elif suffix in (".csv", ".tsv"):
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
                for row in reader:
                    rows.append((reader.line_num, dict(row)))
        else:
            raise DataError(f"data.manifest={path}: expected a .csv, .tsv or .jsonl file")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read manifest {path}: {error}") from None
    if not rows:
        raise DataError(f"manifest {path} holds no rows")
    return rows


class _References:
    """Resolves image/audio references of a manifest, and checks them before any decoding."""

    def __init__(self, folder: Path, archives: Mapping[str, Any]):
        self.folder = folder
        self.archives: Dict[str, Tuple[tarfile.TarFile, set, str]] = {}
        self._arrays: Dict[Path, np.ndarray] = {}
        for modality, spec in (archives or {}).items():
            if spec is None:
                continue
            if isinstance(spec, (str, Path)):
                spec = {"path": spec}
            archive = self._path(str(spec["path"]))
            if not archive.is_file() or not tarfile.is_tarfile(archive):
                raise DataError(f"data.archives.{modality}.path={archive} is not a tar archive")
            tar = tarfile.open(archive)
            names = {m.name for m in tar.getmembers() if m.isfile()}
            self.archives[modality] = (tar, names, str(spec.get("prefix") or ""))

    def close(self) -> None:
        for tar, _, _ in self.archives.values():
            tar.close()

    def _path(self, ref: str) -> Path:
        path = Path(ref).expanduser()
        return path if path.is_absolute() else self.folder / path

    def _array(self, path: Path) -> np.ndarray:
        if path not in self._arrays:
            if path.suffix == ".npy":
                try:
                    self._arrays[path] = np.load(path, mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as error:
                    raise DataError(f"cannot read array file {path}: {error}") from None
            else:
                from prism_runner.data.images import _read_idx

                self._arrays[path] = _read_idx(path)
        return self._arrays[path]

    def missing(self, modality: str, ref: str) -> Optional[str]:
        """What is missing for ``ref`` (a message naming the file), or None when it resolves."""
        if modality in self.archives:
            tar, names, prefix = self.archives[modality]
            member = prefix + ref
            return None if member in names else f"member {member} is not in {tar.name}"
        path_s, _, index = ref.partition("#")
        path = self._path(path_s)
        if not path.is_file():
            return f"file {path} does not exist"
        if index:
            if not index.isdigit():
                return f"{ref}: the part after '#' must be an item number"
            n = len(self._array(path))
            if int(index) >= n:
                return f"item {index} is out of range: {path} holds {n} items"
        return None

    def name(self, modality: str, ref: str) -> str:
        if modality in self.archives:
            tar, _, prefix = self.archives[modality]
            return f"{tar.name}:{prefix + ref}"
        return str(self._path(ref.partition("#")[0])) + (f"#{ref.partition('#')[2]}" if "#" in ref else "")

    def read_image(self, ref: str, channels: int, size: int) -> np.ndarray:
        if "image" in self.archives:
            tar, _, prefix = self.archives["image"]
            data = tar.extractfile(prefix + ref).read()
            return decode_image(data, channels, size, self.name("image", ref))
        path_s, _, index = ref.partition("#")
        path = self._path(path_s)
        if index:
            return array_image(self._array(path)[int(index)], channels, size)
        return decode_image(path.read_bytes(), channels, size, str(path))

    def read_audio(self, ref: str, sample_rate: int) -> torch.Tensor:
        from prism_runner.data.audio import read_audio

        if "audio" in self.archives:
            raise DataError("audio from tar archives is not supported; extract the archive and "
                            "name the files in the manifest")
        path_s, _, index = ref.partition("#")
        if index:
            wave = np.asarray(self._array(self._path(path_s))[int(index)], dtype=np.float32)
            return torch.from_numpy(wave.reshape(-1).copy())
        return read_audio(self._path(path_s), sample_rate)


def array_image(arr: np.ndarray, channels: int, size: int) -> np.ndarray:
    """One array item (H, W) or (H, W, C) -> uint8 (C, size, size)."""
    from PIL import Image

    arr = np.asarray(arr)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * (255.0 if arr.max() <= 1 else 1.0)),
                      0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    out = np.asarray(img, dtype=np.uint8)
    return out[None].copy() if out.ndim == 2 else np.ascontiguousarray(out.transpose(2, 0, 1))


def _class_names(values: Sequence[str]) -> List[str]:
    unique = sorted(set(values))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


# ------------------------------------------------------------------------------------- factory

def paired_manifest(manifest=None, columns: Optional[Mapping[str, str]] = None,
                    label: Optional[str] = None, split: Optional[str] = None,
                    archives: Optional[Mapping[str, Any]] = None, limit: Optional[int] = None,
                    batch_size: int = 128, num_workers: int = 0, test_fraction: float = 0.2,
                    split_seed: int = 0, on_error: str = "raise", channels: int = 3,
                    image_size: int = 32, sample_rate: int = 16000,
                    **_metadata) -> PairedDataSource:
    """Read a paired manifest into held-in-memory training and held-out pair sets.

    Args:
        manifest: the CSV/TSV/JSONL file; relative references resolve against its folder.
        columns: modality -> column, two or more of ``image``, ``text``, ``audio``.
        label: column holding each pair's class (optional); classes are numbered in sorted
            order (numerically when every class name is a number).
        split: column with ``train``/``test`` per row; when null, a random split keeps
            ``test_fraction`` of the pairs apart (stratified by label when there is one).
        archives: modality -> ``{path: ARCHIVE, prefix: PREFIX}``: that column names members.
        limit: keep at most this many rows (stratified by label), before any file is read.
        on_error: ``raise`` on a missing/unreadable reference, or ``skip`` the row.

    Returns:
        PairedDataSource with ``train`` (= ``probe_train``) and ``probe_test`` of items
        ``{modality: value, "label": int}``, ``class_names`` and the pair collate.
    """

    check_on_error(on_error)
    path = require_path(manifest, key="data.manifest", example="/data/pairs.csv")
    if not path.is_file():
        raise DataError(f"data.manifest={path} is not a file")
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(MODALITIES))
    if unknown:
        raise DataError(f"data.columns names unknown modalities {unknown}; use "
                        f"{', '.join(MODALITIES)}")
    if len(columns) < 2:
        raise DataError(f"data.columns must name two modalities (e.g. {{image: COL, text: COL}}), "
                        f"got {columns}")
    rows = read_manifest(path)
    needed = dict(columns)
    if label:
        needed["label"] = label
    if split:
        needed["split"] = split
    for number, row in rows:
        for what, column in needed.items():
            value = row.get(column)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError(f"{path} row {number}: column {column!r} ({what}) is missing or "
                                f"empty (columns there: {', '.join(map(str, row))})")

    labels_raw = [str(row[label]) for _, row in rows] if label else None
    if limit is not None:
        keys = np.array(labels_raw) if labels_raw else np.zeros(len(rows), dtype=int)
        keep = stratified_subset(keys, int(limit), split_seed)
        rows = [rows[i] for i in keep]
        labels_raw = [labels_raw[i] for i in keep] if labels_raw else None

    refs = _References(path.parent, archives or {})
    skipped: List[str] = []
    fields: Dict[str, list] = {m: [] for m in columns}
    kept_rows: List[int] = []
    try:
        # 1. every reference resolves, before anything is decoded
        ok = []
        for i, (number, row) in enumerate(rows):
            problems = [p for m in columns if m in FILE_MODALITIES
                        for p in [refs.missing(m, str(row[columns[m]]))] if p]
            if problems:
                message = f"{path} row {number}: {'; '.join(problems)}"
                if on_error == "raise":
                    raise DataError(f"{message} (fix the manifest, or set data.on_error=skip to "
                                    "drop such rows)")
                skipped.append(message)
                continue
            ok.append(i)
        # 2. decode
        for i in _progress(ok, f"reading {path.name}"):
            number, row = rows[i]
            try:
                values = {}
                for modality, column in columns.items():
                    ref = str(row[column])
                    if modality == "image":
                        values[modality] = torch.from_numpy(
                            refs.read_image(ref, channels, image_size))
                    elif modality == "audio":
                        values[modality] = refs.read_audio(ref, sample_rate)
                    else:
                        values[modality] = ref
            except DataError as error:
                message = f"{path} row {number}: {error}"
                if on_error == "raise":
                    raise DataError(f"{message} (set data.on_error=skip to drop such rows)") from None
                skipped.append(message)
                continue
            for modality, value in values.items():
                fields[modality].append(value)
            kept_rows.append(i)
    finally:
        refs.close()
    if not kept_rows:
        raise DataError(f"none of the {len(rows)} rows of {path} could be read")

    class_names: List[str] = []
    labels = None
    if labels_raw is not None:
        kept_labels = [labels_raw[i] for i in kept_rows]
        class_names = _class_names(kept_labels)
        index = {name: k for k, name in enumerate(class_names)}
        labels = np.array([index[v] for v in kept_labels], dtype=np.int64)
    names = [f"row {rows[i][0]}" for i in kept_rows]
    everything = PairDataset(fields, labels, names)

    if split:
        values = [str(rows[i][1][split]).strip().lower() for i in kept_rows]
        bad = sorted({v for v in values if v not in TRAIN_SPLITS | TEST_SPLITS})
        if bad:
            raise DataError(f"{path}: column {split!r} holds {bad}; expected train or test")
        train_idx = [k for k, v in enumerate(values) if v in TRAIN_SPLITS]
        test_idx = [k for k, v in enumerate(values) if v in TEST_SPLITS]
    elif labels is not None:
        train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
    else:
        order = np.random.default_rng(split_seed).permutation(len(everything))
        n_test = max(1, int(round(len(order) * test_fraction)))
        test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(f"{path}: the split leaves {len(train_idx)} training and {len(test_idx)} "
                        "held-out pairs; both must be non-empty")
    train, test = everything.subset(train_idx), everything.subset(test_idx)
    return PairedDataSource(train=train, probe_train=train, probe_test=test,
                            collate=collate_pairs, batch_size=batch_size,
                            num_workers=num_workers, skipped=skipped, name=path.name,
                            class_names=class_names, modalities=tuple(columns))


def _progress(items: Sequence, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False, disable=len(items) < 1000, mininterval=1.0)

"""Audio data sets: folders of wav/flac files read with soundfile, resampled on load.

Every reader ends in the same in-memory form: one 1-D float32 tensor per clip at
``sample_rate``, an optional integer label and an optional speaker. All files are decoded when the
data set is built, so an unreadable, empty or missing file is reported up front (a
:class:`~prism_runner.errors.DataError` naming it), never deep inside a training batch.

Evaluation splits by speaker when speakers are known: the linear probe is fitted on some speakers
and scored on others it (and self-supervised training) never saw.

:func:`read_audio` is the reusable reader (mono, float32, resampled); :func:`pad_collate` batches
variable-length clips as zero-padded ``(N, T)`` plus ``lengths``.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from prism_runner.data.source import (
    DataSource, check_on_error, require_path, stratified_split, stratified_subset,
)
from prism_runner.errors import DataError

AUDIO_SUFFIXES = {".wav", ".flac"}


def read_audio(path, sample_rate: int) -> torch.Tensor:
    """Decode an audio file to a mono 1-D float32 tensor at ``sample_rate`` Hz.

    Multi-channel files are averaged to mono; other rates are resampled with
    ``torchaudio.functional.resample`` (band-limited sinc interpolation). Samples are in [-1, 1].

    Args:
        path: a wav/flac (anything libsndfile reads) file.
        sample_rate: the rate of the returned samples, in Hz.

    Returns:
        Tensor of shape ``(num_samples,)``, dtype float32.

    Raises:
        DataError: naming the file, when it is missing, cannot be decoded, holds no samples or
            holds NaN/Inf samples.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file {path} does not exist")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        raise DataError(f"cannot decode audio file {path}: {message}") from None
    if data.shape[0] == 0:
        raise DataError(f"audio file {path} is empty (0 samples)")
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)))
    if not torch.isfinite(wave).all():
        raise DataError(f"audio file {path} holds NaN or Inf samples")
    if int(rate) != int(sample_rate):
        import torchaudio.functional as AF

        wave = AF.resample(wave, int(rate), int(sample_rate))
        if wave.numel() == 0:
            raise DataError(f"audio file {path} is too short to resample from {rate} Hz to "
                            f"{sample_rate} Hz")
    return wave.contiguous()


class AudioDataset(torch.utils.data.Dataset):
    """Items ``{"audio": float32 (T,), "label": int, "speaker": int}`` over decoded clips.

    ``label`` / ``speaker`` are present only when known. ``names`` holds each clip's file path.
    """

    def __init__(self, clips: Sequence[torch.Tensor], labels: Optional[Sequence[int]] = None,
                 speakers: Optional[Sequence[int]] = None, names: Optional[Sequence[str]] = None):
        self.clips = list(clips)
        self.labels = None if labels is None else [int(x) for x in labels]
        self.speakers = None if speakers is None else [int(x) for x in speakers]
        self.names = list(names) if names is not None else [str(i) for i in range(len(clips))]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        item: Dict[str, Any] = {"audio": self.clips[index]}
        if self.labels is not None:
            item["label"] = self.labels[index]
        if self.speakers is not None:
            item["speaker"] = self.speakers[index]
        return item

    def subset(self, indices: Sequence[int]) -> "AudioDataset":
        idx = [int(i) for i in indices]
        return AudioDataset([self.clips[i] for i in idx],
                            None if self.labels is None else [self.labels[i] for i in idx],
                            None if self.speakers is None else [self.speakers[i] for i in idx],
                            [self.names[i] for i in idx])


def pad_collate(items: List[dict]) -> dict:
    """Batch audio items of different lengths.

    ``audio`` (1-D tensors) becomes a zero-padded float tensor ``(N, T_max)`` and ``lengths`` a
    long tensor ``(N,)`` of valid samples (an item's ``length`` when a view set it, e.g. a clip
    padded to a fixed duration, else its tensor length). ``label``/``speaker`` and other scalars
    become tensors; other equal-shaped tensors are stacked; anything else is kept as a list.
    """
    if not items:
        raise ValueError("pad_collate got an empty batch")
    batch: Dict[str, Any] = {}
    waves = [torch.as_tensor(item["audio"]).reshape(-1) for item in items]
    longest = max(w.numel() for w in waves)
    audio = torch.zeros(len(waves), longest, dtype=torch.float32)
    for i, w in enumerate(waves):
        audio[i, : w.numel()] = w
    batch["audio"] = audio
    batch["lengths"] = torch.tensor([int(item.get("length", w.numel()))
                                     for item, w in zip(items, waves)], dtype=torch.long)
    for key in items[0]:
        if key in ("audio", "length"):
            continue
        values = [item[key] for item in items]
        if all(isinstance(v, (int, float, bool, np.integer, np.floating)) for v in values):
            batch[key] = torch.tensor(values)
        elif all(torch.is_tensor(v) for v in values) and len({v.shape for v in values}) == 1:
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    return batch


# ----------------------------------------------------------------------------- listing

def _read_manifest(manifest: Path, root: Path) -> List[Tuple[Path, Optional[str], Optional[str]]]:
    """Rows ``path,label[,speaker]`` (with that header); paths relative to ``root``."""
    if not manifest.is_file():
        raise DataError(f"data.manifest={manifest} does not exist")
    entries = []
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        if "path" not in fields:
            raise DataError(f"manifest {manifest} needs a header row with a 'path' column "
                            f"(and optionally 'label', 'speaker'); found {fields}")
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not row.get("path"):
                raise DataError(f"manifest {manifest} line {line}: empty path")
            file = Path(row["path"]).expanduser()
            file = file if file.is_absolute() else root / file
            entries.append((file, row.get("label") or None, row.get("speaker") or None))
    if not entries:
        raise DataError(f"manifest {manifest} lists no files")
    return entries


def _list_by_pattern(root: Path, pattern: Optional[str]):
    """Audio files under ``root`` (recursive, sorted); label/speaker from named regex groups
    ``label`` / ``speaker`` matched against the file name without suffix."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"no audio files found under {root} (suffixes "
                        f"{', '.join(sorted(AUDIO_SUFFIXES))})")
    if not pattern:
        return [(p, None, None) for p in files], []
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise DataError(f"data.pattern={pattern!r} is not a valid regular expression: {error}")
    groups = set(regex.groupindex)
    if not groups & {"label", "speaker"}:
        raise DataError(f"data.pattern={pattern!r} needs a named group (?P<label>...) and/or "
                        "(?P<speaker>...)")
    entries, unmatched = [], []
    for p in files:
        m = regex.fullmatch(p.stem)
        if m is None:
            unmatched.append(p)
            continue
        entries.append((p, m.group("label") if "label" in groups else None,
                        m.group("speaker") if "speaker" in groups else None))
    return entries, unmatched


def _index(values: Sequence[str]) -> Tuple[List[str], np.ndarray]:
    """Sorted unique names (numerically when all are integers) and each value's index."""
    unique = set(values)
    key = (lambda s: int(s)) if all(re.fullmatch(r"-?\d+", s) for s in unique) else (lambda s: s)
    names = sorted(unique, key=key)
    lookup = {n: i for i, n in enumerate(names)}
    return names, np.array([lookup[v] for v in values], dtype=np.int64)


# ----------------------------------------------------------------------------- factories

def audio_folder(root=None, manifest: Optional[str] = None, pattern: Optional[str] = None,
                 sample_rate: int = 16000, test_speakers: Optional[Sequence[str]] = None,
                 test_fraction: float = 0.2, train_on_test_speakers: bool = False,
                 min_seconds: float = 0.0, limit: Optional[int] = None, batch_size: int = 32,
                 num_workers: int = 0, split_seed: int = 0, on_error: str = "raise",
                 name: Optional[str] = None, **_metadata) -> DataSource:
    """A folder of wav/flac files, labelled by a CSV manifest or a file-name pattern.

    Args:
        root: the folder (searched recursively when no manifest is given).
        manifest: CSV with header ``path,label[,speaker]``; relative paths are under ``root``,
            a relative manifest path too. Wins over ``pattern``.
        pattern: regex with named groups ``label`` and/or ``speaker`` matched against each
            file's name without suffix, e.g. ``(?P<label>\\d)_(?P<speaker>[a-z]+)_\\d+``.
        sample_rate: every clip is resampled to this rate on load.
        test_speakers: speakers whose clips form ``probe_test``; ``None`` picks
            ``ceil(test_fraction * speakers)`` of them with ``split_seed``. Without speakers the
            probe split is stratified by label (``test_fraction``).
        train_on_test_speakers: also use the held-out speakers' clips (not their labels) for
            self-supervised training. Off by default: the test speakers stay entirely unseen.
        min_seconds: clips shorter than this are treated as unreadable.
        limit: keep a label-stratified subset of at most this many files (quick runs).
        on_error: ``raise`` (default) or ``skip`` unreadable/empty/missing files (their names go
            to ``DataSource.skipped``).

    Raises:
        DataError: a missing root/manifest/file, an undecodable or empty file (naming it), a
            file name the pattern does not match, or an unknown test speaker.
    """
    check_on_error(on_error)
    folder = require_path(root, example="/data/my_audio", what="a folder of wav/flac files")
    if folder.is_file():
        raise DataError(f"data.root={folder} is a file; give the folder holding the audio files")
    skipped: List[str] = []
    if manifest:
        manifest_path = Path(str(manifest)).expanduser()
        if not manifest_path.is_absolute() and not manifest_path.exists():
            manifest_path = folder / manifest_path
        entries = _read_manifest(manifest_path, folder)
    else:
        entries, unmatched = _list_by_pattern(folder, pattern)
        if unmatched:
            if on_error == "raise":
                raise DataError(f"file name {unmatched[0]} does not match data.pattern={pattern!r}"
                                f" ({len(unmatched)} files do not; set data.on_error=skip to "
                                "drop them)")
            skipped.extend(str(p) for p in unmatched)
        if not entries:
            raise DataError(f"no file under {folder} matches data.pattern={pattern!r}")

    labelled = all(label is not None for _, label, _ in entries)
    has_speakers = all(spk is not None for _, _, spk in entries)
    if limit is not None:
        strata = np.array([str(lab) for _, lab, _ in entries]) if labelled else np.zeros(len(entries))
        keep = stratified_subset(strata, int(limit), split_seed)
        entries = [entries[i] for i in keep]

    clips, kept = [], []
    min_samples = int(round(min_seconds * sample_rate))
    for entry in entries:
        path = entry[0]
        try:
            wave = read_audio(path, sample_rate)
            if wave.numel() < max(min_samples, 1):
                raise DataError(f"audio file {path} is shorter than data.min_seconds="
                                f"{min_seconds} ({wave.numel() / sample_rate:.3f} s)")
        except DataError as error:
            if on_error == "raise":
                raise DataError(f"{error} (set data.on_error=skip to drop unreadable files)") from None
            skipped.append(str(path))
            continue
        clips.append(wave)
        kept.append(entry)
    if not clips:
        raise DataError(f"none of the {len(entries)} audio files under {folder} could be read")

    names = [str(p) for p, _, _ in kept]
    label_names, labels = _index([lab for _, lab, _ in kept]) if labelled else (None, None)
    speaker_names, speakers = _index([s for _, _, s in kept]) if has_speakers else (None, None)
    dataset = AudioDataset(clips, labels, speakers, names)
    return split_audio(dataset, label_names=label_names, speaker_names=speaker_names,
                       test_speakers=test_speakers, test_fraction=test_fraction,
                       train_on_test_speakers=train_on_test_speakers, batch_size=batch_size,
                       num_workers=num_workers, split_seed=split_seed, skipped=skipped,
                       name=name or folder.name)


def split_audio(dataset: AudioDataset, *, label_names, speaker_names, test_speakers,
                test_fraction: float, train_on_test_speakers: bool, batch_size: int,
                num_workers: int, split_seed: int, skipped: List[str], name: str) -> DataSource:
    """Training set plus a probe split: by speaker when speakers are known, else by label."""
    if dataset.labels is None:
        return DataSource(train=dataset, collate=pad_collate, batch_size=batch_size,
                          num_workers=num_workers, skipped=skipped, name=name)
    labels = np.array(dataset.labels)
    if dataset.speakers is None:
        train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
        train = dataset.subset(train_idx)
        return DataSource(train=train, probe_train=train, probe_test=dataset.subset(test_idx),
                          collate=pad_collate, batch_size=batch_size, num_workers=num_workers,
                          skipped=skipped, name=name)
    speakers = np.array(dataset.speakers)
    if len(speaker_names) < 2:
        raise DataError(f"{name}: a speaker-held-out probe needs at least 2 speakers, found "
                        f"{len(speaker_names)} ({', '.join(speaker_names)})")
    if test_speakers:
        held = [str(s) for s in test_speakers]
        unknown = [s for s in held if s not in speaker_names]
        if unknown:
            raise DataError(f"data.test_speakers: unknown speaker(s) {', '.join(unknown)}; the "
                            f"data has {', '.join(speaker_names)}")
        if len(set(held)) >= len(speaker_names):
            raise DataError("data.test_speakers holds every speaker; leave at least one for the "
                            "probe's training split")
    else:
        count = min(max(1, math.ceil(test_fraction * len(speaker_names))), len(speaker_names) - 1)
        order = np.random.default_rng(split_seed).permutation(len(speaker_names))
        held = [speaker_names[i] for i in sorted(order[:count])]
    held_ids = [speaker_names.index(s) for s in held]
    is_test = np.isin(speakers, held_ids)
    probe_train = dataset.subset(np.flatnonzero(~is_test))
    probe_test = dataset.subset(np.flatnonzero(is_test))
    train = dataset if train_on_test_speakers else probe_train
    source = DataSource(train=train, probe_train=probe_train, probe_test=probe_test,
                        collate=pad_collate, batch_size=batch_size, num_workers=num_workers,
                        skipped=skipped, name=name)
    source.test_speakers = held            # for describe()/debugging; not part of the contract
    source.label_names = label_names
    return source


FSDD_PATTERN = r"(?P<label>\d)_(?P<speaker>[a-z]+)_\d+"


def fsdd(root=None, sample_rate: int = 8000, test_speakers: Optional[Sequence[str]] = ("theo",),
         **kwargs) -> DataSource:
    """The Free Spoken Digit Dataset bundled in ``data/fsdd`` (2,500 clips at 8 kHz, 5 speakers,
    labels 0-9 from ``recordings/{digit}_{speaker}_{index}.wav``), split by speaker."""
    if root is None:
        from prism_runner.resolvers import REPO_ROOT

        root = REPO_ROOT / "data" / "fsdd"
    root = Path(str(root)).expanduser()
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    kwargs.setdefault("name", "fsdd")
    return audio_folder(root=folder, pattern=FSDD_PATTERN, sample_rate=sample_rate,
                        test_speakers=test_speakers, **kwargs)

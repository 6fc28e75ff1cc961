"""Audio reading, folder/manifest factories, speaker split, bad files, views and collate."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from prism_runner.data.audio import audio_folder, fsdd, pad_collate, read_audio
from prism_runner.data.audio_views import AudioCropViews
from prism_runner.errors import DataError

SR = 8000


def tone(seconds: float = 0.3, freq: float = 440.0, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write_wav(path: Path, data: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sr, subtype="PCM_16")
    return path


def make_folder(root: Path, speakers=("ann", "bob", "cat"), digits=(0, 1), reps=2) -> Path:
    for spk in speakers:
        for d in digits:
            for i in range(reps):
                write_wav(root / f"{d}_{spk}_{i}.wav", tone(0.2 + 0.05 * i, 300 + 200 * d))
    return root


PATTERN = r"(?P<label>\d)_(?P<speaker>[a-z]+)_\d+"


# ---------------------------------------------------------------------------- read_audio

def test_read_audio_mono_float32(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(0.25))
    wave = read_audio(path, SR)
    assert wave.dtype == torch.float32 and wave.dim() == 1 and wave.numel() == 2000
    assert wave.abs().max() <= 1.0


def test_read_audio_resamples_and_mixes_down(tmp_path):
    path = write_wav(tmp_path / "st.flac", tone(0.25, sr=16000, channels=2), sr=16000)
    wave = read_audio(path, SR)
    assert wave.dim() == 1 and abs(wave.numel() - 2000) <= 1


@pytest.mark.parametrize("kind", ["empty", "zero_bytes", "garbage", "truncated_header", "missing"])
def test_read_audio_bad_files_name_the_file(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        sf.write(str(path), np.zeros(0, dtype=np.float32), SR)      # a valid header, 0 samples
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(b"this is not audio at all" * 50)
    elif kind == "truncated_header":
        write_wav(tmp_path / "good.wav", tone(0.1))
        path.write_bytes((tmp_path / "good.wav").read_bytes()[:20])
    with pytest.raises(DataError, match=kind):
        read_audio(path, SR)


# ---------------------------------------------------------------------------- factories

def test_pattern_folder_splits_by_speaker(tmp_path):
    root = make_folder(tmp_path / "clips")
    src = audio_folder(root=root, pattern=PATTERN, sample_rate=SR, test_speakers=["cat"],
                       batch_size=2)
    assert len(src.probe_test) == 4 and len(src.probe_train) == 8 and len(src.train) == 8
    test_names = src.probe_test.names
    assert all("_cat_" in n for n in test_names)
    assert not any("_cat_" in n for n in src.train.names + src.probe_train.names)
    item = src.train[0]
    assert set(item) == {"audio", "label", "speaker"} and item["audio"].dtype == torch.float32
    assert sorted({src.probe_test[i]["label"] for i in range(4)}) == [0, 1]


def test_random_speaker_holdout_and_train_on_test_speakers(tmp_path):
    root = make_folder(tmp_path / "clips")
    src = audio_folder(root=root, pattern=PATTERN, sample_rate=SR, test_fraction=0.3,
                       train_on_test_speakers=True, batch_size=2)
    assert len(src.test_speakers) == 1
    assert len(src.train) == 12 and len(src.probe_train) == 8


def test_manifest_with_labels_and_speakers(tmp_path):
    root = make_folder(tmp_path / "clips", speakers=("ann", "bob"))
    (tmp_path / "clips" / "m.csv").write_text(
        "path,label,speaker\n" + "".join(f"{d}_{s}_{i}.wav,{'yes' if d else 'no'},{s}\n"
                                         for s in ("ann", "bob") for d in (0, 1) for i in (0, 1)))
    src = audio_folder(root=root, manifest="m.csv", sample_rate=SR, test_speakers=["bob"])
    assert len(src.probe_test) == 4 and src.label_names == ["no", "yes"]


def test_manifest_missing_file_raises_or_skips(tmp_path):
    root = make_folder(tmp_path / "clips", speakers=("ann", "bob"))
    rows = "".join(f"{d}_{s}_0.wav,{d},{s}\n" for s in ("ann", "bob") for d in (0, 1))
    (root / "m.csv").write_text("path,label,speaker\n" + rows + "gone.wav,1,bob\n")
    with pytest.raises(DataError, match="gone.wav"):
        audio_folder(root=root, manifest="m.csv", sample_rate=SR)
    src = audio_folder(root=root, manifest="m.csv", sample_rate=SR, on_error="skip")
    assert len(src.skipped) == 1 and src.skipped[0].endswith("gone.wav")
    assert len(src.probe_train) + len(src.probe_test) == 4


@pytest.mark.parametrize("bad", ["empty", "corrupt"])
def test_folder_bad_file_raises_up_front_or_is_skipped(tmp_path, bad):
    root = make_folder(tmp_path / "clips")
    path = root / f"1_bob_9.wav"
    if bad == "empty":
        sf.write(str(path), np.zeros(0, dtype=np.float32), SR)
    else:
        path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(DataError, match="1_bob_9.wav"):
        audio_folder(root=root, pattern=PATTERN, sample_rate=SR)
    src = audio_folder(root=root, pattern=PATTERN, sample_rate=SR, on_error="skip")
    assert [Path(p).name for p in src.skipped] == ["1_bob_9.wav"]
    assert len(src.probe_train) + len(src.probe_test) == 12


def test_pattern_mismatch_and_bad_settings(tmp_path):
    root = make_folder(tmp_path / "clips")
    write_wav(root / "oddname.wav", tone())
    with pytest.raises(DataError, match="oddname"):
        audio_folder(root=root, pattern=PATTERN, sample_rate=SR)
    assert audio_folder(root=root, pattern=PATTERN, sample_rate=SR, on_error="skip").skipped
    with pytest.raises(DataError, match="unknown speaker"):
        audio_folder(root=root, pattern=PATTERN, sample_rate=SR, test_speakers=["zed"],
                     on_error="skip")
    with pytest.raises(DataError, match="data.root"):
        audio_folder(root=tmp_path / "nope", pattern=PATTERN)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        audio_folder(root=tmp_path / "empty_dir", pattern=PATTERN)


def test_fsdd_bundled_subset_is_speaker_split():
    src = fsdd(limit=100, test_speakers=["theo"])
    assert src.probe_test is not None and len(src.probe_test) > 0
    assert all("_theo_" in n for n in src.probe_test.names)
    assert not any("_theo_" in n for n in src.train.names)
    assert src.label_names == [str(d) for d in range(10)]


# ---------------------------------------------------------------------------- views + collate

def test_views_crop_pad_and_collate_lengths():
    torch.manual_seed(0)
    views = AudioCropViews(sample_rate=1000, seconds=0.1, eval_seconds=0.05)
    short = {"audio": torch.randn(60), "label": 3}
    long = {"audio": torch.randn(250), "label": 4}
    a, b = views.train(short), views.train(long)
    assert a["audio"].shape == (100,) and a["length"] == 60 and (a["audio"][60:] == 0).all()
    assert b["audio"].shape == (100,) and b["length"] == 100
    e = views.eval(long)
    assert e["audio"].shape == (50,) and e["length"] == 50 and e["label"] == 4
    assert views.eval(short)["audio"].shape == (50,)
    batch = pad_collate([views.eval({"audio": torch.randn(30), "label": 1}), e])
    assert batch["audio"].shape == (2, 50) and batch["lengths"].tolist() == [30, 50]
    assert batch["label"].tolist() == [1, 4] and (batch["audio"][0, 30:] == 0).all()
    train_batch = pad_collate([a, b])
    assert train_batch["audio"].shape == (2, 100) and train_batch["lengths"].tolist() == [60, 100]

"""Paired manifests: CSV/JSONL, files, archive members, IDX items; missing files fail up front."""
import gzip
import io
import json
import struct
import tarfile

import numpy as np
import pytest
import torch

from prism_runner.data.pair_views import PairViews
from prism_runner.data.pairs import collate_pairs, paired_manifest
from prism_runner.errors import DataError


def _png(path, value):
    from PIL import Image

    Image.fromarray(np.full((10, 10, 3), value, dtype=np.uint8)).save(path)


def _wav(path, seconds=0.25, rate=8000):
    import soundfile as sf

    t = np.arange(int(rate * seconds)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


def _csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")


@pytest.fixture
def image_text(tmp_path):
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(10):
        _png(tmp_path / "img" / f"{i}.png", 20 * i)
        rows.append((f"img/{i}.png", f"thing number {i}", "ab"[i % 2]))
    _csv(tmp_path / "pairs.csv", ["image", "caption", "kind"], rows)
    return tmp_path


def _source(root, **kw):
    args = dict(columns={"image": "image", "text": "caption"}, label="kind", image_size=8,
                test_fraction=0.2)
    args.update(kw)
    return paired_manifest(root / "pairs.csv", **args)


def test_csv_image_text_reads_and_splits(image_text):
    source = _source(image_text)
    assert len(source.train) == 8 and len(source.probe_test) == 2
    assert source.class_names == ["a", "b"]
    item = source.train[0]
    assert item["image"].shape == (3, 8, 8) and item["image"].dtype == torch.uint8
    assert item["text"].startswith("thing number") and item["label"] in (0, 1)
    assert sorted(source.probe_test[i]["label"] for i in range(2)) == [0, 1]  # stratified


def test_missing_file_raises_naming_row_and_file(image_text):
    (image_text / "img" / "3.png").unlink()
    with pytest.raises(DataError) as info:
        _source(image_text)
    message = str(info.value)
    assert "row 5" in message and "3.png" in message and "does not exist" in message


def test_missing_file_skipped_and_listed(image_text):
    (image_text / "img" / "3.png").unlink()
    source = _source(image_text, on_error="skip")
    assert len(source.train) + len(source.probe_test) == 9
    assert len(source.skipped) == 1 and "3.png" in source.skipped[0]
    assert "row 5" in source.skipped[0]


def test_unreadable_image_raises_naming_row(image_text):
    (image_text / "img" / "4.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"row 6.*4\.png"):
        _source(image_text)


def test_missing_column_is_named(image_text):
    with pytest.raises(DataError, match="'title'"):
        _source(image_text, columns={"image": "image", "text": "title"})


def test_jsonl_archive_members_and_missing_member(tmp_path):
    with tarfile.open(tmp_path / "imgs.tar.gz", "w:gz") as tar:
        for i in range(4):
            buf = io.BytesIO()
            from PIL import Image

            Image.fromarray(np.full((6, 6, 4), 40 * i, dtype=np.uint8)).save(buf, format="PNG")
            info = tarfile.TarInfo(f"64/{i}.png")
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    rows = [{"file": f"{i}.png", "name": f"emoji {i}"} for i in range(4)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    kw = dict(columns={"image": "file", "text": "name"}, archives={"image": {
        "path": "imgs.tar.gz", "prefix": "64/"}}, image_size=6, test_fraction=0.25)
    source = paired_manifest(tmp_path / "pairs.jsonl", **kw)
    assert len(source.train) == 3 and len(source.probe_test) == 1
    rows.append({"file": "9.png", "name": "gone"})
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"line 5|row 5") as info:
        paired_manifest(tmp_path / "pairs.jsonl", **kw)
    assert "64/9.png" in str(info.value)


def _idx(path, array):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_audio_image_with_idx_items_and_split_column(tmp_path):
    images = np.stack([np.full((5, 5), 25 * i) for i in range(4)])
    _idx(tmp_path / "imgs.gz", images)
    rows = []
    for i in range(4):
        _wav(tmp_path / f"{i}.wav", seconds=0.1 + 0.05 * i)
        rows.append((f"{i}.wav", f"imgs.gz#{i}", i % 2, "test" if i == 0 else "train"))
    _csv(tmp_path / "pairs.csv", ["audio", "image", "digit", "split"], rows)
    kw = dict(columns={"audio": "audio", "image": "image"}, label="digit", split="split",
              channels=1, image_size=5, sample_rate=8000)
    source = paired_manifest(tmp_path / "pairs.csv", **kw)
    assert len(source.train) == 3 and len(source.probe_test) == 1
    test_item = source.probe_test[0]
    assert test_item["audio"].shape == (800,) and test_item["image"].shape == (1, 5, 5)
    assert int(test_item["image"][0, 0, 0]) == 0

    rows[2] = ("2.wav", "imgs.gz#7", 0, "train")  # item out of range
    _csv(tmp_path / "pairs.csv", ["audio", "image", "digit", "split"], rows)
    with pytest.raises(DataError, match=r"row 4.*item 7"):
        paired_manifest(tmp_path / "pairs.csv", **kw)
    rows[2] = ("nowhere.wav", "imgs.gz#2", 0, "train")
    _csv(tmp_path / "pairs.csv", ["audio", "image", "digit", "split"], rows)
    with pytest.raises(DataError, match=r"row 4.*nowhere\.wav"):
        paired_manifest(tmp_path / "pairs.csv", **kw)


def test_views_and_collate_pad_text_and_fix_audio_length():
    views = PairViews(image_size=8, crop_scale=(0.7, 1.0), sample_rate=8000, clip_seconds=0.1,
                      gain_db=6.0)
    items = [{"image": torch.full((3, 8, 8), 100, dtype=torch.uint8), "text": "a" * n,
              "audio": torch.randn(300 * n), "label": n} for n in (1, 5)]
    batch = collate_pairs([views.train(item) for item in items])
    assert batch["image"].shape == (2, 3, 8, 8)
    assert batch["text"].shape == (2, 7) and batch["text"][0, 3:].eq(0).all()
    assert batch["audio"].shape == (2, 800)
    ev = collate_pairs([views.eval(item) for item in items])
    assert ev["label"].tolist() == [1, 5]
    only_text = collate_pairs([views.eval({"text": "cat"})])
    assert set(only_text) == {"text"}


def test_bundled_fsdd_mnist_manifest_resolves():
    """The shipped manifest is what the wav2clip recipe reads: every row resolves."""
    from prism_runner.data.pairs import _References, read_manifest
    from prism_runner.resolvers import REPO_ROOT

    path = REPO_ROOT / "data" / "pairs" / "fsdd_mnist.csv"
    rows = read_manifest(path)
    assert len(rows) == 2500
    refs = _References(path.parent, {})
    assert not [r for _, r in rows if refs.missing("audio", r["audio"])
                or refs.missing("image", r["image"])]
    assert sum(r["split"] == "test" for _, r in rows) == 250


def test_generic_pairs_config_with_clip_recipe(image_text):
    """`+recipe=clip data=pairs data.manifest=...` builds data, views, method and evaluator."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    import prism_runner  # noqa: F401  (resolvers)
    from prism_runner.build import build_experiment

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "+recipe=clip", "tracking=none", f"data.manifest={image_text / 'pairs.csv'}",
            "data=pairs", "data.columns.text=caption", "data.label=kind", "data.batch_size=4"])
    exp = build_experiment(cfg)
    assert len(exp.source.train) == 8 and exp.source.class_names == ["a", "b"]
    batch = exp.source.collate([exp.views.train(exp.source.train[i]) for i in range(4)])
    out = exp.method(batch)
    assert out["loss"].ndim == 0 and set(exp.method.embed(batch)) == {"image", "text"}

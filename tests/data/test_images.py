"""The image readers on real images: digits, ImageFolder trees, tar archives, .npz, MNIST IDX."""
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from prism_testing import REPO
from prism_runner.data import images
from prism_runner.data.image_views import SimCLRImageViews
from prism_runner.errors import DataError


def _digit_pngs(folder, per_class=4):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for cls in (0, 1):
        (folder / f"class{cls}").mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(bunch.target == cls)[:per_class]
        for i in idx:
            arr = (bunch.images[i] * 255 / 16).astype(np.uint8)
            Image.fromarray(arr).convert("RGB").save(folder / f"class{cls}" / f"{i}.png")
    return folder


def test_digits_split_is_stratified_and_disjoint():
    source = images.digits(batch_size=32, test_fraction=0.3)
    assert len(source.probe_train) + len(source.probe_test) == 1797
    item = source.train[0]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (1, 8, 8)
    test_labels = [source.probe_test[i]["label"] for i in range(len(source.probe_test))]
    assert set(test_labels) == set(range(10))


def test_image_folder_reads_tree_and_resizes(tmp_path):
    folder = _digit_pngs(tmp_path / "imgs")
    source = images.image_folder(root=folder, channels=3, image_size=16, test_fraction=0.25)
    assert len(source.probe_train) + len(source.probe_test) == 8
    assert source.train[0]["image"].shape == (3, 16, 16)


def test_image_folder_reads_tar_archive(tmp_path):
    folder = _digit_pngs(tmp_path / "imgs")
    archive = tmp_path / "imgs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="train")
    source = images.image_folder(root=archive, channels=1, image_size=8, test_fraction=0.25)
    assert len(source.probe_train) + len(source.probe_test) == 8


def test_bundled_cifar_archive_subset():
    root = REPO / "data" / "cifar10" / "cifar10_train_2500_per_class.tar.gz"
    source = images.image_folder(root=root, limit=200, channels=3, image_size=32,
                                 test_fraction=0.2)
    assert len(source.probe_train) + len(source.probe_test) == 200
    labels = {source.probe_test[i]["label"] for i in range(len(source.probe_test))}
    assert labels == set(range(10))


def test_truncated_image_raises_or_is_skipped(tmp_path):
    folder = _digit_pngs(tmp_path / "imgs")
    good = (next((folder / "class0").glob("*.png"))).read_bytes()
    (folder / "class1" / "truncated.png").write_bytes(good[:40])
    with pytest.raises(DataError, match="truncated.png"):
        images.image_folder(root=folder, channels=1, image_size=8, test_fraction=0.25)
    source = images.image_folder(root=folder, channels=1, image_size=8, test_fraction=0.25,
                                 on_error="skip")
    assert len(source.skipped) == 1 and source.skipped[0].endswith("truncated.png")
    assert "1 unreadable items skipped" in source.describe()


def test_npz_with_and_without_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, size=(40, 12, 12), dtype=np.uint8)
    y = np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    source = images.npz(root=tmp_path / "a.npz", channels=1, image_size=12, test_fraction=0.3)
    assert len(source.probe_test) == 12
    np.savez(tmp_path / "b.npz", x=x.astype(np.float32) / 255.0)
    unlabelled = images.npz(root=tmp_path / "b.npz", channels=3, image_size=8)
    assert unlabelled.probe_train is None and unlabelled.train[0]["image"].shape == (3, 8, 8)
    np.savez(tmp_path / "c.npz", images=x)
    with pytest.raises(DataError, match="no array named 'x'"):
        images.npz(root=tmp_path / "c.npz")


def test_mnist_idx_bundled():
    source = images.mnist_idx(root=REPO / "data" / "mnist",
                              images="t10k-shared-images-idx3-ubyte.gz",
                              labels="t10k-shared-labels-idx1-ubyte.gz", limit=500)
    assert len(source.probe_train) + len(source.probe_test) == 500
    assert source.train[0]["image"].shape == (1, 28, 28)


def test_views_are_drawn_per_sample():
    views = SimCLRImageViews(size=8, crop_scale=(0.2, 1.0), mean=[0.5], std=[0.5])
    torch.manual_seed(0)
    image = torch.randint(0, 255, (1, 8, 8), dtype=torch.uint8)
    a, b = views.train({"image": image})["views"]
    assert a.shape == (1, 8, 8) and a.dtype == torch.float32
    assert not torch.equal(a, b)
    plain = views.eval({"image": image, "label": 3})
    assert plain["label"] == 3 and torch.allclose(plain["input"], image.float() / 255 * 2 - 1, atol=1e-6)

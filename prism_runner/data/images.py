"""Image data sets: scikit-learn's digits, ImageFolder trees (or tar archives of them), .npz
arrays and MNIST IDX files. Every reader ends in the same in-memory form: uint8 tensors
(N, C, H, W) plus optional integer labels, split into training and probe sets.
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from prism_runner.data.source import (
    DataSource, ListDataset, check_on_error, require_path, stratified_split, stratified_subset,
)
from prism_runner.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageTensorDataset(torch.utils.data.Dataset):
    """Items ``{"image": uint8 (C,H,W), "label": int}`` over one stacked uint8 tensor."""

    def __init__(self, images: torch.Tensor, labels: Optional[torch.Tensor]):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        item = {"image": self.images[index]}
        if self.labels is not None:
            item["label"] = int(self.labels[index])
        return item


def build_image_source(images: torch.Tensor, labels: Optional[np.ndarray], *, batch_size: int,
                       num_workers: int, test_fraction: float, split_seed: int,
                       skipped: Optional[List[str]] = None, name: str = "") -> DataSource:
    """Split labelled images into SSL-train (= probe-train) and a held-out probe-test part.

    The probe's test images are never seen in self-supervised training either.
    """
    if len(images) == 0:
        raise DataError(f"{name or 'the data set'} holds no images")
    if labels is None:
        return DataSource(train=ImageTensorDataset(images, None), batch_size=batch_size,
                          num_workers=num_workers, skipped=skipped or [], name=name)
    labels = np.asarray(labels)
    train_idx, test_idx = stratified_split(labels, test_fraction, split_seed)
    label_t = torch.as_tensor(labels, dtype=torch.long)
    train = ImageTensorDataset(images[train_idx], label_t[train_idx])
    test = ImageTensorDataset(images[test_idx], label_t[test_idx])
    return DataSource(train=train, probe_train=train, probe_test=test, batch_size=batch_size,
                      num_workers=num_workers, skipped=skipped or [], name=name)


def _to_nchw_uint8(x: np.ndarray, channels: int, source: str) -> torch.Tensor:
    """(N,H,W) or (N,H,W,C) or (N,C,H,W), uint8 or float in [0,1] -> uint8 (N,C,H,W)."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = np.transpose(x, (0, 3, 1, 2))
    elif x.ndim != 4:
        raise DataError(f"{source}: expected images shaped (N,H,W) or (N,H,W,C), got {x.shape}")
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
        if x.max() <= 1.0 + 1e-6:
            x = x * 255.0
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(x))
    have = t.shape[1]
    if have == channels:
        return t
    if have == 4:
        t, have = t[:, :3], 3
    if have == 1 and channels == 3:
        return t.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (t.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise DataError(f"{source}: images have {have} channels but data.channels={channels}")


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    from torchvision.transforms.v2 import functional as F

    return F.resize(images, [size, size], antialias=True)


def digits(batch_size: int = 256, num_workers: int = 0, test_fraction: float = 0.3,
           split_seed: int = 0, on_error: str = "raise", channels: int = 1, image_size: int = 8,
           mean=None, std=None) -> DataSource:
    """scikit-learn's bundled 8x8 digits (values 0..16, rescaled to 0..255)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    images = _resize(_to_nchw_uint8(x, channels, "digits"), image_size)
    return build_image_source(images, bunch.target, batch_size=batch_size,
                              num_workers=num_workers, test_fraction=test_fraction,
                              split_seed=split_seed, name="digits")


def decode_image(data: bytes, channels: int, size: int, where: str) -> np.ndarray:
    """Encoded image bytes -> uint8 (C, size, size); transparency composited on white."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)),
                                            rgba)
            img = img.convert("L" if channels == 1 else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(f"cannot decode image {where}: {error}") from None
    return arr[None].copy() if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _list_folder(root: Path) -> List[Tuple[str, str]]:
    """(path, class) for root/CLASS/**/image files, sorted for a stable order."""
    found = []
    for dirpath, _, files in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if not rel.parts:
            continue
        for fname in files:
            if Path(fname).suffix.lower() in IMAGE_SUFFIXES:
                found.append((str(Path(dirpath) / fname), rel.parts[0]))
    return sorted(found)


def _list_tar(tar: tarfile.TarFile) -> List[Tuple[str, str]]:
    """(member, class) where class is the folder holding the file (root/.../CLASS/file)."""
    found = []
    for member in tar.getmembers():
        if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
            parts = Path(member.name).parts
            if len(parts) >= 2:
                found.append((member.name, parts[-2]))
    return sorted(found)


def image_folder(root=None, limit: Optional[int] = None, batch_size: int = 256,
                 num_workers: int = 0, test_fraction: float = 0.2, split_seed: int = 0,
                 on_error: str = "raise", channels: int = 3, image_size: int = 32,
                 mean=None, std=None) -> DataSource:
    """An ImageFolder tree ``root/CLASS/*.png`` or a tar(.gz) archive holding one.

    The class of an image is the name of the folder it sits in; classes are numbered in
    sorted order. ``limit`` keeps a stratified subset (decoded images only).
    """
    check_on_error(on_error)
    path = require_path(root, example="/data/my_images")
    is_tar = path.is_file() and tarfile.is_tarfile(path)
    tar = tarfile.open(path) if is_tar else None
    try:
        if tar is not None:
            entries = _list_tar(tar)
        elif path.is_dir():
            entries = _list_folder(path)
        else:
            raise DataError(f"data.root={path} is neither a folder of class folders nor a tar "
                            "archive of one")
        if not entries:
            raise DataError(f"no images found under {path}: expected {path}/CLASS/*.png "
                            f"(suffixes {', '.join(sorted(IMAGE_SUFFIXES))})")
        classes = sorted({cls for _, cls in entries})
        class_index = {c: i for i, c in enumerate(classes)}
        labels = np.array([class_index[c] for _, c in entries])
        keep = stratified_subset(labels, limit, split_seed)
        images, kept_labels, skipped = [], [], []
        for i in _progress(keep, f"reading {path.name}"):
            name, _ = entries[i]
            try:
                data = tar.extractfile(name).read() if tar is not None else Path(name).read_bytes()
                images.append(decode_image(data, channels, image_size, name))
                kept_labels.append(labels[i])
            except (DataError, OSError) as error:
                if on_error == "raise":
                    raise DataError(f"{error} (set data.on_error=skip to drop unreadable "
                                    "images)") from None
                skipped.append(name)
    finally:
        if tar is not None:
            tar.close()
    if not images:
        raise DataError(f"none of the {len(keep)} images under {path} could be read")
    stacked = torch.from_numpy(np.stack(images))
    return build_image_source(stacked, np.array(kept_labels), batch_size=batch_size,
                              num_workers=num_workers, test_fraction=test_fraction,
                              split_seed=split_seed, skipped=skipped, name=path.name)


def npz(root=None, limit: Optional[int] = None, batch_size: int = 256, num_workers: int = 0,
        test_fraction: float = 0.2, split_seed: int = 0, on_error: str = "raise",
        channels: int = 1, image_size: int = 28, mean=None, std=None) -> DataSource:
    """An ``.npz`` with ``x`` (N,H,W[,C]) and optional ``y`` (N,) integer labels."""
    path = require_path(root, example="/data/images.npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive:
                raise DataError(f"{path} has no array named 'x' (found: {', '.join(archive.files)})")
            x = archive["x"]
            y = archive["y"] if "y" in archive else None
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} as .npz: {error}") from None
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: 'x' has {len(x)} items but 'y' has {len(y)}")
    if y is not None:
        keep = stratified_subset(np.asarray(y), limit, split_seed)
        x, y = x[keep], np.asarray(y)[keep]
    elif limit is not None:
        x = x[:limit]
    images = _resize(_to_nchw_uint8(x, channels, str(path)), image_size)
    return build_image_source(images, y, batch_size=batch_size, num_workers=num_workers,
                              test_fraction=test_fraction, split_seed=split_seed, name=path.name)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            magic = struct.unpack(">I", f.read(4))[0]
            ndim = magic & 0xFF
            shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, struct.error, EOFError) as error:
        raise DataError(f"cannot read IDX file {path}: {error}") from None
    if magic >> 8 != 0x08 or data.size != int(np.prod(shape)):
        raise DataError(f"{path} is not a complete uint8 IDX file (header says {shape})")
    return data.reshape(shape)


def mnist_idx(root=None, images: str = "t10k-images-idx3-ubyte.gz",
              labels: Optional[str] = "t10k-labels-idx1-ubyte.gz", limit: Optional[int] = None,
              batch_size: int = 256, num_workers: int = 0, test_fraction: float = 0.25,
              split_seed: int = 0, on_error: str = "raise", channels: int = 1,
              image_size: int = 28, mean=None, std=None) -> DataSource:
    """MNIST-style IDX files (images, optional labels), plain or gzipped."""
    folder = require_path(root, example="/data/mnist")
    x = _read_idx(folder / images)
    y = _read_idx(folder / labels) if labels else None
    if y is not None and len(y) != len(x):
        raise DataError(f"{folder}: {len(x)} images but {len(y)} labels")
    if y is not None:
        keep = stratified_subset(y, limit, split_seed)
        x, y = x[keep], y[keep]
    tensors = _resize(_to_nchw_uint8(x, channels, str(folder / images)), image_size)
    return build_image_source(tensors, y, batch_size=batch_size, num_workers=num_workers,
                              test_fraction=test_fraction, split_seed=split_seed, name="mnist")


def _progress(items: Sequence, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False, disable=len(items) < 2000, mininterval=1.0)

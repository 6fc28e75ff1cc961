"""Views for paired items: each modality of an item gets its own light, per-sample processing.

``train(item)`` and ``eval(item)`` return ``{modality: tensor}`` for every modality the item holds
(``image``, ``text``, ``audio``), so a method reads ``batch["image"]`` and ``batch["text"]`` and
the evaluator can embed single-modality items (e.g. text prompts). ``eval`` adds ``label`` when
the item has one. Random draws use torch's global RNG (seeded per sample by the loader).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torchvision.transforms import v2

from prism_runner.data.text import ByteTokenizer


class PairViews:
    """Per-modality views for cross-modal training.

    Args:
        image_size, mean, std: images are resized to ``image_size`` (when needed) and normalised.
        crop_scale: RandomResizedCrop area range for training images; null = no crop.
        hflip: horizontal flip probability for training images.
        color_jitter: brightness/contrast jitter strength for training images; 0 = off.
        text_max_length, lowercase: the byte-level tokenizer.
        sample_rate, clip_seconds: audio is cut or zero-padded to ``clip_seconds``; training takes
            a random window (or a random placement when shorter), evaluation the centre.
        gain_db: training audio gets a random gain in [-gain_db, +gain_db] dB; 0 = off.
    """

    def __init__(self, image_size: int = 32, mean: Sequence[float] = (0.5,),
                 std: Sequence[float] = (0.5,), crop_scale: Optional[Sequence[float]] = (0.7, 1.0),
                 hflip: float = 0.0, color_jitter: float = 0.0, text_max_length: int = 64,
                 lowercase: bool = True, sample_rate: int = 16000, clip_seconds: float = 1.0,
                 gain_db: float = 0.0):
        if len(mean) != len(std):
            raise ValueError("views.mean and views.std need one value per channel")
        finish = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
        steps = []
        if crop_scale is not None:
            steps.append(v2.RandomResizedCrop(image_size, scale=tuple(crop_scale),
                                              ratio=(0.9, 1.1), antialias=True))
        else:
            steps.append(v2.Resize([image_size, image_size], antialias=True))
        if hflip > 0:
            steps.append(v2.RandomHorizontalFlip(hflip))
        if color_jitter > 0:
            steps.append(v2.RandomApply([v2.ColorJitter(color_jitter, color_jitter)], p=0.8))
        self.image_train = v2.Compose(steps + finish)
        self.image_eval = v2.Compose([v2.Resize([image_size, image_size], antialias=True)] + finish)
        self.tokenizer = ByteTokenizer(text_max_length, lowercase)
        self.clip_samples = max(1, int(round(sample_rate * clip_seconds)))
        self.gain_db = float(gain_db)

    def _audio(self, wave: torch.Tensor, train: bool) -> torch.Tensor:
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1)
        n, target = wave.numel(), self.clip_samples
        if n >= target:
            start = int(torch.randint(0, n - target + 1, ()).item()) if train else (n - target) // 2
            out = wave[start:start + target].clone()
        else:
            start = int(torch.randint(0, target - n + 1, ()).item()) if train else (target - n) // 2
            out = torch.zeros(target)
            out[start:start + n] = wave
        if train and self.gain_db > 0:
            out = out * 10 ** (float(torch.empty(()).uniform_(-self.gain_db, self.gain_db)) / 20)
        return out

    def _apply(self, item: dict, train: bool) -> dict:
        out = {}
        if "image" in item:
            out["image"] = (self.image_train if train else self.image_eval)(item["image"])
        if "text" in item:
            out["text"] = self.tokenizer.encode(str(item["text"]))
        if "audio" in item:
            out["audio"] = self._audio(item["audio"], train)
        return out

    def train(self, item: dict) -> dict:
        return self._apply(item, train=True)

    def eval(self, item: dict) -> dict:
        out = self._apply(item, train=False)
        if "label" in item:
            out["label"] = item["label"]
        return out

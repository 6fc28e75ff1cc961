"""Audio views: a random fixed-length crop (or zero pad) for training, the whole clip (or a
centre crop) for evaluation. Both return ``length``, the number of valid samples, which
:func:`prism_runner.data.audio.pad_collate` turns into the batch's ``lengths``.
"""
from __future__ import annotations

from typing import Optional

import torch


def normalize_wave(wave: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance per clip (as wav2vec 2.0's ``normalize=True`` input)."""
    return (wave - wave.mean()) / (wave.std(unbiased=False) + eps)


class AudioCropViews:
    """``train(item) -> {"audio": (S,), "length": int}`` with ``S = seconds * sample_rate``:
    a uniformly random window of longer clips, shorter clips zero-padded at the end.
    ``eval(item) -> {"audio", "length", "label"}``: the whole clip, or its centre
    ``eval_seconds`` when set and the clip is longer.

    Random offsets use torch's global RNG (seeded per sample by the loader).
    """

    def __init__(self, sample_rate: int, seconds: float = 1.0, eval_seconds: Optional[float] = None,
                 normalize: bool = True, gain_db: float = 0.0):
        if seconds <= 0:
            raise ValueError(f"views.seconds must be positive, got {seconds}")
        self.size = max(1, int(round(seconds * sample_rate)))
        self.eval_size = None if eval_seconds is None else max(1, int(round(eval_seconds * sample_rate)))
        self.normalize = normalize
        self.gain_db = float(gain_db)

    def _prepare(self, wave: torch.Tensor) -> torch.Tensor:
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1)
        return normalize_wave(wave) if self.normalize else wave

    def train(self, item: dict) -> dict:
        wave = torch.as_tensor(item["audio"], dtype=torch.float32).reshape(-1)
        if wave.numel() > self.size:
            start = int(torch.randint(0, wave.numel() - self.size + 1, (1,)))
            wave = wave[start:start + self.size]
        wave = self._prepare(wave)
        if self.gain_db > 0:
            wave = wave * 10 ** (float(torch.empty(1).uniform_(-self.gain_db, self.gain_db)) / 20)
        length = wave.numel()
        if length < self.size:
            wave = torch.cat([wave, wave.new_zeros(self.size - length)])
        return {"audio": wave, "length": length}

    def eval(self, item: dict) -> dict:
        wave = torch.as_tensor(item["audio"], dtype=torch.float32).reshape(-1)
        if self.eval_size is not None and wave.numel() > self.eval_size:
            start = (wave.numel() - self.eval_size) // 2
            wave = wave[start:start + self.eval_size]
        wave = self._prepare(wave)
        out = {"audio": wave, "length": wave.numel()}
        if "label" in item:
            out["label"] = item["label"]
        return out

"""Image views: per-sample random augmentations with torchvision.transforms.v2 on tensors.

Each call draws fresh parameters, so every image in a batch gets its own crop, flip and jitter
(applying v2 transforms to a whole batch would share one draw across it).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torchvision.transforms import v2


class SimCLRImageViews:
    """Two independently augmented views of each image, as in SimCLR.

    ``train(item) -> {"views": [v1, v2]}`` (float tensors, normalised);
    ``eval(item) -> {"input": x, "label": y}`` (normalised only).
    """

    def __init__(self, size: int, crop_scale: Sequence[float] = (0.2, 1.0), hflip: float = 0.5,
                 color_jitter: float = 0.4, color_jitter_p: float = 0.8,
                 grayscale_p: float = 0.2, blur_p: float = 0.0,
                 mean: Sequence[float] = (0.5,), std: Sequence[float] = (0.5,)):
        if len(mean) != len(std):
            raise ValueError("views.mean and views.std need one value per channel")
        colour = len(mean) == 3
        steps = [v2.RandomResizedCrop(size, scale=tuple(crop_scale), antialias=True)]
        if hflip > 0:
            steps.append(v2.RandomHorizontalFlip(hflip))
        if color_jitter > 0:
            s = color_jitter
            jitter = v2.ColorJitter(s, s, s, s / 4) if colour else v2.ColorJitter(s, s)
            steps.append(v2.RandomApply([jitter], p=color_jitter_p))
        if colour and grayscale_p > 0:
            steps.append(v2.RandomGrayscale(grayscale_p))
        if blur_p > 0:
            kernel = max(3, (size // 10) | 1)
            steps.append(v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur_p))
        finish = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
        self.augment = v2.Compose(steps + finish)
        self.plain = v2.Compose(finish)

    def train(self, item: dict) -> dict:
        image = item["image"]
        return {"views": [self.augment(image), self.augment(image)]}

    def eval(self, item: dict) -> dict:
        return {"input": self.plain(item["image"]), "label": item["label"]}

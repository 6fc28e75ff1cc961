"""The lightly arm of vs_lightly.py. Runs in a SEPARATE environment that has lightly (never a
project dependency): ``uv venv /tmp/benchenv --python 3.11`` + the torch/torchvision pins of
requirements.lock + ``lightly``. Imports nothing from prism_runner.

SimCLR in a plain loop as in lightly's examples: lightly.transforms.SimCLRTransform applied per
sample to PIL images (set to the same parameters as prism_runner's image_simclr views),
lightly.models.modules.SimCLRProjectionHead(512, 512, 128), lightly.loss.NTXentLoss, each view
through the model separately; the ResNet-18 CIFAR variant (torchvision resnet18, 3x3 stride-1
stem, no max-pool); AdamW at a constant learning rate; a DataLoader with the same worker count.
Writes step timestamps and frozen embeddings of the probe splits (normalised, no augmentation).

    /tmp/benchenv/bin/python scripts/bench/lightly_arm.py --data DATA.npz --out OUT.npz \
        --epochs 2 --batch 128 --temperature 0.2 --lr 1e-3 --weight-decay 1e-4 --workers 0
"""
import argparse
import json
import time

import numpy as np
import torch
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms import SimCLRTransform
from PIL import Image
from torch import nn


def resnet18_cifar() -> nn.Module:
    net = torchvision.models.resnet18(weights=None)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


class SimCLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = resnet18_cifar()
        self.projection_head = SimCLRProjectionHead(512, 512, 128)

    def forward(self, x):
        return self.projection_head(self.backbone(x).flatten(start_dim=1))


class PILViews(torch.utils.data.Dataset):
    def __init__(self, x_uint8: np.ndarray, transform):
        self.x = np.ascontiguousarray(x_uint8.transpose(0, 2, 3, 1))  # N, H, W, C
        self.transform = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--crop-min-scale", type=float, default=0.2)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    data = np.load(a.data)
    mean, std = data["mean"].tolist(), data["std"].tolist()
    # prism_runner image_simclr: crop (0.2, 1), hflip 0.5, jitter 0.4/0.4/0.4/0.1 p 0.8, grey 0.2
    transform = SimCLRTransform(input_size=32, cj_prob=0.8, cj_strength=0.5, min_scale=a.crop_min_scale,
                                random_gray_scale=0.2, gaussian_blur=0.0, hf_prob=0.5,
                                normalize={"mean": mean, "std": std})
    dataset = PILViews(data["x_train"], transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch, shuffle=True, drop_last=True,
                                         num_workers=a.workers, persistent_workers=a.workers > 0)
    model = SimCLR()
    criterion = NTXentLoss(temperature=a.temperature)
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    stamps = []
    fit_start = time.time()
    model.train()
    for epoch in range(a.epochs):
        for x0, x1 in loader:  # lightly's examples: two forward passes
            z0 = model(x0)
            z1 = model(x1)
            loss = criterion(z0, z1)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            stamps.append(time.time())
    fit_end = time.time()
    model.eval()
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)

    @torch.no_grad()
    def embed(x):
        out = []
        for i in range(0, len(x), 512):
            xb = torch.from_numpy(x[i:i + 512]).float() / 255.0
            out.append(model.backbone((xb - m) / s))
        return torch.cat(out).numpy()

    np.savez(a.out, probe_train=embed(data["probe_train_x"]), probe_test=embed(data["probe_test_x"]))
    with open(a.out + ".json", "w") as f:
        json.dump({"steps": stamps, "fit_start": fit_start, "fit_end": fit_end,
                   "global_batch": a.batch, "final_loss": float(loss.detach())}, f)


if __name__ == "__main__":
    main()

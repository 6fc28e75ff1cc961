"""Losses shared by methods. Modality-agnostic: they see embeddings, never inputs."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from prism_runner.methods.distributed import gather_with_grad, world


def normalized_pair(z_a: torch.Tensor, z_b: torch.Tensor):
    """Check that two modalities' batches pair up, and L2-normalise both."""
    if z_a.shape[0] != z_b.shape[0]:
        raise ValueError(f"modalities have different batch sizes: {z_a.shape[0]} vs {z_b.shape[0]}")
    return F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)


def gathering(enabled: bool) -> bool:
    """True when candidates come from several data-parallel processes."""
    return enabled and world()[1] > 1


def global_candidates(z: torch.Tensor, gather: bool):
    """``z`` from every data-parallel process (with gradients) when gathering, and the row of
    this process's first item in it; ``(z, 0)`` otherwise."""
    if gathering(gather):
        return gather_with_grad(z), world()[0] * z.shape[0]
    return z, 0


class NTXentLoss(nn.Module):
    """Normalised temperature-scaled cross entropy (SimCLR; Chen et al., ICML 2020).

    For a batch of N pairs (z_a[i], z_b[i]) every embedding must pick its partner among the
    2N - 1 others; the loss is the mean cross entropy over all 2N anchors.

    Attributes:
        temperature: divides cosine similarities; 0.1-0.5 typical. Lower sharpens the softmax.
        gather_distributed: when training data-parallel, use every process's embeddings as
            negatives (the global batch), with gradients flowing back through the gather.

    Raises:
        ValueError: for a non-positive temperature, or inputs of different shapes.

    Example:
        >>> loss_fn = NTXentLoss(temperature=0.5)
        >>> loss = loss_fn(torch.randn(8, 128), torch.randn(8, 128))
    """

    def __init__(self, temperature: float = 0.5, gather_distributed: bool = True):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.gather_distributed = gather_distributed

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        """z_a, z_b: (N, D) embeddings of two views of the same N items. Returns a scalar."""
        if z_a.shape != z_b.shape:
            raise ValueError(f"views have different shapes: {tuple(z_a.shape)} vs {tuple(z_b.shape)}")
        n = z_a.shape[0]
        queries = F.normalize(torch.cat([z_a, z_b]), dim=1)   # (2N, D): this process's anchors
        if not gathering(self.gather_distributed):            # the keys are the anchors
            logits = queries @ queries.T / self.temperature   # (2N, 2N)
            logits.fill_diagonal_(float("-inf"))              # an anchor is not its own partner
            partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z_a.device)
            return F.cross_entropy(logits, partner)
        keys_a, offset = global_candidates(queries[:n], True)
        keys_b, _ = global_candidates(queries[n:], True)
        keys = torch.cat([keys_a, keys_b])                    # (2M, D): all candidates
        logits = queries @ keys.T / self.temperature          # (2N, 2M)
        m = keys_a.shape[0]
        own = torch.arange(n, device=z_a.device) + offset
        self_index = torch.cat([own, own + m])                # where each anchor meets itself
        partner = torch.cat([own + m, own])                   # where its positive sits
        logits[torch.arange(2 * n, device=z_a.device), self_index] = float("-inf")
        return F.cross_entropy(logits, partner)


class ClipInfoNCELoss(nn.Module):
    """Symmetric InfoNCE between two modalities (CLIP; Radford et al., ICML 2021).

    For N pairs (a[i], b[i]) the logits are ``scale * cos(a_i, b_j)``; each a_i must pick b_i
    among all b (cross entropy over rows) and each b_j must pick a_j (over columns); the loss is
    the mean of the two directions. ``logit_scale`` is ``1 / temperature`` (a tensor, so a
    learnable temperature gets its gradient).

    Attributes:
        gather_distributed: when training data-parallel, candidates come from every process.

    Example:
        >>> loss = ClipInfoNCELoss()(torch.randn(8, 64), torch.randn(8, 64), torch.tensor(14.3))
    """

    def __init__(self, gather_distributed: bool = True):
        super().__init__()
        self.gather_distributed = gather_distributed

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: torch.Tensor = None) -> torch.Tensor:
        z_a, z_b = normalized_pair(z_a, z_b)
        all_a, offset = global_candidates(z_a, self.gather_distributed)
        all_b, _ = global_candidates(z_b, self.gather_distributed)
        target = torch.arange(z_a.shape[0], device=z_a.device) + offset
        loss_a = F.cross_entropy(logit_scale * z_a @ all_b.T, target)
        loss_b = F.cross_entropy(logit_scale * z_b @ all_a.T, target)
        return (loss_a + loss_b) / 2


class SigLipLoss(nn.Module):
    """Pairwise sigmoid loss (SigLIP; Zhai et al., ICCV 2023).

    Every (a_i, b_j) is an independent binary problem: logit ``scale * cos(a_i, b_j) + bias``,
    label +1 on the diagonal and -1 elsewhere; the loss is ``-sum log sigmoid(label * logit) / N``.
    No softmax over the batch, so it needs no all-to-all normalisation.

    Example:
        >>> loss = SigLipLoss()(torch.randn(8, 64), torch.randn(8, 64), torch.tensor(10.),
        ...                     torch.tensor(-10.))
    """

    def __init__(self, gather_distributed: bool = True):
        super().__init__()
        self.gather_distributed = gather_distributed

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, logit_scale: torch.Tensor,
                logit_bias: torch.Tensor) -> torch.Tensor:
        z_a, z_b = normalized_pair(z_a, z_b)
        n = z_a.shape[0]
        all_b, offset = global_candidates(z_b, self.gather_distributed)
        logits = logit_scale * z_a @ all_b.T + logit_bias            # (n, M)
        labels = -torch.ones_like(logits)
        labels[torch.arange(n, device=z_a.device), torch.arange(n, device=z_a.device) + offset] = 1.0
        return -F.logsigmoid(labels * logits).sum() / n

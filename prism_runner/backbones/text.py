"""Text encoders returning one feature vector per token sequence."""
from __future__ import annotations

import torch
from torch import nn

from prism_runner.data.text import PAD, VOCAB_SIZE


class TextTransformer(nn.Module):
    """A small pre-norm transformer over token ids: (N, L) long -> (N, out_dim).

    Token + learned position embeddings, ``depth`` encoder layers, final layer norm, then the
    mean over non-padding tokens (``pool="mean"``) or the first token (``pool="first"``).
    Padding (id 0) is masked out of attention. ``out_dim = dim``.
    """

    def __init__(self, vocab_size: int = VOCAB_SIZE, dim: int = 128, depth: int = 2,
                 heads: int = 4, mlp_ratio: float = 2.0, max_length: int = 64,
                 dropout: float = 0.0, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "first"):
            raise ValueError(f"pool must be 'mean' or 'first', got {pool!r}")
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.token = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.position = nn.Parameter(torch.zeros(1, max_length, dim))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, int(dim * mlp_ratio), dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.max_length, self.pool, self.out_dim = max_length, pool, dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_length:
            if not (ids[:, self.max_length:] == PAD).all():
                raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_length="
                             f"{self.max_length}; raise backbone max_length or shorten the text")
            ids = ids[:, : self.max_length]  # only padding beyond max_length
        keep = ids != PAD
        x = self.token(ids) + self.position[:, : ids.shape[1]]
        x = self.norm(self.encoder(x, src_key_padding_mask=~keep))
        if self.pool == "first":
            return x[:, 0]
        weights = keep.unsqueeze(-1).to(x.dtype)
        return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)

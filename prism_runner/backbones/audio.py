"""Raw-waveform audio encoder in the shape of wav2vec 2.0 (Baevski et al., NeurIPS 2020).

A strided convolutional feature encoder turns samples into latent frames ``z``; a layer norm and a
linear projection take them to the transformer width; a transformer with a convolutional
relative position embedding builds contextual frames ``c``. The parts come from
``torchaudio.models.wav2vec2.components``; the wiring is exposed in pieces so a method can mask
latent frames between the projection and the transformer (:class:`~prism_runner.methods.wav2vec2.Wav2Vec2`).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import nn


def valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """``(N, size)`` bool, True at positions ``< lengths[n]``."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: Optional[torch.Tensor]) -> torch.Tensor:
    """Mean over the time axis of ``x`` (N, T, D), counting only the first ``lengths[n]`` frames
    (at least one)."""
    if lengths is None:
        return x.mean(dim=1)
    lengths = lengths.clamp(min=1, max=x.shape[1])
    keep = valid_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(dim=1) / lengths.unsqueeze(-1).to(x.dtype)


class Wav2Vec2Encoder(nn.Module):
    """Conv feature encoder + transformer context network over raw waveforms.

    ``forward(audio, lengths=None) -> (N, out_dim)``: contextual frames mean-pooled over the valid
    frames (``out_dim = embed_dim``). Lower-level parts for pre-training:
    :meth:`extract` (latent frames ``z``), :meth:`project` (norm + projection) and
    :meth:`contextualize` (transformer over possibly masked frames).

    Args:
        conv_layers: ``[(channels, kernel, stride), ...]`` of the feature encoder. The paper uses
            ``[(512,10,5)] + [(512,3,2)]*4 + [(512,2,2)]*2`` (20 ms hop at 16 kHz).
        conv_norm: ``group_norm`` (paper BASE: on the first layer only) or ``layer_norm``
            (every layer, LARGE).
        embed_dim, num_layers, num_heads, ff_dim: transformer width, depth, heads, FFN width.
        pos_conv_kernel, pos_conv_groups: convolutional position embedding (paper: 128, 16).
        dropout, attention_dropout, dropout_input, layer_drop: regularisation as in the paper.
        layer_norm_first: pre-LN transformer blocks (LARGE); ``False`` is post-LN (BASE).
        pool_layer: transformer layer whose output :meth:`forward` pools (1-based; ``None`` =
            the last, after the final layer norm).
    """

    def __init__(self, conv_layers: Sequence[Sequence[int]] = ((128, 10, 5), (128, 3, 2), (128, 3, 2),
                                                                 (128, 3, 2), (128, 2, 2)),
                 conv_norm: str = "group_norm", conv_bias: bool = False, embed_dim: int = 128,
                 num_layers: int = 4, num_heads: int = 4, ff_dim: int = 512,
                 pos_conv_kernel: int = 16, pos_conv_groups: int = 8, dropout: float = 0.1,
                 attention_dropout: float = 0.1, ff_dropout: float = 0.0,
                 dropout_input: float = 0.1, layer_drop: float = 0.0,
                 layer_norm_first: bool = True, pool_layer: Optional[int] = None):
        super().__init__()
        from torchaudio.models.wav2vec2.components import _get_encoder, _get_feature_extractor

        shapes = [tuple(int(v) for v in layer) for layer in conv_layers]
        if not shapes or any(len(s) != 3 for s in shapes):
            raise ValueError("backbone.conv_layers must be a list of [channels, kernel, stride]")
        if embed_dim % num_heads:
            raise ValueError(f"backbone.embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads}")
        if embed_dim % pos_conv_groups:
            raise ValueError(f"backbone.embed_dim={embed_dim} must be divisible by "
                             f"pos_conv_groups={pos_conv_groups}")
        if pool_layer is not None and not 1 <= pool_layer <= num_layers:
            raise ValueError(f"backbone.pool_layer must be in 1..{num_layers} or null")
        self.feature_extractor = _get_feature_extractor(conv_norm, shapes, bias=conv_bias)
        self.encoder = _get_encoder(
            in_features=shapes[-1][0], embed_dim=embed_dim, dropout_input=dropout_input,
            pos_conv_kernel=pos_conv_kernel, pos_conv_groups=pos_conv_groups,
            num_layers=num_layers, num_heads=num_heads, attention_dropout=attention_dropout,
            ff_interm_features=ff_dim, ff_interm_dropout=ff_dropout, dropout=dropout,
            layer_norm_first=layer_norm_first, layer_drop=layer_drop)
        self.feature_dim = shapes[-1][0]
        self.embed_dim = self.out_dim = embed_dim
        self.pool_layer = pool_layer
        self.hop = 1
        for _, _, stride in shapes:
            self.hop *= stride

    # -- pieces -------------------------------------------------------------------------------
    def extract(self, audio: torch.Tensor, lengths: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Latent frames ``z`` (N, T, feature_dim) and valid frame counts (N,) from audio (N, S)."""
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long,
                                 device=audio.device)
        z, frames = self.feature_extractor(audio, lengths)
        return z, frames.clamp(min=1, max=z.shape[1])

    def normalize(self, z: torch.Tensor) -> torch.Tensor:
        """Layer norm of the latent frames (the quantizer's input in the paper)."""
        return self.encoder.feature_projection.layer_norm(z)

    def project(self, z_normed: torch.Tensor) -> torch.Tensor:
        """Normalised latent frames to the transformer width (linear + input dropout)."""
        proj = self.encoder.feature_projection
        return proj.dropout(proj.projection(z_normed))

    def contextualize(self, x: torch.Tensor, frames: torch.Tensor,
                      layer: Optional[int] = None) -> torch.Tensor:
        """Transformer over projected frames ``x`` (N, T, embed_dim); padded frames are zeroed and
        hidden from attention. ``layer`` (1-based) returns that layer's output instead of the last."""
        pad = ~valid_mask(frames, x.shape[1])
        x = x.masked_fill(pad.unsqueeze(-1), 0.0)
        attn = (-10000.0 * pad.to(x.dtype))[:, None, None, :].expand(-1, 1, x.shape[1], -1)
        transformer = self.encoder.transformer
        if layer is None:
            return transformer(x, attention_mask=attn)
        return transformer.get_intermediate_outputs(x, attention_mask=attn, num_layers=layer)[-1]

    # -- the backbone contract ----------------------------------------------------------------
    def frames(self, audio: torch.Tensor, lengths: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Contextual frames (N, T, embed_dim) without masking, and valid frame counts."""
        z, frames = self.extract(audio, lengths)
        c = self.contextualize(self.project(self.normalize(z)), frames, self.pool_layer)
        return c, frames

    def forward(self, audio: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        c, frames = self.frames(audio, lengths)
        return masked_mean(c, frames)

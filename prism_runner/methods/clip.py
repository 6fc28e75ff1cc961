"""CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
ICML 2021) and its sigmoid variant SigLIP (Zhai et al., ICCV 2023).

Modality-agnostic: two encoders, one per modality, each followed by a projection into a shared
space where paired items meet. ``backbone`` encodes ``modalities[0]`` (it is the encoder the
runner saves as backbone.safetensors) and ``partner`` encodes ``modalities[1]``.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from prism_runner.errors import UserError
from prism_runner.methods.losses import ClipInfoNCELoss, SigLipLoss

LOSSES = {"infonce": ClipInfoNCELoss, "siglip": SigLipLoss}
DEFAULT_TEMPERATURE = {"infonce": 0.07, "siglip": 0.1}


def make_projection(in_dim: int, out_dim: int, kind: str, hidden_dim: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, out_dim, bias=False)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, out_dim))
    if kind == "none":
        if in_dim != out_dim:
            raise UserError(f"projection none needs the encoder's out_dim ({in_dim}) to equal "
                            f"method.embed_dim ({out_dim})")
        return nn.Identity()
    raise UserError(f"method projection must be linear, mlp or none, got {kind!r}")


class CLIP(nn.Module):
    """Two encoders + projections trained so that paired items are nearest neighbours.

    Args:
        backbone: encoder of ``modalities[0]`` (e.g. an image CNN), with ``out_dim``.
        partner: encoder of ``modalities[1]`` (e.g. a text transformer), with ``out_dim``.
        modalities: the two batch fields the encoders read, e.g. ``[image, text]``.
        embed_dim: size of the shared embedding space.
        projection, partner_projection: ``linear`` | ``mlp`` | ``none`` for each side.
        loss: ``infonce`` (symmetric cross entropy, softmax over the batch) or ``siglip``
            (independent sigmoid per pair, with a learnable bias).
        temperature: initial temperature (null: 0.07 for infonce, 0.1 for siglip); learnable
            (as log 1/T, capped at ``max_logit_scale``) unless ``learn_temperature`` is false.
        siglip_bias: initial bias of the sigmoid loss (-10 in the paper).
        freeze_partner: keep the partner encoder fixed (weights and batch-norm statistics).

    Batch fields: the two modalities. ``forward`` returns the loss, ``logit_scale`` and
    ``accuracy`` (share of in-batch pairs matched top-1, both directions); ``embed`` returns the
    normalised shared-space embedding of every modality present in the batch.
    """

    def __init__(self, backbone: nn.Module, partner: nn.Module,
                 modalities: Sequence[str] = ("image", "text"), embed_dim: int = 128,
                 projection: str = "linear", partner_projection: Optional[str] = None,
                 hidden_dim: int = 512, loss: str = "infonce", temperature: Optional[float] = None,
                 learn_temperature: bool = True, max_logit_scale: float = 100.0,
                 siglip_bias: float = -10.0, freeze_partner: bool = False,
                 gather_distributed: bool = True):
        super().__init__()
        modalities = tuple(modalities)
        if len(modalities) != 2 or modalities[0] == modalities[1]:
            raise UserError(f"method.modalities must name two different batch fields, got "
                            f"{list(modalities)}")
        if loss not in LOSSES:
            raise UserError(f"method.loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        temperature = DEFAULT_TEMPERATURE[loss] if temperature is None else float(temperature)
        if temperature <= 0:
            raise UserError(f"method.temperature must be positive, got {temperature}")
        self.modalities = modalities
        self.backbone, self.partner = backbone, partner
        self.project = make_projection(backbone.out_dim, embed_dim, projection, hidden_dim)
        self.partner_project = make_projection(
            partner.out_dim, embed_dim, partner_projection or projection, hidden_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)),
                                        requires_grad=learn_temperature)
        self.max_log_scale = math.log(max_logit_scale)
        self.logit_bias = nn.Parameter(torch.tensor(float(siglip_bias))) if loss == "siglip" else None
        self.loss_name = loss
        self.criterion = LOSSES[loss](gather_distributed=gather_distributed)
        self.freeze_partner = freeze_partner
        if freeze_partner:
            for p in self.partner.parameters():
                p.requires_grad_(False)
            self.partner.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_partner:
            self.partner.eval()  # frozen batch-norm statistics stay those of the checkpoint
        return self

    def encode(self, modality: str, x) -> torch.Tensor:
        """Normalised shared-space embedding of ``x``, a batch of ``modality``."""
        if modality == self.modalities[0]:
            z = self.project(self.backbone(x))
        elif modality == self.modalities[1]:
            if self.freeze_partner:
                with torch.no_grad():
                    h = self.partner(x)
            else:
                h = self.partner(x)
            z = self.partner_project(h)
        else:
            raise KeyError(f"this method encodes {self.modalities}, not {modality!r}")
        return F.normalize(z, dim=-1)

    def forward(self, batch: dict) -> Dict[str, torch.Tensor]:
        a, b = self.modalities
        missing = [m for m in self.modalities if m not in batch]
        if missing:
            raise UserError(f"the batch has no {missing} field (it holds {sorted(batch)}); "
                            "check method.modalities against data.columns")
        z_a, z_b = self.encode(a, batch[a]), self.encode(b, batch[b])
        scale = self.logit_scale.clamp(max=self.max_log_scale).exp()
        loss = self.criterion(z_a, z_b, scale, self.logit_bias)
        with torch.no_grad():
            sims = z_a @ z_b.T
            target = torch.arange(len(sims), device=sims.device)
            accuracy = ((sims.argmax(1) == target).float().mean()
                        + (sims.argmax(0) == target).float().mean()) / 2
        return {"loss": loss, "logit_scale": scale.detach(), "accuracy": accuracy}

    def exported_encoders(self) -> Dict[str, nn.Module]:
        """Saved beside backbone.safetensors at the end of a run: the partner's encoder, named
        after its modality (e.g. text_encoder.safetensors)."""
        return {f"{self.modalities[1]}_encoder": self.partner}

    @torch.no_grad()
    def embed(self, batch: dict) -> Dict[str, torch.Tensor]:
        return {m: self.encode(m, batch[m]) for m in self.modalities if m in batch}

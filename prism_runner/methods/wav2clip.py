"""Wav2CLIP (Wu et al., "Wav2CLIP: Learning Robust Audio Representations from CLIP", ICASSP 2022):
an audio encoder trained into the embedding space of a frozen, already trained image encoder.

Here the frozen image encoder is one the user names by checkpoint: the ``backbone.safetensors``
that every prism_runner run writes (or its run folder), or a training checkpoint
(``checkpoints/step_N.pt``, loaded with ``torch.load(weights_only=True)``, whose ``backbone.*``
weights are taken). No weights are downloaded. The maths is CLIP's with a frozen partner, so it
works for any pair of modalities: ``modalities: [audio, image]`` by default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from prism_runner.errors import UserError
from prism_runner.methods.clip import CLIP

HOW_TO = (
    "method.image_checkpoint is not set: Wav2CLIP trains audio into the space of a frozen image "
    "encoder that you pretrain first. Two steps:\n"
    "  1. python -m prism_runner data=mnist views.hflip=0 name=mnist_simclr data.batch_size=128 "
    "trainer.max_steps=100\n"
    "     (writes RUN_FOLDER/backbone.safetensors: a SmallCNN, width 32, 1 channel, 28 px)\n"
    "  2. python -m prism_runner +recipe=wav2clip method.image_checkpoint=RUN_FOLDER\n"
    "A run folder, its backbone.safetensors or a checkpoints/step_N.pt file all work; "
    "method.image_encoder must describe the same architecture.")


def read_encoder_state(path, key: str = "method.image_checkpoint") -> Dict[str, torch.Tensor]:
    """Encoder weights from a run folder, a safetensors file or a training checkpoint."""
    p = Path(str(path)).expanduser()
    if p.is_dir():
        candidates = [p / "backbone.safetensors"]
        found = [c for c in candidates if c.is_file()]
        if not found:
            steps = sorted((p / "checkpoints").glob("step_*.pt"),
                           key=lambda c: int(c.stem.split("_")[1]))
            found = steps[-1:]
        if not found:
            raise UserError(f"{key}={p}: no backbone.safetensors or checkpoints/step_N.pt there")
        p = found[0]
    if not p.is_file():
        raise UserError(f"{key}={p} does not exist; give a prism_runner run folder, its "
                        "backbone.safetensors, or a checkpoints/step_N.pt file")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(p))
        except Exception as error:  # safetensors raises its own error types
            raise UserError(f"{key}={p} is not a readable safetensors file: {error}") from None
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle/zip errors: refuse anything weights_only cannot read
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{key}={p} cannot be loaded with torch.load(weights_only=True): "
                        f"{first}") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]  # a prism_runner training checkpoint: the method's state dict
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise UserError(f"{key}={p} holds no state dict of tensors")
    if any(k.startswith("backbone.") for k in obj):
        obj = {k[len("backbone."):]: v for k, v in obj.items() if k.startswith("backbone.")}
    return obj


def load_encoder(module: nn.Module, path, key: str = "method.image_checkpoint") -> None:
    state = read_encoder_state(path, key)
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            detail.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if wrong:
            k = wrong[0]
            detail.append(f"{k} is {tuple(state[k].shape)} in the file but "
                          f"{tuple(own[k].shape)} here")
        raise UserError(f"{key}={path} does not fit the {type(module).__name__} of "
                        f"method.image_encoder ({'; '.join(detail)}); make method.image_encoder "
                        "describe the architecture the checkpoint was trained with")
    module.load_state_dict(state)


class Wav2CLIP(CLIP):
    """Audio encoder (``backbone``) + projection trained into a frozen image encoder's space.

    Args:
        backbone: the audio encoder (trained; saved as the run's backbone.safetensors).
        image_encoder: the image encoder's architecture (a ``_target_`` in the config).
        image_checkpoint: its weights (run folder, backbone.safetensors or step_N.pt). Required.
        image_projection: ``none`` keeps the frozen encoder's own feature space (the audio side
            projects into it); ``linear``/``mlp`` add a trainable head on the image side.
        Other arguments as :class:`CLIP`.
    """

    def __init__(self, backbone: nn.Module, image_encoder: nn.Module,
                 image_checkpoint: Optional[str] = None,
                 modalities: Sequence[str] = ("audio", "image"), projection: str = "mlp",
                 image_projection: str = "none", embed_dim: Optional[int] = None,
                 hidden_dim: int = 512, loss: str = "infonce", temperature: Optional[float] = None,
                 learn_temperature: bool = True, max_logit_scale: float = 100.0,
                 siglip_bias: float = -10.0, gather_distributed: bool = True):
        if image_checkpoint is None or str(image_checkpoint) in ("", "???", "None"):
            raise UserError(HOW_TO)
        load_encoder(image_encoder, image_checkpoint)
        if embed_dim is None:
            embed_dim = image_encoder.out_dim
        super().__init__(backbone, image_encoder, modalities=modalities, embed_dim=embed_dim,
                         projection=projection, partner_projection=image_projection,
                         hidden_dim=hidden_dim, loss=loss, temperature=temperature,
                         learn_temperature=learn_temperature, max_logit_scale=max_logit_scale,
                         siglip_bias=siglip_bias, freeze_partner=True,
                         gather_distributed=gather_distributed)
        self.image_checkpoint = str(image_checkpoint)

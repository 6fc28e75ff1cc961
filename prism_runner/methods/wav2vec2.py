"""wav2vec 2.0 (Baevski, Zhou, Mohamed, Auli, "wav2vec 2.0: A Framework for Self-Supervised
Learning of Speech Representations", NeurIPS 2020, https://arxiv.org/abs/2006.11477).

Latent speech frames from a convolutional encoder are masked in spans before a transformer; for
every masked frame the transformer's output must identify the *quantized* latent of that frame
among K distractors quantized from other masked frames of the same utterance (contrastive loss),
while a diversity loss keeps the Gumbel-softmax codebooks in use.

The pieces (:func:`span_mask`, :func:`sample_negatives`, :class:`GumbelVectorQuantizer`,
:func:`contrastive_logits`, :func:`diversity_loss`) are usable and testable on their own.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def span_mask(frames: torch.Tensor, size: int, mask_prob: float, mask_length: int,
              min_masks: int = 2, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random span masks over latent frames, as in wav2vec 2.0 (Sec. 3.1 / 4.2).

    Each valid frame of an utterance is the start of a span of ``mask_length`` frames with
    probability ``mask_prob``: ``round_stochastic(mask_prob * length)`` distinct start frames are
    drawn and spans may overlap. The paper uses p = 0.065 and M = 10, masking about 49% of frames
    (fairseq writes the same thing as ``mask_prob=0.65`` spans of ``length / M``).
    Padded frames are never masked.

    Args:
        frames: (N,) valid frame counts.
        size: T, the padded number of frames.
        mask_prob: probability that a frame starts a span.
        mask_length: span length M in frames (shortened for utterances shorter than M).
        min_masks: at least this many spans per utterance (so there are distractors).

    Returns:
        (N, T) bool tensor, True where masked.

    Raises:
        ValueError: for ``mask_prob`` outside [0, 1] or ``mask_length < 1``.
    """
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")
    if mask_length < 1:
        raise ValueError(f"mask_length must be >= 1, got {mask_length}")
    n = frames.shape[0]
    mask = torch.zeros(n, size, dtype=torch.bool)
    counts = frames.detach().cpu().clamp(min=0, max=size).tolist()
    noise = torch.rand(n, generator=generator).tolist()
    for i, length in enumerate(counts):
        if length <= 0:
            continue
        span = min(mask_length, length)
        starts_room = length - span + 1
        num = int(mask_prob * length + noise[i])
        num = min(max(num, min_masks), starts_room)
        starts = torch.randperm(starts_room, generator=generator)[:num]
        idx = (starts[:, None] + torch.arange(span)[None, :]).reshape(-1)
        mask[i, idx] = True
    return mask.to(frames.device)


def sample_negatives(mask: torch.Tensor, num_negatives: int,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Indices of distractors for every masked frame, drawn uniformly (with replacement) from the
    *other* masked frames of the same utterance (wav2vec 2.0, Sec. 3.3).

    Rows are numbered as in ``x[mask]`` (row-major over (N, T)). An utterance with a single masked
    frame has no other frame: its distractor index is the frame itself (callers drop those
    logits, see :func:`contrastive_logits`).

    Args:
        mask: (N, T) bool mask of masked frames.
        num_negatives: K distractors per masked frame.

    Returns:
        (M, K) long tensor of row indices into ``x[mask]``, M = ``mask.sum()``.
    """
    counts = mask.sum(dim=1)                                  # (N,)
    offsets = torch.cumsum(counts, 0) - counts                # first row of each utterance
    utt = torch.repeat_interleave(torch.arange(mask.shape[0], device=mask.device), counts)
    total = int(counts.sum())
    rank = torch.arange(total, device=mask.device) - offsets[utt]   # position within utterance
    others = (counts[utt] - 1).clamp(min=0)                   # candidates excluding itself
    draw = torch.rand(total, num_negatives, generator=generator).to(mask.device)
    j = (draw * others[:, None]).floor().long()               # in [0, others)
    j = j + (j >= rank[:, None]).long()                       # skip the frame itself
    j = torch.where(others[:, None] > 0, j, rank[:, None].expand(-1, num_negatives))
    return offsets[utt][:, None] + j


def sample_cross_negatives(mask: torch.Tensor, num_negatives: int,
                           generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Distractors drawn uniformly (with replacement) from *all* masked frames of the batch except
    the frame itself (fairseq's ``cross_sample_negatives``).

    Same-utterance distractors (:func:`sample_negatives`) only ask what changes within an
    utterance; distractors from other utterances can also be told apart by what an utterance
    carries as a whole (speaker, word). On the bundled spoken digits 10 + 10 of them did no
    better than 20 from the same utterance (probe 0.630 vs 0.626 after 496 steps, with
    ``quantizer_init_std`` 1.0).

    Args:
        mask: (N, T) bool mask of masked frames.
        num_negatives: distractors per masked frame.

    Returns:
        (M, num_negatives) long tensor of row indices into ``x[mask]``; when the batch has a
        single masked frame the index is the frame itself (dropped by :func:`contrastive_logits`).
    """
    total = int(mask.sum())
    rows = torch.arange(total, device=mask.device)
    if total < 2:
        return rows[:, None].expand(-1, num_negatives)
    draw = torch.randint(0, total - 1, (total, num_negatives), generator=generator)
    draw = draw.to(mask.device)
    return draw + (draw >= rows[:, None]).long()              # skip the frame itself


class GumbelVectorQuantizer(nn.Module):
    """Product quantizer with Gumbel-softmax selection (wav2vec 2.0, Sec. 3.2; Jang et al. 2017).

    ``G`` codebooks (groups) of ``V`` entries each; for every input frame one entry per group is
    chosen and the chosen entries are concatenated. During training the choice is a straight-
    through Gumbel-softmax at temperature ``tau`` (hard one-hot forward, soft gradient); in eval
    mode it is the argmax.

    Args:
        in_dim: input feature size.
        groups: G (paper: 2).
        entries: V per group (paper: 320).
        code_dim: size of the concatenated code vector (each entry holds ``code_dim / G``).
        init_std: std of the input projection's weights (fairseq: 1.0). With layer-normed
            inputs the logits have std ``init_std * sqrt(in_dim)``: large values saturate the
            softmax (the diversity loss then has almost no gradient and codes can collapse);
            small ones let the Gumbel noise pick codes independent of the input.

    Raises:
        ValueError: when ``code_dim`` is not divisible by ``groups``.
    """

    def __init__(self, in_dim: int, groups: int = 2, entries: int = 320, code_dim: int = 256,
                 init_std: float = 1.0):
        super().__init__()
        if code_dim % groups:
            raise ValueError(f"code_dim={code_dim} must be divisible by groups={groups}")
        self.groups, self.entries, self.code_dim = groups, entries, code_dim
        # As fairseq: weight_proj ~ N(0, 1), so the choices are confident (the Gumbel noise does
        # not randomise them) and the targets are a learnable function of the input from step 0.
        # Unlike fairseq (U(0, 1)) the code vectors are zero-mean, so distinct codes are distinct
        # targets from the start instead of near-parallel vectors.
        self.weight_proj = nn.Linear(in_dim, groups * entries)
        nn.init.normal_(self.weight_proj.weight, mean=0.0, std=float(init_std))
        nn.init.zeros_(self.weight_proj.bias)
        self.codevectors = nn.Parameter(torch.empty(groups * entries, code_dim // groups))
        nn.init.normal_(self.codevectors)

    @property
    def num_codes(self) -> int:
        return self.groups * self.entries

    def forward(self, x: torch.Tensor, tau: float = 1.0) -> Dict[str, torch.Tensor]:
        """x: (M, in_dim). Returns ``quantized`` (M, code_dim), ``probs`` (M, G, V) softmax
        without noise (for the diversity loss), ``codes`` (M, G) chosen entries and
        ``code_perplexity`` (perplexity of the hard choices, summed over groups)."""
        m = x.shape[0]
        logits = self.weight_proj(x).float().view(m, self.groups, self.entries)
        probs = logits.softmax(dim=-1)
        if self.training:
            onehot = F.gumbel_softmax(logits, tau=tau, hard=True, dim=-1)
        else:
            onehot = F.one_hot(logits.argmax(-1), self.entries).to(logits.dtype)
        codes = onehot.argmax(-1)
        book = self.codevectors.view(self.groups, self.entries, -1)
        quantized = torch.einsum("mgv,gvd->mgd", onehot.to(book.dtype), book).reshape(m, -1)
        hard = onehot.detach().mean(0)                        # (G, V) usage of each entry
        code_ppl = torch.exp(-(hard * torch.log(hard + 1e-7)).sum(-1)).sum()
        return {"quantized": quantized, "probs": probs, "codes": codes,
                "code_perplexity": code_ppl}


def diversity_loss(probs: torch.Tensor) -> torch.Tensor:
    """Codebook diversity loss of wav2vec 2.0 (Eq. 4): ``(GV - sum_g exp(H(p_g))) / GV``, where
    ``p_g`` is the softmax over group ``g``'s entries averaged over the batch's frames.

    0 when every entry is used equally, close to 1 when one entry per group takes all frames.

    Args:
        probs: (M, G, V) softmax probabilities (without Gumbel noise).

    Returns:
        scalar tensor.
    """
    groups, entries = probs.shape[1], probs.shape[2]
    avg = probs.mean(dim=0)                                   # (G, V)
    perplexity = torch.exp(-(avg * torch.log(avg + 1e-7)).sum(-1)).sum()
    return (groups * entries - perplexity) / (groups * entries)


def contrastive_logits(context: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor,
                       temperature: float = 0.1, drop_duplicates: bool = True) -> torch.Tensor:
    """Cosine-similarity logits of wav2vec 2.0's contrastive task (Eq. 3).

    Column 0 is the true quantized target, columns 1..K the distractors. A distractor that is the
    frame itself (an utterance with one masked frame) always gets ``-inf``; with
    ``drop_duplicates`` so does one equal to the target (the same code), as fairseq does.

    Dropping duplicates makes a codebook collapsed to one code score a perfect loss of 0 (every
    distractor is dropped), a trap that short runs on small data fall into when the diversity
    loss is too weak. Keeping them makes that collapse the *worst* outcome, ln(1 + K).

    Args:
        context: (M, D) transformer outputs at masked frames (after the final projection).
        targets: (M, D) quantized latents of the same frames.
        negatives: (M, K) row indices into ``targets`` (see :func:`sample_negatives`).
        temperature: kappa (paper: 0.1).
        drop_duplicates: drop distractors equal to the target.

    Returns:
        (M, 1 + K) logits; cross entropy against class 0 is the loss.
    """
    candidates = torch.cat([targets.unsqueeze(1), targets[negatives]], dim=1)    # (M, 1+K, D)
    logits = F.cosine_similarity(context.unsqueeze(1).float(), candidates.float(), dim=-1)
    logits = logits / temperature
    drop = negatives == torch.arange(targets.shape[0], device=negatives.device)[:, None]
    if drop_duplicates:
        drop = drop | (candidates[:, 1:] == targets.unsqueeze(1)).all(-1)
    return torch.cat([logits[:, :1], logits[:, 1:].masked_fill(drop, float("-inf"))], dim=1)


@torch.no_grad()
def contrastive_accuracy(logits: torch.Tensor) -> torch.Tensor:
    """Share of rows whose target (column 0) scores strictly above every distractor: a tie, as
    a collapsed codebook gives, is not a hit."""
    return (logits[:, 0] > logits[:, 1:].max(dim=-1).values).float().mean()


class Wav2Vec2(nn.Module):
    """wav2vec 2.0 pre-training around a :class:`~prism_runner.backbones.audio.Wav2Vec2Encoder`.

    ``forward(batch)`` reads ``audio`` (N, S) and ``lengths`` (N,) and returns ``loss`` =
    contrastive + ``diversity_weight`` * diversity + ``feature_penalty`` * mean(z^2), plus logs
    (each term, ``accuracy`` of the contrastive task, ``code_perplexity``, ``gumbel_tau``,
    ``mask_fraction``). ``embed(batch)`` is the backbone's mean-pooled output without masking.

    Args:
        backbone: the encoder (``extract``/``normalize``/``project``/``contextualize``, ``out_dim``).
        codebook_groups, codebook_entries: G and V of the quantizer (paper: 2 x 320).
        final_dim: size of the space where context and quantized targets are compared (paper 256).
        mask_prob, mask_length: span masking (paper: 0.065, 10 frames of 20 ms).
        num_negatives: K distractors per masked frame from the same utterance (paper: 100).
        cross_sample_negatives: further distractors per masked frame from anywhere in the batch
            (fairseq option, paper: 0; see :func:`sample_cross_negatives`).
        logit_temperature: kappa (paper: 0.1).
        diversity_weight: alpha (paper: 0.1).
        feature_penalty: weight of the L2 penalty on latent frames (fairseq BASE: 10).
        gumbel_tau: (start, end, fraction): the Gumbel temperature decays exponentially from start
            to end over ``fraction`` of the training steps, then stays (paper: 2 -> 0.5).
        feature_grad_mult: scales the gradient reaching the conv encoder (fairseq BASE: 0.1).
        quantize_targets: ``False`` uses continuous targets (a linear map of the detached latent
            frames; the paper's Table 4 ablation), a diagnostic for the context network alone.
        quantizer_init_std: ``init_std`` of the :class:`GumbelVectorQuantizer`.
        drop_duplicate_negatives: drop distractors whose code equals the target's (fairseq;
            see :func:`contrastive_logits` for the collapse this invites on small data).

    Raises:
        ValueError: for inconsistent sizes or out-of-range settings.
    """

    def __init__(self, backbone: nn.Module, codebook_groups: int = 2, codebook_entries: int = 320,
                 final_dim: int = 256, mask_prob: float = 0.065, mask_length: int = 10,
                 num_negatives: int = 100, cross_sample_negatives: int = 0,
                 logit_temperature: float = 0.1,
                 diversity_weight: float = 0.1, feature_penalty: float = 10.0,
                 gumbel_tau: Sequence[float] = (2.0, 0.5, 0.7), feature_grad_mult: float = 1.0,
                 quantizer_dim: Optional[int] = None, quantize_targets: bool = True,
                 quantizer_init_std: float = 1.0, drop_duplicate_negatives: bool = True):
        super().__init__()
        if len(gumbel_tau) != 3 or not (gumbel_tau[0] > 0 and gumbel_tau[1] > 0):
            raise ValueError("gumbel_tau must be [start, end, fraction] with positive temperatures")
        if num_negatives < 0 or cross_sample_negatives < 0 or \
                num_negatives + cross_sample_negatives < 1:
            raise ValueError("num_negatives and cross_sample_negatives must be >= 0 with at least "
                             f"one distractor, got {num_negatives} and {cross_sample_negatives}")
        self.backbone = backbone
        self.mask_prob, self.mask_length = float(mask_prob), int(mask_length)
        self.num_negatives = int(num_negatives)
        self.cross_sample_negatives = int(cross_sample_negatives)
        self.logit_temperature = float(logit_temperature)
        self.diversity_weight = float(diversity_weight)
        self.feature_penalty = float(feature_penalty)
        self.feature_grad_mult = float(feature_grad_mult)
        self.tau_start, self.tau_end, self.tau_fraction = (float(v) for v in gumbel_tau)
        code_dim = int(quantizer_dim or final_dim)
        self.quantizer = GumbelVectorQuantizer(backbone.feature_dim, codebook_groups,
                                               codebook_entries, code_dim, quantizer_init_std)
        self.project_q = nn.Linear(code_dim, final_dim)
        self.final_proj = nn.Linear(backbone.embed_dim, final_dim)
        self.mask_embedding = nn.Parameter(torch.empty(backbone.embed_dim).uniform_())
        # a buffer, so a resumed run continues with the annealed temperature
        self.register_buffer("gumbel_tau", torch.tensor(self.tau_start))
        self.quantize_targets = bool(quantize_targets)
        self.drop_duplicate_negatives = bool(drop_duplicate_negatives)
        if not self.quantize_targets:      # the paper's "continuous targets" ablation (Table 4)
            self.target_proj = nn.Linear(backbone.feature_dim, final_dim)

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Anneal the Gumbel temperature: ``start * (end/start) ** (step / (fraction * total))``,
        floored at ``end``."""
        horizon = max(1.0, self.tau_fraction * total_steps)
        progress = min(1.0, step / horizon)
        tau = self.tau_start * (self.tau_end / self.tau_start) ** progress
        self.gumbel_tau.fill_(max(tau, min(self.tau_start, self.tau_end)))

    def forward(self, batch: dict) -> Dict[str, torch.Tensor]:
        audio, lengths = batch["audio"], batch.get("lengths")
        backbone = self.backbone
        z, frames = backbone.extract(audio, lengths)                      # (N, T, C)
        if self.feature_grad_mult != 1.0:
            z = GradScale.apply(z, self.feature_grad_mult)
        valid = torch.arange(z.shape[1], device=z.device)[None, :] < frames[:, None]
        penalty = z[valid].float().pow(2).mean()
        z = backbone.normalize(z)
        x = backbone.project(z)                                           # (N, T, D)
        mask = span_mask(frames, z.shape[1], self.mask_prob, self.mask_length) & valid
        x = torch.where(mask.unsqueeze(-1), self.mask_embedding.to(x.dtype), x)
        c = backbone.contextualize(x, frames)                             # (N, T, D)

        context = self.final_proj(c[mask])                                # (M, F)
        q = self.quantizer(z[mask], tau=float(self.gumbel_tau))
        if self.quantize_targets:
            targets = self.project_q(q["quantized"])                      # (M, F)
        else:
            targets = self.target_proj(z[mask].detach())
        parts = [sample_negatives(mask, self.num_negatives)] if self.num_negatives else []
        if self.cross_sample_negatives:
            parts.append(sample_cross_negatives(mask, self.cross_sample_negatives))
        negatives = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        logits = contrastive_logits(context, targets, negatives, self.logit_temperature,
                                    self.drop_duplicate_negatives)
        zeros = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        contrastive = F.cross_entropy(logits, zeros)
        diversity = diversity_loss(q["probs"])
        loss = contrastive + self.diversity_weight * diversity + self.feature_penalty * penalty
        accuracy = contrastive_accuracy(logits)
        return {"loss": loss, "contrastive": contrastive.detach(), "diversity": diversity.detach(),
                "feature_penalty": penalty.detach(), "accuracy": accuracy,
                "code_perplexity": q["code_perplexity"].detach(),
                "gumbel_tau": self.gumbel_tau.detach().clone(),
                "mask_fraction": (mask.sum() / valid.sum().clamp(min=1)).float()}

    @torch.no_grad()
    def embed(self, batch: dict) -> torch.Tensor:
        return self.backbone(batch["audio"], batch.get("lengths"))


class GradScale(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` (fairseq's GradMultiply)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None

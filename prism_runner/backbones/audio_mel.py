"""A log-mel spectrogram CNN: waveforms (N, T) -> (N, out_dim). Small and fast on CPUs."""
from __future__ import annotations

import torch
from torch import nn


class LogMelCNN(nn.Module):
    """Log-mel front end, per-utterance normalisation, four conv blocks, global pooling.

    Args:
        sample_rate: of the input waveforms (Hz).
        n_mels, n_fft, hop_ms, win_ms: the mel spectrogram (torchaudio.transforms.MelSpectrogram).
        width: channels of the first conv block (doubles after the second); ``out_dim = 4*width``.
    """

    def __init__(self, sample_rate: int = 16000, n_mels: int = 40, win_ms: float = 25.0,
                 hop_ms: float = 10.0, n_fft: int = 0, width: int = 32):
        super().__init__()
        import torchaudio

        win = int(round(sample_rate * win_ms / 1000))
        hop = int(round(sample_rate * hop_ms / 1000))
        n_fft = n_fft or 1 << (win - 1).bit_length()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win, hop_length=hop,
            n_mels=n_mels, f_min=20.0, f_max=sample_rate / 2)
        w = width

        def block(cin: int, cout: int, stride) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(
            block(1, w, 1), block(w, w, 2), block(w, 2 * w, 1), block(2 * w, 2 * w, 2),
            block(2 * w, 4 * w, 1), block(4 * w, 4 * w, 2))
        self.out_dim = 4 * w

    def spectrogram(self, wave: torch.Tensor) -> torch.Tensor:
        """(N, T) -> (N, 1, n_mels, frames), log-compressed and normalised per utterance."""
        with torch.autocast(device_type=wave.device.type, enabled=False):
            spec = torch.log(self.mel(wave.float()) + 1e-5)
        mean = spec.mean(dim=(1, 2), keepdim=True)
        std = spec.std(dim=(1, 2), keepdim=True)
        return ((spec - mean) / (std + 1e-5)).unsqueeze(1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 3:  # (N, 1, T)
            wave = wave.squeeze(1)
        return self.features(self.spectrogram(wave)).mean(dim=(2, 3))

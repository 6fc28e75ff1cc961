"""Text for cross-modal methods: a byte-level tokenizer that needs no download, and padding.

Every UTF-8 byte is one token (ids 3..258); 0 pads, 1 starts and 2 ends a sequence. Any text
in any language encodes without an unknown token and without a vocabulary file.
"""
from __future__ import annotations

from typing import List, Sequence

import torch

PAD, BOS, EOS = 0, 1, 2
OFFSET = 3
VOCAB_SIZE = 256 + OFFSET


class ByteTokenizer:
    """UTF-8 bytes -> token ids ``[BOS, b1+3, ..., bk+3, EOS]``, cut to ``max_length`` tokens.

    Attributes:
        max_length: longest sequence in tokens, BOS and EOS included (>= 3).
        lowercase: fold case first (names such as "SMILING FACE" and "Smiling face" meet).
        vocab_size: 259 (256 bytes + pad, bos, eos); the text encoder's embedding size.

    Example:
        >>> ByteTokenizer(max_length=8).encode("hi").tolist()
        [1, 107, 108, 2]
    """

    vocab_size = VOCAB_SIZE
    pad_id, bos_id, eos_id = PAD, BOS, EOS

    def __init__(self, max_length: int = 64, lowercase: bool = True):
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3 (BOS, one byte, EOS), got {max_length}")
        self.max_length, self.lowercase = int(max_length), bool(lowercase)

    def encode(self, text: str) -> torch.Tensor:
        if self.lowercase:
            text = text.lower()
        data = text.encode("utf-8")[: self.max_length - 2]
        ids = [BOS] + [b + OFFSET for b in data] + [EOS]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> str:
        data = bytes(int(i) - OFFSET for i in ids if int(i) >= OFFSET)
        return data.decode("utf-8", errors="replace")


def pad_sequences(seqs: List[torch.Tensor], pad_id: int = PAD) -> torch.Tensor:
    """1-D id tensors of different lengths -> (N, longest) padded with ``pad_id``."""
    if not seqs:
        return torch.zeros(0, 0, dtype=torch.long)
    longest = max(int(s.numel()) for s in seqs)
    out = torch.full((len(seqs), longest), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : s.numel()] = s
    return out

"""Byte-level tokenizer, padding and the text transformer."""
import torch

from prism_runner.backbones.text import TextTransformer
from prism_runner.data.text import BOS, EOS, PAD, VOCAB_SIZE, ByteTokenizer, pad_sequences


def test_encode_is_bos_bytes_eos():
    tok = ByteTokenizer(max_length=16, lowercase=False)
    assert tok.encode("Hi").tolist() == [BOS, ord("H") + 3, ord("i") + 3, EOS]
    assert tok.vocab_size == VOCAB_SIZE == 259


def test_lowercase_and_unicode_roundtrip():
    tok = ByteTokenizer(max_length=64)
    assert tok.encode("FACE").tolist() == tok.encode("face").tolist()
    text = "drapeau ‒ égypte 🇪🇬"
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode("é")) == 4  # two UTF-8 bytes + BOS + EOS
    assert int(tok.encode(text).max()) < VOCAB_SIZE


def test_truncation_keeps_bos_and_eos():
    ids = ByteTokenizer(max_length=5).encode("abcdefgh")
    assert ids.tolist() == [BOS, ord("a") + 3, ord("b") + 3, ord("c") + 3, EOS]


def test_pad_sequences():
    out = pad_sequences([torch.tensor([1, 5, 2]), torch.tensor([1, 2])])
    assert out.tolist() == [[1, 5, 2], [1, 2, PAD]]


def test_text_encoder_ignores_padding():
    torch.manual_seed(0)
    model = TextTransformer(dim=32, depth=2, heads=4, max_length=16).eval()
    tok = ByteTokenizer(max_length=16)
    short = pad_sequences([tok.encode("cat"), tok.encode("a longer name")])
    longer = torch.cat([short, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a, b = model(short), model(longer)
    assert a.shape == (2, 32) and model.out_dim == 32
    assert torch.allclose(a, b, atol=1e-5)

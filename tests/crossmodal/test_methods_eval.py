"""CLIP / Wav2CLIP modules, checkpoint loading, and the zero-shot evaluator on known embeddings."""
import numpy as np
import pytest
import torch

from prism_runner.backbones.audio_mel import LogMelCNN
from prism_runner.backbones.text import TextTransformer
from prism_runner.backbones.vision import SmallCNN
from prism_runner.data.source import DataSource, ListDataset
from prism_runner.errors import UserError
from prism_runner.evaluation.zeroshot import ZeroShotRetrieval, recall_at_k
from prism_runner.methods.clip import CLIP
from prism_runner.methods.wav2clip import Wav2CLIP


def _clip(loss="infonce"):
    torch.manual_seed(0)
    return CLIP(SmallCNN(3, 8), TextTransformer(dim=16, depth=1, heads=2, max_length=16),
                embed_dim=12, loss=loss)


@pytest.mark.parametrize("loss", ["infonce", "siglip"])
def test_clip_forward_backward_and_embed(loss):
    method = _clip(loss)
    batch = {"image": torch.randn(4, 3, 8, 8), "text": torch.randint(3, 200, (4, 6))}
    out = method(batch)
    out["loss"].backward()
    assert method.logit_scale.grad is not None
    assert method.backbone.features[0][0].weight.grad is not None
    emb = method.embed({"text": batch["text"]})
    assert set(emb) == {"text"} and emb["text"].shape == (4, 12)
    assert torch.allclose(emb["text"].norm(dim=1), torch.ones(4), atol=1e-5)


def test_clip_rejects_unknown_loss():
    with pytest.raises(UserError, match="infonce"):
        CLIP(SmallCNN(3, 8), TextTransformer(dim=16, depth=1, heads=2), loss="hinge")


def _save_encoder(tmp_path, width=8):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    enc = SmallCNN(1, width)
    save_file({k: v.contiguous() for k, v in enc.state_dict().items()},
              str(tmp_path / "backbone.safetensors"))
    return enc


def test_wav2clip_needs_a_checkpoint_and_says_how():
    with pytest.raises(UserError, match="image_checkpoint.*two steps|Two steps"):
        Wav2CLIP(LogMelCNN(8000, width=4), SmallCNN(1, 8), image_checkpoint=None)


def test_wav2clip_loads_frozen_encoder_from_run_folder_and_training_checkpoint(tmp_path):
    saved = _save_encoder(tmp_path)
    method = Wav2CLIP(LogMelCNN(8000, width=4), SmallCNN(1, 8), image_checkpoint=str(tmp_path))
    for k, v in saved.state_dict().items():
        assert torch.equal(method.partner.state_dict()[k], v)
    assert not any(p.requires_grad for p in method.partner.parameters())
    method.train()
    assert not method.partner.training  # frozen batch-norm statistics
    batch = {"audio": torch.randn(4, 800), "image": torch.randn(4, 1, 12, 12)}
    method(batch)["loss"].backward()
    assert all(p.grad is None for p in method.partner.parameters())
    assert method.embed(batch)["image"].shape == (4, saved.out_dim)

    # a training checkpoint as the runner writes it: {"model": method.state_dict(), ...}
    torch.save({"model": {f"backbone.{k}": v for k, v in saved.state_dict().items()},
                "state": {"step": 3}}, tmp_path / "step_3.pt")
    Wav2CLIP(LogMelCNN(8000, width=4), SmallCNN(1, 8), image_checkpoint=str(tmp_path / "step_3.pt"))


def test_wav2clip_architecture_mismatch_is_explained(tmp_path):
    _save_encoder(tmp_path, width=8)
    with pytest.raises(UserError, match="does not fit"):
        Wav2CLIP(LogMelCNN(8000, width=4), SmallCNN(1, 16), image_checkpoint=str(tmp_path))
    with pytest.raises(UserError, match="does not exist"):
        Wav2CLIP(LogMelCNN(8000, width=4), SmallCNN(1, 8),
                 image_checkpoint=str(tmp_path / "nope.safetensors"))


def test_recall_at_k():
    sims = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.1], [0.0, 0.2, 0.1]])
    r = recall_at_k(sims, np.eye(3, dtype=bool), (1, 2))
    assert r[1] == pytest.approx(1 / 3) and r[2] == 1.0


def _fake_source(labels):
    items = [{"label": int(y)} for y in labels]
    src = DataSource(train=ListDataset(items), probe_train=ListDataset(items),
                     probe_test=ListDataset(items))
    src.class_names = ["cat", "dog"]
    return src


def test_zeroshot_evaluator_on_ideal_and_shuffled_embeddings():
    labels = np.array([0, 1, 0, 1])
    basis = {"cat": np.array([1.0, 0.0, 0.0]), "dog": np.array([0.0, 1.0, 0.0])}
    noise = np.zeros((4, 3))
    noise[:, 2] = [0.1, 0.2, 0.3, 0.4]  # distinct items within a class

    def ideal(dataset):
        if isinstance(dataset[0], dict) and "text" in dataset[0]:  # prompts
            return {"text": np.stack([basis[d["text"]] for d in dataset.items])}
        x = np.stack([basis[["cat", "dog"][y]] for y in labels]) + noise
        return {"image": x, "text": x.copy(), "label": labels}

    ev = ZeroShotRetrieval(query="image", candidates="text", match="pair")
    out = ev(ideal, _fake_source(labels))
    m = out["metrics"]
    assert out["metric"] == "zeroshot_prompt_acc" and out["score"] == 1.0
    assert m["zeroshot_proto_acc"] == 1.0 and m["image_to_text_r@1"] == 1.0
    assert m["text_to_image_r@5"] == 1.0

    by_label = ZeroShotRetrieval(query="image", candidates="text", match="label",
                                 score="zeroshot_proto_acc")
    assert by_label(ideal, _fake_source(labels))["metrics"]["image_to_text_r@1"] == 1.0

    def swapped(dataset):
        out = ideal(dataset)
        if "image" in out:
            out["image"] = out["image"][[1, 0, 3, 2]]  # every image looks like the other class
        return out

    assert ev(swapped, _fake_source(labels))["metrics"]["zeroshot_prompt_acc"] == 0.0


def test_zeroshot_names_missing_modalities():
    ev = ZeroShotRetrieval(query="audio", candidates="image")
    with pytest.raises(UserError, match="audio"):
        ev(lambda d: {"embedding": np.zeros((2, 3)), "label": np.zeros(2)},
           _fake_source([0, 1]))


def test_clip_run_probes_one_encoder_and_saves_both(tmp_path):
    """`+recipe=clip eval=linear_probe eval.embedding=image`: the probe reads the image
    embeddings, and the run folder holds the text encoder beside the backbone."""
    import json

    from safetensors.torch import load_file

    from prism_runner.app import run
    from prism_testing import compose

    cfg = compose(["+recipe=clip", "tracking=none", "trainer.progress=false", "trainer.max_steps=2",
                   "data.batch_size=32", "eval=linear_probe", "eval.embedding=image",
                   "eval.baseline=false", "eval.max_iter=100"], run_dir=tmp_path / "run")
    score = run(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["metric"] == "probe_acc" and 0.0 <= score <= 1.0
    text = load_file(summary["encoders"]["text_encoder"])
    assert summary["encoders"]["text_encoder"].endswith("text_encoder.safetensors")
    assert {"token.weight", "position"} <= set(text)       # the text transformer's weights

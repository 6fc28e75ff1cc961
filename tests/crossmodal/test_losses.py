"""CLIP InfoNCE and SigLIP losses against values computed by hand."""
import math

import pytest
import torch

from prism_runner.methods.losses import ClipInfoNCELoss, SigLipLoss

I2 = torch.eye(2)


def test_infonce_matched_orthogonal_pairs():
    # logits = scale * I: every row is CE over [scale, 0] -> log(1 + e^-scale)
    for scale in (1.0, 2.0):
        loss = ClipInfoNCELoss()(I2, I2, torch.tensor(scale))
        assert loss.item() == pytest.approx(math.log(1 + math.exp(-scale)), abs=1e-6)


def test_infonce_is_symmetric_mean_of_both_directions():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[2.0, 0.0], [3.0, 0.0]])  # normalised to (1,0), (1,0)
    # a -> b: logits [[1,1],[0,0]]: both rows log 2.
    # b -> a: logits [[1,0],[1,0]]: row 0 target 0: log(1+e^-1); row 1 target 1: log(1+e).
    a_to_b = math.log(2)
    b_to_a = (math.log(1 + math.exp(-1)) + math.log(1 + math.e)) / 2
    loss = ClipInfoNCELoss()(a, b, torch.tensor(1.0))
    assert loss.item() == pytest.approx((a_to_b + b_to_a) / 2, abs=1e-6)


def test_siglip_hand_values():
    # scale 1, bias 0: diagonal logit 1 (label +1), off-diagonal 0 (label -1)
    loss = SigLipLoss()(I2, I2, torch.tensor(1.0), torch.tensor(0.0))
    expected = (2 * math.log(1 + math.exp(-1)) + 2 * math.log(2)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # scale 2, bias -1: diagonal 1 (label +1), off-diagonal -1 (label -1): all four log(1+e^-1)
    loss = SigLipLoss()(I2, I2, torch.tensor(2.0), torch.tensor(-1.0))
    assert loss.item() == pytest.approx(4 * math.log(1 + math.exp(-1)) / 2, abs=1e-6)


@pytest.mark.parametrize("loss_fn", [ClipInfoNCELoss(), SigLipLoss()])
def test_gradients_reach_temperature_and_bias(loss_fn):
    torch.manual_seed(0)
    a = torch.randn(6, 8, requires_grad=True)
    b = torch.randn(6, 8, requires_grad=True)
    log_scale = torch.tensor(1.0, requires_grad=True)
    bias = torch.tensor(-2.0, requires_grad=True)
    loss = loss_fn(a, b, log_scale.exp(), bias)
    loss.backward()
    assert a.grad is not None and b.grad is not None and log_scale.grad is not None
    if isinstance(loss_fn, SigLipLoss):
        assert bias.grad is not None


def test_mismatched_batches_refused():
    with pytest.raises(ValueError):
        ClipInfoNCELoss()(torch.randn(3, 4), torch.randn(2, 4), torch.tensor(1.0))

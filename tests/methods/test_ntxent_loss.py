import math

import pytest
import torch

from prism_runner.methods.losses import NTXentLoss


def nt_xent_by_hand(z_a, z_b, temperature):
    """The NT-Xent formula written out one anchor at a time."""
    z = torch.cat([z_a, z_b])
    z = z / z.norm(dim=1, keepdim=True)
    n = z_a.shape[0]
    total = 0.0
    for i in range(2 * n):
        partner = (i + n) % (2 * n)
        numerator = math.exp(float(z[i] @ z[partner]) / temperature)
        denominator = sum(math.exp(float(z[i] @ z[k]) / temperature)
                          for k in range(2 * n) if k != i)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


def test_nt_xent_matches_hand_computed_value():
    torch.manual_seed(0)
    z_a, z_b = torch.randn(5, 7), torch.randn(5, 7)
    loss = NTXentLoss(temperature=0.3)(z_a, z_b)
    assert loss.item() == pytest.approx(nt_xent_by_hand(z_a, z_b, 0.3), rel=1e-5)


def test_nt_xent_known_value_for_orthogonal_pairs():
    # Two items, views identical, items orthogonal: each anchor sees its partner at cos 1 and
    # two negatives at cos 0, so loss = -log(e^{1/t} / (e^{1/t} + 2)).
    z = torch.eye(2)
    t = 0.5
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2))
    assert NTXentLoss(temperature=t)(z, z.clone()).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_lower_for_aligned_views_and_has_gradients():
    torch.manual_seed(1)
    z = torch.randn(16, 32, requires_grad=True)
    loss_fn = NTXentLoss(temperature=0.2)
    aligned = loss_fn(z, z + 0.01 * torch.randn_like(z))
    unrelated = loss_fn(z, torch.randn(16, 32))
    assert aligned < unrelated
    aligned.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_nt_xent_rejects_bad_arguments():
    with pytest.raises(ValueError):
        NTXentLoss(temperature=0)
    with pytest.raises(ValueError):
        NTXentLoss()(torch.randn(4, 8), torch.randn(5, 8))


@pytest.mark.parametrize("joint", [True, False])
def test_simclr_joint_or_per_view_forward(joint):
    """joint_forward=True encodes both views in one backbone call, False in one call per view;
    with batch norm the two give different (both valid) losses."""
    from prism_runner.backbones.vision import SmallCNN
    from prism_runner.methods.simclr import SimCLR

    torch.manual_seed(0)
    method = SimCLR(SmallCNN(1, 8), joint_forward=joint)
    calls = []
    method.backbone.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    views = [torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)]
    loss = method({"views": views})["loss"]
    loss.backward()
    assert calls == ([12] if joint else [6, 6])
    assert torch.isfinite(loss)

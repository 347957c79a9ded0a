"""Layer weighting schemes and the diagonal empirical Fisher (seed 003)."""

import numpy as np
import pytest
import torch

from kdkit.distill.fisher import layer_fisher
from kdkit.distill.layer_weights import SCHEMES, layer_weights, seed_heuristic


def test_seed_heuristic_reproduces_the_12_layer_vector():
    expected = [0.10, 0.12, 0.17, 0.25, 0.59, 0.69, 1.09, 1.58, 2.34, 4.13, 5.00, 5.00]
    np.testing.assert_allclose(seed_heuristic(12), expected, atol=0.006)


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "seed_heuristic"])
def test_schemes_have_mean_one(scheme):
    w = layer_weights(scheme, 4, fisher=[1.0, 2.0, 3.0, 6.0])
    assert w.mean() == pytest.approx(1.0) and (w >= 0).all()


def test_schemes_by_hand():
    np.testing.assert_allclose(layer_weights("linear", 3), [0.5, 1.0, 1.5])
    e = np.exp([0.0, 0.5, 1.0]) - 1
    np.testing.assert_allclose(layer_weights("exponential", 3), 3 * e / e.sum())
    np.testing.assert_allclose(layer_weights("fisher", 2, fisher=[1.0, 3.0]), [0.5, 1.5])
    # fisher_semantic: [1·1, 1·(1 + 1.5)] -> [1, 2.5] -> mean-one [0.571, 1.429]
    np.testing.assert_allclose(layer_weights("fisher_semantic", 2, fisher=[1.0, 1.0]),
                               [2 / 3.5, 5 / 3.5])
    with pytest.raises(ValueError, match="needs one Fisher value per layer"):
        layer_weights("fisher", 3)
    with pytest.raises(ValueError, match="unknown scheme"):
        layer_weights("attention", 3)


def test_fisher_of_a_linear_model_matches_the_closed_form():
    # squared loss ℓ = ½ (w·x − y)², ∂ℓ/∂w = (w·x − y) x, so F_w = mean((w·x − y)² x²)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    X, y = torch.randn(10, 3), torch.randn(10)
    samples = list(zip(X, y))
    F = layer_fisher(model, {"w": [model.weight]}, samples,
                     lambda m, s: 0.5 * (m(s[0]).squeeze() - s[1]) ** 2)
    with torch.no_grad():
        r = X @ model.weight[0] - y
        expected = float(((r[:, None] * X) ** 2).sum(dim=1).mean())
    assert F["w"] == pytest.approx(expected, rel=1e-6)


def test_layer_map_and_layerwise_loss_by_hand():
    from kdkit.distill.layerwise import LayerwiseKD, layer_map
    assert layer_map(2, 6) == [2, 5] and layer_map(3, 3) == [0, 1, 2]
    kd = LayerwiseKD(2, 2, weights=[1.0, 3.0], teacher_layers=2, gamma=0.5)
    for p in kd.proj:  # identity projections
        torch.nn.init.eye_(p.weight)
        torch.nn.init.zeros_(p.bias)
    s = [torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)]
    t = [torch.ones(1, 2, 2), 2 * torch.ones(1, 2, 2)]
    mask = torch.tensor([[True, False]])  # the second position is padding
    # layer 0: MSE 1 (w 1), layer 1: MSE 4 (w 3) -> 0.5 · (1 + 12) = 6.5
    assert kd(s, t, mask).item() == pytest.approx(6.5)


def test_logit_kd_term_by_hand():
    import math

    from kdkit.distill.layerwise import LayerwiseKD
    kd = LayerwiseKD(2, 2, weights=[1.0], teacher_layers=1, gamma=0.0, logit_weight=1.0,
                     temperature=2.0)
    h = [torch.zeros(1, 2, 2)]
    mask = torch.tensor([[False, True]])  # only the second position counts
    t_logits = torch.tensor([[[9.0, -9.0], [0.0, 0.0]]])  # p = (1/2, 1/2) at T = 2
    s_logits = torch.tensor([[[0.0, 0.0], [2 * math.log(3), 0.0]]])  # q = (3/4, 1/4)
    # T² · KL(p ‖ q) = 4 · (½ ln(½ / ¾) + ½ ln(½ / ¼)) = 2 ln(4/3)
    assert kd(h, h, mask, s_logits, t_logits).item() == pytest.approx(2 * math.log(4 / 3))
    assert kd(h, h, mask, t_logits, t_logits).item() == pytest.approx(0.0, abs=1e-7)

import math

import pytest
import torch

from kdkit.distill.bpr_kd import hybrid_kd_loss, margin_kd, soft_margin_loss
from kdkit.recsys.bpr_mf import BPRMF

D_S = torch.tensor([1.0, 2.0])
D_T = torch.tensor([0.0, 0.0])


@pytest.mark.parametrize("t", [0.5, 1.0, 4.0])
def test_margin_reading_is_plain_mse_for_any_temperature(t):
    # τ²·mean((d_S/τ − d_T/τ)²) = mean((1, 4)) = 2.5 whatever τ is
    assert soft_margin_loss(D_S, D_T, temperature=t, reading="margin").item() == \
        pytest.approx(2.5)


def test_sigmoid_reading_by_hand():
    # τ = 2: 4·mean((σ(0.5) − 0.5)², (σ(1) − 0.5)²)
    s = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    want = 4 * ((s(0.5) - 0.5) ** 2 + (s(1.0) - 0.5) ** 2) / 2
    got = soft_margin_loss(D_S, D_T, temperature=2.0, reading="sigmoid").item()
    assert got == pytest.approx(want, rel=1e-6)


def test_hybrid_mixes_bpr_and_soft():
    s_pos, s_neg = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    t_pos, t_neg = torch.tensor([0.0, 0.0]), torch.tensor([0.0, 0.0])
    bpr = (math.log1p(math.exp(-1)) + math.log1p(math.exp(-2))) / 2
    got = hybrid_kd_loss(s_pos, s_neg, t_pos, t_neg, alpha=0.25, temperature=3.0)
    assert got.item() == pytest.approx(0.75 * bpr + 0.25 * 2.5, rel=1e-6)


def test_identical_teacher_has_zero_soft_loss():
    assert soft_margin_loss(D_S, D_S, temperature=2.0, reading="sigmoid").item() == 0.0


def test_unknown_reading_is_refused():
    with pytest.raises(ValueError, match="margin, sigmoid"):
        soft_margin_loss(D_S, D_T, temperature=1.0, reading="kl")


def test_margin_kd_copies_the_teacher_and_checks_its_arguments():
    teacher = BPRMF(3, 5, 4)
    kd = margin_kd(teacher, alpha=0.5, temperature=2.0, reading="sigmoid")
    assert kd.user.shape == (3, 4) and kd.item_bias.shape == (5,)
    with torch.no_grad():
        teacher.user.weight.zero_()
    assert kd.user.any()  # a copy: the teacher is frozen by construction
    with pytest.raises(ValueError, match="margin, sigmoid"):
        margin_kd(teacher, alpha=0.5, temperature=2.0, reading="kl")
    with pytest.raises(ValueError, match="alpha"):
        margin_kd(teacher, alpha=1.5, temperature=2.0, reading="margin")

"""The compiled SGD loop takes the exact gradient step of the loss it claims to."""

import math

import numpy as np
import pytest
import torch

from kdkit.data.interactions import Interactions
from kdkit.distill.bpr_kd import hybrid_kd_loss, margin_kd
from kdkit.recsys.bpr_mf import BPRMF
from kdkit.recsys.bpr_sgd import sgd_epoch, train_bpr_sgd
from kdkit.recsys.sampling import train_bits


def one_pair_data():
    """One user, two items; item 0 is the training item, so the negative must be item 1."""
    pairs = np.array([[0, 0]], dtype=np.int64)
    return Interactions("t", 1, 2, train=pairs, valid=pairs[:0], test=pairs[:0])


def model(seed, dim=3):
    torch.manual_seed(seed)
    m = BPRMF(1, 2, dim)
    torch.nn.init.normal_(m.item_bias.weight, std=0.3)
    return m


@pytest.mark.parametrize("reading,alpha,temp", [(None, 0.0, 1.0), ("margin", 0.3, 1.0),
                                                ("sigmoid", 0.6, 2.0)])
def test_one_step_equals_the_autograd_gradient_step(reading, alpha, temp):
    lr, reg = 0.1, 0.05
    student, teacher = model(0), model(1, dim=4)
    ref = model(0)
    # the reference: the loss of the one triple (u=0, i=0, j=1) + λ/2 ‖θ‖² of the rows used
    u, i, j = torch.tensor([0]), torch.tensor([0]), torch.tensor([1])
    s_pos, s_neg = ref(u, i, j)
    if reading is None:
        loss = -torch.nn.functional.logsigmoid(s_pos - s_neg).mean()
    else:
        with torch.no_grad():
            t_pos, t_neg = teacher(u, i, j)
        loss = hybrid_kd_loss(s_pos, s_neg, t_pos, t_neg, alpha=alpha, temperature=temp,
                              reading=reading)
    loss = loss + reg / 2 * (ref.user.weight[0].square().sum() + ref.item.weight.square().sum()
                             + ref.item_bias.weight.square().sum())
    loss.backward()
    with torch.no_grad():
        for p in (ref.user.weight, ref.item.weight, ref.item_bias.weight):
            p -= lr * p.grad
    kd = None if reading is None else margin_kd(teacher, alpha=alpha, temperature=temp,
                                                reading=reading)
    sgd_epoch(student, one_pair_data(), lr=lr, reg=reg, rng=np.random.default_rng(0), kd=kd)
    for a, b in ((student.user.weight, ref.user.weight), (student.item.weight, ref.item.weight),
                 (student.item_bias.weight, ref.item_bias.weight)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_train_bits_marks_exactly_the_training_items():
    import scipy.sparse as sp
    dense = np.random.default_rng(0).random((7, 130)) < 0.2
    bits = train_bits(sp.csr_matrix(dense.astype(np.float32)))
    got = np.array([[(bits[u, j >> 6] >> np.uint64(j & 63)) & np.uint64(1) for j in range(130)]
                    for u in range(7)], dtype=bool)
    np.testing.assert_array_equal(got, dense)


def test_seeded_training_is_deterministic_and_learns():
    from kdkit.data.load import load_interactions
    from kdkit.recsys.metrics import evaluate
    data = load_interactions("synthetic", synthetic={"n_users": 200, "n_items": 300})
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = BPRMF(data.n_users, data.n_items, 8)
        train_bpr_sgd(m, data, epochs=15, lr=0.05, reg=0.01, seed=3)
        runs.append(m.user.weight.detach().clone())
    assert torch.equal(runs[0], runs[1])
    chance = 10 / data.n_items
    assert evaluate(m, data, "test")["Recall@10"] > 3 * chance


def test_divergence_names_the_model_epoch_and_loss():
    data = one_pair_data()
    m = model(0)
    with torch.no_grad():
        m.user.weight.fill_(float("inf"))  # an overflowed factor, as a too-large step leaves
    with pytest.raises(FloatingPointError, match=r"dim 3\) diverged at epoch 1: loss = nan"):
        train_bpr_sgd(m, data, epochs=2, lr=1.0, reg=0.0)


def test_shuffled_teacher_permutes_users():
    teacher = BPRMF(3, 4, 2)
    perm = np.array([2, 0, 1])
    kd = margin_kd(teacher, alpha=0.5, temperature=1.0, reading="margin", shuffle=perm)
    np.testing.assert_array_equal(kd.user, teacher.user.weight.detach().numpy()[perm])
    assert math.isclose(kd.alpha, 0.5)

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kdkit.distill.ranking import (
    candidate_kd,
    discrepancy_weights,
    estimated_ranks,
    position_weights,
    teacher_top_k,
)
from kdkit.recsys.bpr_mf import BPRMF


def test_position_weights_by_hand():
    w = position_weights(3, lam=1.0)
    e = [math.exp(-1), math.exp(-2), math.exp(-3)]
    assert w.tolist() == pytest.approx([x / sum(e) for x in e], rel=1e-9)


def test_discrepancy_weights_by_hand():
    # position 1 (column 0): student rank 0 = the teacher's -> tanh(0) = 0;
    # position 2 (column 1): student rank 11 vs 1 -> tanh(0.1 · 10) = tanh(1);
    # position 3: student rank 0, above the teacher's 2 -> clipped to 0
    w = discrepancy_weights(np.array([[0.0, 11.0, 0.0]]), mu=0.1)
    np.testing.assert_allclose(w, [[0.0, math.tanh(1.0), 0.0]])


def test_estimated_rank_with_every_item_sampled_is_exact_and_zero_based():
    s_all = np.array([[0.1, 0.5, 0.3, 0.9]])
    ranks = estimated_ranks(s_all, np.array([[0.5, 0.9, 0.1]]), n_items=4)
    assert ranks.tolist() == [[1.0, 0.0, 3.0]]


def teacher_and_train():
    t = BPRMF(2, 5, 2, bias=False)
    with torch.no_grad():
        t.user.weight[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        t.item.weight[:] = torch.tensor([[5.0, 0], [4, 0], [3, 0], [0, 2], [0, 1]])
    train = sp.csr_matrix(([1.0], ([0], [0])), shape=(2, 5))
    return t, train


def test_teacher_top_k_skips_training_items():
    t, train = teacher_and_train()
    top = teacher_top_k(t, train, k=2)
    assert top[0].tolist() == [1, 2]  # item 0 is user 0's training item
    assert top[1].tolist() == [3, 4]


def test_shuffled_teacher_ranks_for_another_user_but_skips_own_training_items():
    t, train = teacher_and_train()
    top = teacher_top_k(t, train, k=2, shuffle=np.array([1, 0]))
    assert top[0].tolist() == [3, 4]  # user 1's ranking
    assert top[1].tolist() == [0, 1]  # user 0's ranking; user 1 has no training item


def test_weights_are_positional_until_the_warm_up_epoch_then_hybrid():
    t, train = teacher_and_train()
    rd = candidate_kd(t, train, k=2, lam=1.0, mu=0.1, warmup=3, samples=50)
    student = BPRMF(2, 5, 2)
    rng = np.random.default_rng(0)
    w_pos = position_weights(2, 1.0)
    np.testing.assert_allclose(rd.weights(student, 3, rng), np.tile(w_pos, (2, 1)))
    hybrid = rd.weights(student, 4, rng)
    assert hybrid.shape == (2, 2) and (hybrid <= w_pos + 1e-12).all()
    # a student that already ranks every candidate first gets no weight at all
    with torch.no_grad():
        student.user.weight[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        student.item.weight[:] = t.item.weight * 10
        student.item_bias.weight.zero_()
    assert rd.weights(student, 4, rng)[1].tolist() == [0.0, pytest.approx(0.0, abs=0.1)]

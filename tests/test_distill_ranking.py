import math

import pytest
import scipy.sparse as sp
import torch

from kdkit.distill.ranking import (
    estimated_ranks,
    hybrid_weights,
    make_ranking_distillation,
    position_weights,
    rd_loss,
    teacher_top_k,
)
from kdkit.recsys.bpr_mf import BPRMF


def test_position_weights_by_hand():
    w = position_weights(3, lam=1.0)
    e = [math.exp(-1), math.exp(-2), math.exp(-3)]
    assert w.tolist() == pytest.approx([x / sum(e) for x in e], rel=1e-6)


def test_hybrid_weights_zero_where_student_already_agrees():
    w_pos = position_weights(2, lam=1.0)
    # item 1: student rank 1 = teacher rank 1 -> w^b = 0; item 2: rank 12 vs 2 -> tanh(1)
    w = hybrid_weights(w_pos, torch.tensor([[1, 12]]), mu=0.1)
    assert w.tolist() == [[0.0, pytest.approx(1.0)]]


def test_rd_loss_by_hand():
    s_top = torch.tensor([[2.0, 0.0]])
    s_neg = torch.tensor([[0.0, 0.0]])
    w = torch.tensor([0.75, 0.25])
    want = 0.75 * math.log1p(math.exp(-2)) + 0.25 * math.log(2)
    assert rd_loss(s_top, s_neg, w).item() == pytest.approx(want, rel=1e-6)


def test_estimated_rank_with_every_item_sampled_is_exact():
    s_all = torch.tensor([[0.1, 0.5, 0.3, 0.9]])
    ranks = estimated_ranks(s_all, torch.tensor([[0.5, 0.9, 0.1]]), n_items=4)
    assert ranks.tolist() == [[2.0, 1.0, 4.0]]


def test_teacher_top_k_skips_training_items():
    t = BPRMF(2, 5, 2, bias=False)
    with torch.no_grad():
        t.user.weight[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        t.item.weight[:] = torch.tensor([[5.0, 0], [4, 0], [3, 0], [0, 2], [0, 1]])
    train = sp.csr_matrix(([1.0], ([0], [0])), shape=(2, 5))
    top = teacher_top_k(t, train, k=2)
    assert top[0].tolist() == [1, 2]  # item 0 is user 0's training item
    assert top[1].tolist() == [3, 4]


def test_loss_fn_runs_and_trains_only_student():
    torch.manual_seed(0)
    teacher, student = BPRMF(3, 6, 4), BPRMF(3, 6, 2)
    train = sp.csr_matrix(([1.0, 1.0], ([0, 1], [0, 1])), shape=(3, 6))
    fn = make_ranking_distillation(teacher, train, k=2, alpha=0.5)
    loss = fn(student, torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is None for p in teacher.parameters())

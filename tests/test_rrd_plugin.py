"""The worked example's plug-in (plugins/rrd.py): RRD's loss by hand, its sampling."""

import math

import pytest
import torch

from kdkit import methods
from kdkit.recsys.bpr_mf import BPRMF
from plugins.rrd import RRD, rrd_loss


def test_rrd_loss_by_hand():
    # one user, interesting scores (2, 1) in the teacher's order, one uninteresting score 0
    got = rrd_loss(torch.tensor([[2.0, 1.0]]), torch.tensor([[0.0]])).item()
    want = -((2 - math.log(math.e ** 2 + math.e + 1)) + (1 - math.log(math.e + 1)))
    assert got == pytest.approx(want, rel=1e-6)


def test_the_loss_prefers_the_teachers_order():
    right = rrd_loss(torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[0.0, 0.0]]))
    wrong = rrd_loss(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.0, 0.0]]))
    assert right < wrong


def test_sampling_keeps_the_teachers_order_and_the_uninteresting_below_the_top():
    torch.manual_seed(0)
    teacher = BPRMF(20, 200, 8, init_std=0.5, bias=False)
    r = RRD(teacher, seed=3, k=5, n_uninteresting=30, top_n=20)
    users = torch.tensor([0, 5, 7])
    interesting, un = r.sample(users)
    scores = teacher.user.weight[users] @ teacher.item.weight.T
    s = scores.gather(1, interesting)
    assert (s[:, :-1] >= s[:, 1:]).all()  # in the teacher's order
    top = scores.topk(20, dim=1).indices
    assert not (un.unsqueeze(-1) == top.unsqueeze(1)).any()
    again = RRD(teacher, seed=3, k=5, n_uninteresting=30, top_n=20).sample(users)
    assert torch.equal(again[0], interesting) and torch.equal(again[1], un)


def test_the_plugin_resolves_by_path():
    assert methods.label("bpr-batch", "plugins.rrd:rrd") == "RRD"

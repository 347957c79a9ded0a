import math

import pytest
import torch

from kdkit.distill.ftd import ftd_loss, make_ftd
from kdkit.distill.htd import HTD, Decoders, gumbel_softmax, topology_loss
from kdkit.recsys.bpr_mf import BPRMF


def test_ftd_of_identical_embeddings_is_zero():
    x = torch.randn(7, 4)
    assert ftd_loss(x, x).item() == pytest.approx(0.0, abs=1e-10)


def test_ftd_is_blind_to_rotation_and_scale_of_the_student():
    torch.manual_seed(0)
    t = torch.randn(6, 3)
    q, _ = torch.linalg.qr(torch.randn(3, 3))
    assert ftd_loss(t, 2.5 * t @ q).item() == pytest.approx(0.0, abs=1e-9)


def test_ftd_hand_worked_case():
    # teacher: two orthogonal entities (cos 0); student: identical directions (cos 1)
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    # off-diagonal pairs (a,b) and (b,a) each contribute (0 - 1)² = 1; diagonals 0
    assert ftd_loss(t, s).item() == pytest.approx(2.0)


def test_ftd_loss_fn_freezes_teacher():
    torch.manual_seed(0)
    teacher, student = BPRMF(4, 6, 5, bias=False), BPRMF(4, 6, 2, bias=False)
    loss = make_ftd(teacher, lam=1.0)(student, torch.tensor([0, 1]), torch.tensor([2, 3]),
                                      torch.tensor([4, 5]))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.item.weight.grad[2:].abs().sum() > 0


def test_fused_decoders_equal_explicit_mixture():
    torch.manual_seed(0)
    dec = Decoders(4, 3, 5, 6)
    s, g = torch.randn(7, 3), torch.softmax(torch.randn(7, 4), -1)
    explicit = (g.unsqueeze(-1) * dec.each(s)).sum(1)
    assert torch.allclose(dec(s, g), explicit, atol=1e-5)
    assert dec.each(s).shape == (7, 4, 6)


def test_one_hot_rows_take_their_own_decoder_with_the_same_values_and_gradients():
    # rows 0-4 exactly one-hot (the saturated Gumbel-softmax), rows 5-6 mixed
    torch.manual_seed(1)
    dec = Decoders(4, 3, 5, 6)
    s = torch.randn(7, 3, requires_grad=True)
    logits = torch.randn(7, 4, requires_grad=True)
    g = torch.softmax(logits * torch.tensor([[1e4]] * 5 + [[1.0]] * 2), -1)
    assert ((g[:5] > 0).sum(-1) == 1).all() and ((g[5:] > 0).sum(-1) == 4).all()
    fast = dec(s, g)
    slow = dec.mixed(s, g)
    assert torch.allclose(fast, slow, atol=1e-5)
    grads = [torch.autograd.grad(out.square().sum(), [s, logits, dec.w1, dec.w2],
                                 retain_graph=True)
             for out in (fast, slow)]
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-4)
    assert grads[0][1][:5].abs().max() == 0  # saturated rows: no gradient to the assignment


def test_gumbel_softmax_is_one_hot_at_tiny_temperature():
    v = torch.softmax(torch.randn(50, 5), -1)
    g = gumbel_softmax(v, tau=1e-10, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(g.sum(-1), torch.ones(50))
    assert ((g > 0.999).sum(-1) == 1).all()


def test_topology_loss_hand_worked_case():
    # entities a, b in group 0; c in group 1.
    t = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    s = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    groups = torch.tensor([0, 0, 1])
    # entity level: pair (a,b) both ways, teacher cos 1/√2 > 0, student cos 1 -> 2·(1/√2 − 1)²
    entity = 2 * (1 / math.sqrt(2) - 1) ** 2
    # group level: prototypes P_T0 = (1, .5), P_S0 = (1, 0); P_T1 = c_T, P_S1 = c_S
    pt0 = torch.tensor([1.0, 0.5]) / math.sqrt(1.25)
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))  # noqa: E731
    group = sum((cos(pt0, te) - cos(torch.tensor([1.0, 0.0]), se)) ** 2 for te, se in zip(t, s))
    group += sum((cos(t[2], te) - cos(s[2], se)) ** 2 for te, se in zip(t, s))
    got = topology_loss(t, s, groups, n_groups=2).item()
    assert got == pytest.approx(entity + group, rel=1e-5)


def test_topology_loss_of_identical_embeddings_is_zero():
    x = torch.randn(8, 3)
    assert topology_loss(x, x, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), 3).item() == \
        pytest.approx(0.0, abs=1e-8)


def test_htd_groups_and_parameters():
    torch.manual_seed(0)
    teacher, student = BPRMF(5, 9, 8, bias=False), BPRMF(5, 9, 2, bias=False)
    htd = HTD(teacher, student_dim=2, n_groups=3)
    g = htd.groups(torch.tensor([0, 1, 2]), torch.tensor([0, 4]))
    assert g.shape == (5,) and (g[:3] < 3).all() and (g[3:] >= 3).all() and (g[3:] < 6).all()
    names = {n for n, _ in htd.named_parameters()}
    assert not any(n.startswith("t_") for n in names)  # teacher embeddings are buffers
    assert htd.user_decoders.w1.shape == (3, 2, 5) and htd.user_decoders.w2.shape == (3, 5, 8)
    htd.start_epoch(0, 10)
    assert htd.tau == 1.0
    htd.start_epoch(5, 10)
    assert htd.tau == pytest.approx(1e-5)
    loss = htd(student, torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5]))
    loss.backward()
    assert torch.isfinite(loss) and htd.user_assign.weight.grad is not None
    assert student.user.weight.grad is not None


def test_fast_ftd_equals_the_pairwise_sum():
    from kdkit.distill.ftd import ftd_loss_pairwise
    torch.manual_seed(1)
    t, s = torch.randn(300, 16), torch.randn(300, 4, requires_grad=True)
    fast, ref = ftd_loss(t, s), ftd_loss_pairwise(t, s)
    assert fast.item() == pytest.approx(ref.item(), rel=1e-5)
    g_fast, = torch.autograd.grad(fast, s)
    g_ref, = torch.autograd.grad(ref, s)
    assert torch.allclose(g_fast, g_ref, rtol=1e-3, atol=1e-4)


def test_blockwise_topology_loss_equals_the_dense_one():
    from kdkit.distill.htd import topology_loss_dense
    torch.manual_seed(2)
    t, s = torch.randn(120, 8), torch.randn(120, 3, requires_grad=True)
    groups = torch.randint(0, 7, (120,))
    groups[groups == 3] = 5  # a group with no member
    fast, ref = topology_loss(t, s, groups, 7), topology_loss_dense(t, s, groups, 7)
    assert fast.item() == pytest.approx(ref.item(), rel=1e-5)
    g_fast, = torch.autograd.grad(fast, s)
    g_ref, = torch.autograd.grad(ref, s)
    assert torch.allclose(g_fast, g_ref, rtol=1e-4, atol=1e-5)

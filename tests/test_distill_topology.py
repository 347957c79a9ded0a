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


def test_saturated_rows_take_their_own_decoder_with_the_same_values_and_gradients():
    # rows 0-4 one-hot to float precision (the saturated Gumbel-softmax), rows 5-6 mixed; the
    # rows' groups have sizes 3, 1 and 1 (two size classes)
    torch.manual_seed(1)
    dec = Decoders(4, 3, 5, 6).double()
    s = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(7, 4, dtype=torch.float64)
    logits[:5] = torch.tensor([[0.0] * 4] * 5).index_fill_(1, torch.tensor([0]), 40.0)
    logits[1, :] = torch.tensor([0.0, 0.0, 40.0, 0.0])
    logits[3, :] = torch.tensor([0.0, 0.0, 0.0, 40.0])
    logits.requires_grad_()
    g = torch.softmax(logits, -1)
    assert (g[:5].max(-1).values >= 1 - 1e-6).all() and (g[:5] > 0).all()  # not exactly one-hot
    assert (g[5:].max(-1).values < 0.99).all()
    fast, slow = dec(s, g), dec.mixed(s, g)
    # the weights left out are below 1e-6 (e^-40 each here), so values agree to that order
    assert (fast - slow).abs().max() < 1e-12 * 1e6
    grads = [torch.autograd.grad(out.square().sum(), [s, logits, dec.w1, dec.w2, dec.b1, dec.b2],
                                 retain_graph=True)
             for out in (fast, slow)]
    for a, b in zip(*grads):
        assert (a - b).abs().max() < 1e-6


def test_saturation_is_a_tolerance_not_an_underflow_test():
    # a weight of 1e-40 (a denormal in float32, flushed to 0 on some CPUs) must not change the
    # path: both rows are saturated and give the same output
    dec = Decoders(3, 2, 4, 5)
    s = torch.randn(2, 2)
    g = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1e-40, 0.0]])
    assert torch.equal(dec(s, g), dec(s, g[[0, 0]]))

    def no_mixture(*_):
        raise AssertionError("a saturated row went through every decoder")
    dec.mixed = no_mixture  # both rows must take the one-hot path
    dec(s, g)


def test_group_stacks_pad_each_group_at_most_twofold_in_few_stacks():
    from kdkit.distill.htd import group_stacks
    groups = torch.tensor([0] * 9 + [1] * 5 + [2] * 4 + [3] + [5] * 2 + [6] * 3)
    seen = torch.zeros(len(groups), dtype=torch.long)
    stacks = list(group_stacks(groups))
    # sizes 9 | 5 | 4, 3 | 2 | 1: one stack per power-of-two class (16, 8, 4, 2, 1)
    assert len(stacks) == 5 <= math.log2(len(groups)) + 1
    for members, rows, block, slot, m in stacks:
        sizes = torch.bincount(groups)[members]
        assert sizes.max() == m and (2 * sizes > m).all()  # padding at most doubles a block
        assert torch.equal(groups[rows], members[block])  # every row in its group's block
        seen[rows] += 1
        assert len({(b, q) for b, q in zip(block.tolist(), slot.tolist())}) == len(rows)
    assert (seen == 1).all()


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


@pytest.mark.parametrize("layout", ["collapsed", "balanced", "skewed", "one_each"])
def test_batched_topology_loss_equals_the_dense_one_to_1e_6(layout):
    # float64, so that the comparison measures the algorithm, not float32 rounding
    from kdkit.distill.htd import topology_loss_dense
    torch.manual_seed(2)
    n = 150
    t = torch.randn(n, 8, dtype=torch.float64)
    s = torch.randn(n, 3, dtype=torch.float64, requires_grad=True)
    groups = {"collapsed": torch.zeros(n, dtype=torch.long),
              "balanced": torch.arange(n) % 7,
              "skewed": torch.cat([torch.zeros(120), torch.arange(30) % 6 + 1]).long(),
              "one_each": torch.arange(n) % n}[layout]
    if layout == "balanced":
        groups[groups == 3] = 5  # a group with no member
    k = int(groups.max()) + 1
    fast, ref = topology_loss(t, s, groups, k), topology_loss_dense(t, s, groups, k)
    assert abs(fast.item() - ref.item()) <= 1e-6
    g_fast, = torch.autograd.grad(fast, s)
    g_ref, = torch.autograd.grad(ref, s)
    assert (g_fast - g_ref).abs().max() <= 1e-6


def test_htd_loss_and_gradients_match_the_dense_reference():
    # the whole HTD loss (both sides, group level, decoders) against one built from the dense
    # topology: loss and every gradient within 1e-6 (float64)
    from kdkit.distill import htd as H
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        teacher, student = BPRMF(30, 50, 16, bias=False), BPRMF(30, 50, 4, bias=False)
        users, pos, neg = (torch.randint(0, 30, (40,)), torch.randint(0, 50, (40,)),
                           torch.randint(0, 50, (40,)))
        for epoch in (0, 9):  # τ = 1 (mixed rows) and τ = 1e-9 (saturated rows)
            h = HTD(teacher, 4, n_groups=4, seed=3)
            h.start_epoch(epoch, 10)
            grads = []
            for dense in (False, True):
                h.generator.manual_seed(3)
                st = BPRMF(30, 50, 4, bias=False)
                st.load_state_dict(student.state_dict())
                h.zero_grad()
                if dense:
                    u, i = H.batch_entities(users, pos, neg)
                    tu, ti, su, si = h.t_user[u], h.t_item[i], st.user(u), st.item(i)
                    ga = (H.group_assignment_loss(tu, su, h.user_assign, h.user_decoders,
                                                  h.tau, h.generator)
                          + H.group_assignment_loss(ti, si, h.item_assign, h.item_decoders,
                                                    h.tau, h.generator))
                    td = H.topology_loss_dense(torch.cat([tu, ti]), torch.cat([su, si]),
                                               h.groups(u, i), 2 * h.k)
                    loss = (H.bpr_loss(*st(users, pos, neg), "sum")
                            + h.lam * (h.alpha * td + (1 - h.alpha) * ga))
                else:
                    loss = h(st, users, pos, neg)
                loss.backward()
                grads.append([loss.detach(), st.user.weight.grad, st.item.weight.grad]
                             + [p.grad.clone() for p in h.parameters()])
            for a, b in zip(*grads):
                assert (a - b).abs().max() <= 1e-6
    finally:
        torch.set_default_dtype(torch.float32)


def test_a_tiny_htd_run_gives_identical_curves_after_a_one_ulp_perturbation():
    # kdkit issue 39: HTD's curves parted between machines on last-bit differences. A 1-ulp
    # change of the teacher's embeddings must leave a tiny run's validation curve unchanged
    # (through the epochs where the Gumbel-softmax saturates: τ = 1e-10^(e/E)).
    from kdkit.data.splits import split
    from kdkit.data.synthetic_interactions import synthetic_interactions
    from kdkit.recsys.train import train_bpr

    log = synthetic_interactions(n_users=60, n_items=80, density=0.15, seed=0)
    data = split(log, "loo", name="tiny", seed=0, shape=log.attrs["shape"])
    torch.manual_seed(0)
    teacher = BPRMF(data.n_users, data.n_items, 16, bias=False)
    train_bpr(teacher, data, epochs=5, lr=0.01, batch_size=64)
    curves = []
    for ulp in (False, True):
        t = BPRMF(data.n_users, data.n_items, 16, bias=False)
        t.load_state_dict(teacher.state_dict())
        if ulp:
            with torch.no_grad():
                for w in (t.user.weight, t.item.weight):
                    w.copy_(torch.nextafter(w, torch.full_like(w, float("inf"))))
            assert not torch.equal(t.user.weight, teacher.user.weight)
        torch.manual_seed(1)
        student = BPRMF(data.n_users, data.n_items, 4, bias=False)
        hist = train_bpr(student, data, epochs=12, lr=0.01, batch_size=64, eval_every=1,
                         ks=(10,), loss_fn=HTD(t, 4, n_groups=3, seed=0))
        curves.append([round(r["Recall@10"], 12) for r in hist])
    assert curves[0] == curves[1]

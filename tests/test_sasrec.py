"""SASRec: causality, the loss ignoring padding, and full-ranking metrics by hand."""

import numpy as np
import pytest
import torch

from kdkit.recsys.sasrec import SASRec, next_item_loss, rank_metrics


def test_attention_is_causal():
    torch.manual_seed(0)
    m = SASRec(20, dim=8, layers=2, heads=2, max_len=6, dropout=0.0).eval()
    a = torch.tensor([[3, 5, 7, 9, 11, 13]])
    b = a.clone()
    b[0, 4:] = torch.tensor([2, 4])  # change the future only
    with torch.no_grad():
        fa, ha = m(a)
        fb, hb = m(b)
    assert torch.allclose(fa[:, :4], fb[:, :4], atol=1e-6)
    assert not torch.allclose(fa[:, 4:], fb[:, 4:])
    assert len(ha) == 2 and ha[0].shape == (1, 6, 8)


def test_loss_ignores_padding_targets():
    torch.manual_seed(0)
    m = SASRec(10, dim=8, layers=1, heads=2, max_len=5, dropout=0.0)
    loss, logits, _ = next_item_loss(m, torch.tensor([[0, 0, 3, 4, 5]]))
    # targets are [0, 3, 4, 5]: the first (padding) is ignored -> mean over 3 positions
    lp = torch.log_softmax(logits[0], dim=-1)
    expected = -(lp[1, 3] + lp[2, 4] + lp[3, 5]) / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


class _Fixed(torch.nn.Module):
    """Scores fixed per item: item j scores -j (item 1 best)."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def eval(self):
        return self

    def __call__(self, x):
        return torch.zeros(len(x), x.shape[1], 1), []

    def scores(self, final):
        return -torch.arange(self.n + 1, dtype=torch.float32).repeat(len(final), 1)


def test_loss_counts_only_labelled_rows_and_is_zero_without_any():
    torch.manual_seed(0)
    m = SASRec(n_items=9, dim=8, layers=1, heads=2, max_len=4, dropout=0.0).eval()
    seq = torch.tensor([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [0, 0, 2, 4, 6]])
    lab = torch.tensor([True, False, True])
    for loss in ("softmax", "bce"):
        g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
        masked, _, hidden = next_item_loss(m, seq, loss=loss, labelled=lab, generator=g1)
        if loss == "softmax":  # the same as the loss over the labelled rows alone
            alone, _, _ = next_item_loss(m, seq[lab], loss=loss, generator=g2)
            assert torch.allclose(masked, alone)
        assert len(hidden) and hidden[0].shape[0] == 3  # every row is still read
    none, _, _ = next_item_loss(m, seq, labelled=torch.zeros(3, dtype=torch.bool))
    assert none.detach().item() == 0.0
    none.backward()  # a batch without labels still gives a (zero) gradient
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in m.parameters())


def test_rank_metrics_by_hand():
    m = _Fixed(20)
    # user 0 saw item 1 -> target 3 ranks behind only item 2 (rank 1);
    # user 1 saw nothing -> target 12 ranks behind items 1..11 (rank 11)
    r = rank_metrics(m, np.array([[0, 1], [0, 0]]), np.array([3, 12]))
    assert r["Recall@10"] == 0.5
    assert r["NDCG@5"] == pytest.approx(0.5 / np.log2(3))
    assert r["MRR"] == pytest.approx((1 / 2 + 1 / 12) / 2)


def test_rank_metrics_masks_the_whole_history_not_only_the_inputs():
    m = _Fixed(20)
    # the model reads only [0, 1]; item 2 was seen earlier: masked, target 3 moves to the top
    inputs, seen = np.array([[0, 1]]), np.array([[2, 0, 1]])
    assert rank_metrics(m, inputs, np.array([3]))["MRR"] == pytest.approx(1 / 2)
    assert rank_metrics(m, inputs, np.array([3]), seen)["MRR"] == 1.0


def test_padding_changes_nothing_for_unpadded_sequences():
    """The key-padding mask only acts on padding: on a full window the output equals causal
    attention alone."""
    torch.manual_seed(0)
    m = SASRec(20, dim=8, layers=2, heads=2, max_len=5, dropout=0.0).eval()
    seq = torch.tensor([[3, 5, 7, 9, 11]])
    with torch.no_grad():
        got, _ = m(seq)
        h = m.item(seq) * 8 ** 0.5 + m.pos(torch.arange(5))
        causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
        for block in m.blocks:
            h = block(h, src_mask=causal)
        want = m.norm(h)
    assert torch.allclose(got, want, atol=1e-5)


def test_real_positions_never_read_the_padding():
    torch.manual_seed(0)
    m = SASRec(20, dim=8, layers=2, heads=2, max_len=5, dropout=0.0).eval()
    seq = torch.tensor([[0, 0, 3, 4, 5]])
    with torch.no_grad():
        before, _ = m(seq)
        m.pos.weight[:2] += 10 * torch.randn(2, 8)  # what the padded positions carry
        after, hidden = m(seq)
    assert torch.isfinite(after).all()
    assert torch.allclose(before[:, 2:], after[:, 2:], atol=1e-5)
    assert (hidden[-1][:, :2] == 0).all()  # padded states are zeroed


def test_padding_item_is_never_recommended():
    # the longest history fills the whole window: 0 is not among its inputs, yet it must stay
    # out of the ranking (it was rankable before)
    from kdkit.recsys.sasrec import ranking_metrics
    scores = torch.tensor([[9.0, 1.0, 2.0, 3.0]])  # the padding id scores best
    r = ranking_metrics(scores, np.array([[2, 3]]), np.array([1]))
    assert r["MRR"] == 1.0

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kdkit.recsys.bpr_mf import BPRMF, bpr_loss, n_params
from kdkit.recsys.sampling import sample_negatives


@pytest.mark.parametrize("dim,expected", [(64, 97_500), (32, 49_500)])
def test_parameter_counts_match_seed(dim, expected):
    assert n_params(BPRMF(500, 1000, dim)) == expected


def test_score_all_agrees_with_score():
    torch.manual_seed(0)
    m = BPRMF(4, 7, 3)
    torch.nn.init.normal_(m.item_bias.weight)
    users = torch.tensor([0, 3])
    full = m.score_all(users)
    for r, u in enumerate(users):
        pair = m.score(u.repeat(7), torch.arange(7))
        assert torch.allclose(full[r], pair, atol=1e-6)


def test_bpr_loss_by_hand():
    # -mean(log σ(2), log σ(-1)) = (0.126928 + 1.313262) / 2
    got = bpr_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0]))
    want = (math.log1p(math.exp(-2)) + math.log1p(math.exp(1))) / 2
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_negatives_are_never_training_items():
    rng = np.random.default_rng(0)
    dense = rng.random((30, 12)) < 0.6
    dense[:, 0] = False  # every user has at least one unobserved item
    train = sp.csr_matrix(dense.astype(np.float32))
    users = np.repeat(np.arange(30), 20)
    neg = sample_negatives(users, train, rng, n_neg=3)
    assert neg.shape == (600, 3)
    assert not dense[users[:, None], neg].any()


def test_latency_covers_every_model_and_is_positive():
    from kdkit.recsys.latency import latency_per_user

    models = {"a": BPRMF(5, 8, 4), "b": BPRMF(5, 8, 2)}
    out = latency_per_user(models, np.arange(5), k=3, repeats=2)
    assert set(out) == {"a", "b"}
    assert all(v["latency_ms"] > 0 and v["latency_batched_ms"] > 0 for v in out.values())


def test_recommend_skips_training_items_and_names_titles():
    from kdkit.data.interactions import Interactions
    from kdkit.recsys.recommend import recommend, side_by_side

    m = BPRMF(1, 4, 1, bias=False)
    with torch.no_grad():
        m.user.weight[:] = 1.0
        m.item.weight[:] = torch.tensor([[4.0], [3.0], [2.0], [1.0]])
    pairs = np.array([[0, 0]], dtype=np.int64)
    data = Interactions("t", 1, 4, pairs, pairs[:0], pairs[:0], item_titles={1: "B", 2: "C"})
    rec = recommend(m, data, 0, k=2)
    assert rec["item"].tolist() == [1, 2] and rec["title"].tolist() == ["B", "C"]
    table = side_by_side({"m": m}, data, 0, k=3)
    assert table["m"].tolist() == ["B", "C", "3"]

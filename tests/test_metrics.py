import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kdkit.recsys.metrics import full_ranking_metrics, metrics_from_ranks


def csr(rows, n_users=2, n_items=6):
    r, c = zip(*rows) if rows else ((), ())
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_users, n_items))


SCORES = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
                       [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])


def score_all(users):
    return SCORES[users]


def test_hand_worked_case():
    # user 0: item 0 is a training item (masked); held-out items 2 and 5.
    #   ranking after masking: 1, 2, 3, 4, 5  -> item 2 at rank 2, item 5 at rank 5
    # user 1: held-out item 5, the best-scored item -> rank 1; user 1 has no training items.
    train = csr([(0, 0)])
    test = csr([(0, 2), (0, 5), (1, 5)])
    m = full_ranking_metrics(score_all, test, exclude=[train], ks=(2,))
    # user 0: Recall@2 = 1/2, HR@2 = 1, NDCG@2 = (1/log2 3) / (1 + 1/log2 3), MRR = 1/2
    # user 1: Recall@2 = 1, HR@2 = 1, NDCG@2 = 1, MRR = 1
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["Recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert m["HR@2"] == pytest.approx(1.0)
    assert m["NDCG@2"] == pytest.approx((ndcg0 + 1) / 2)
    assert m["MRR"] == pytest.approx((0.5 + 1) / 2)


def test_masking_changes_ranks():
    test = csr([(0, 1)])
    no_mask = full_ranking_metrics(score_all, test, ks=(1,))
    masked = full_ranking_metrics(score_all, test, exclude=[csr([(0, 0)])], ks=(1,))
    assert no_mask["Recall@1"] == 0.0 and masked["Recall@1"] == 1.0


def test_users_without_held_out_items_are_skipped():
    m = full_ranking_metrics(score_all, csr([(1, 0)]), ks=(6,))
    assert m["Recall@6"] == 1.0 and m["MRR"] == pytest.approx(1 / 6)


def test_metrics_from_ranks_ndcg_ideal_is_one():
    m = metrics_from_ranks(np.array([1, 2, 3]), ks=(3, 10))
    assert m["NDCG@3"] == pytest.approx(1.0)
    assert m["NDCG@10"] == pytest.approx(1.0)
    assert m["Recall@3"] == 1.0


def test_no_held_out_raises():
    with pytest.raises(ValueError):
        full_ranking_metrics(score_all, csr([]), ks=(1,))


def test_recall_divides_by_all_held_out_items_even_beyond_k():
    # user 1 holds out items 5, 4, 3 (ranks 1, 2, 3); at K = 2: Recall = 2/3, NDCG = 1
    m = full_ranking_metrics(score_all, csr([(1, 5), (1, 4), (1, 3)]), ks=(2,))
    assert m["Recall@2"] == pytest.approx(2 / 3)
    assert m["NDCG@2"] == pytest.approx(1.0)


def test_evaluate_masks_training_and_validation_items():
    from kdkit.data.interactions import Interactions
    from kdkit.recsys.metrics import evaluate

    class Fixed(torch.nn.Module):
        def score_all(self, users):
            return SCORES[users]

    pairs = lambda *p: np.array(p, dtype=np.int64).reshape(-1, 2)  # noqa: E731
    # user 0: train item 0, valid item 1, test item 2 -> with both masked, item 2 ranks first
    data = Interactions("t", 2, 6, train=pairs((0, 0)), valid=pairs((0, 1)), test=pairs((0, 2)))
    assert evaluate(Fixed(), data, "test", ks=(1,))["Recall@1"] == 1.0
    assert evaluate(Fixed(), data, "valid", ks=(1,))["Recall@1"] == 1.0

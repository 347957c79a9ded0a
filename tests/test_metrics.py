import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kdkit.recsys.metrics import NonFiniteScores, full_ranking_metrics, single_target_metrics


def csr(rows, n_users=2, n_items=6):
    r, c = zip(*rows) if rows else ((), ())
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_users, n_items))


SCORES = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
                       [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])


def score_all(users):
    return SCORES[users]


def scorer(matrix):
    m = torch.as_tensor(np.asarray(matrix, dtype=np.float32))
    return lambda users: m[users]


def brute_force(scores, held_out, masked, k):
    """Mean metrics over every order of the rankable items consistent with the scores
    (ties in every possible order), computed with the textbook definitions."""
    items = [i for i in range(len(scores)) if i not in masked]
    orders = [p for p in itertools.permutations(items)
              if all(scores[a] >= scores[b] for a, b in zip(p, p[1:]))]
    out = {"Recall": 0.0, "HR": 0.0, "NDCG": 0.0, "MRR": 0.0}
    idcg = sum(1 / math.log2(r + 1) for r in range(1, min(k, len(held_out)) + 1))
    for p in orders:
        pos = {item: i + 1 for i, item in enumerate(p)}
        ranks = [pos[g] for g in held_out]
        out["Recall"] += sum(r <= k for r in ranks) / len(ranks)
        out["HR"] += any(r <= k for r in ranks)
        out["NDCG"] += sum(1 / math.log2(r + 1) for r in ranks if r <= k) / idcg
        out["MRR"] += 1 / min(ranks)
    return {m: v / len(orders) for m, v in out.items()}


def test_hand_worked_case_without_ties():
    # user 0: item 0 is a training item (masked); held-out items 2 and 5.
    #   ranking after masking: 1, 2, 3, 4, 5  -> item 2 at rank 2, item 5 at rank 5
    # user 1: held-out item 5, the best-scored item -> rank 1; user 1 has no training items.
    train = csr([(0, 0)])
    test = csr([(0, 2), (0, 5), (1, 5)])
    m = full_ranking_metrics(score_all, test, exclude=[train], ks=(2,))
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["Recall@2"] == pytest.approx((0.5 + 1) / 2)
    assert m["HR@2"] == pytest.approx(1.0)
    assert m["NDCG@2"] == pytest.approx((ndcg0 + 1) / 2)
    assert m["MRR"] == pytest.approx((0.5 + 1) / 2)


def test_per_user_values_are_the_hand_worked_ones_and_average_to_the_metric():
    # the case above, per user (the seed x user bootstrap's input): user 0 Recall@2 1/2 and
    # MRR 1/2, user 1 Recall@2 1 and MRR 1; batched or not
    from kdkit.recsys.metrics import RankingTask, rank_task

    task = RankingTask.build(csr([(0, 2), (0, 5), (1, 5)]), [csr([(0, 0)])])
    per = rank_task(score_all, task, ks=(2,), per_user=True)
    assert list(task.users) == [0, 1]
    assert per["Recall@2"] == pytest.approx([0.5, 1.0]) and per["MRR"] == pytest.approx([0.5, 1.0])
    mean = rank_task(score_all, task, ks=(2,))
    assert {k: float(v.mean()) for k, v in per.items()} == pytest.approx(mean)
    batched = rank_task(score_all, task, ks=(2,), per_user=True, batch_size=1)
    assert all(np.allclose(batched[k], per[k]) for k in per)


def test_hand_worked_tie():
    # one user, scores [0.5, 0.9, 0.5, 0.5, 0.1, 0.0], held-out item 0, K = 2.
    # item 1 is above; items 0, 2, 3 tie for positions 2..4 -> item 0 is at 2, 3 or 4.
    # Recall@2 = P(pos = 2) = 1/3; NDCG@2 = (1/3)·1/log2(3); MRR = (1/2 + 1/3 + 1/4)/3.
    s = scorer([[0.5, 0.9, 0.5, 0.5, 0.1, 0.0]])
    m = full_ranking_metrics(s, csr([(0, 0)], n_users=1), ks=(2,))
    assert m["Recall@2"] == pytest.approx(1 / 3)
    assert m["HR@2"] == pytest.approx(1 / 3)
    assert m["NDCG@2"] == pytest.approx(1 / 3 / math.log2(3))
    assert m["MRR"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_constant_scorer_gets_chance():
    n_users, n_items, k = 50, 40, 5
    rng = np.random.default_rng(0)
    rows = [(u, i) for u in range(n_users) for i in rng.choice(n_items, 3, replace=False)]
    held, train = rows[::3], rows[1::3]  # one held-out and one masked item per user
    m = full_ranking_metrics(lambda u: torch.zeros(len(u), n_items),
                             csr(held, n_users, n_items), exclude=[csr(train, n_users, n_items)],
                             ks=(k,))
    rankable = n_items - 1
    assert m["Recall@5"] == pytest.approx(k / rankable)
    assert m["HR@5"] == pytest.approx(k / rankable)
    assert m["MRR"] == pytest.approx(sum(1 / p for p in range(1, rankable + 1)) / rankable)
    assert m["NDCG@5"] == pytest.approx(
        sum(1 / math.log2(p + 1) for p in range(1, k + 1)) / rankable)


def test_tied_held_out_items_never_give_ndcg_above_one():
    # the reviewer's case: held-out items tied at the top. Three held-out items, all scores
    # equal, K = 2: a "1 + #higher" rank gives all three rank 1 and NDCG > 1.
    s = scorer([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]])
    m = full_ranking_metrics(s, csr([(0, 0), (0, 1), (0, 2)], n_users=1), ks=(2, 3))
    assert m["NDCG@2"] == pytest.approx(1.0) and m["NDCG@3"] == pytest.approx(1.0)
    # two held-out items tied with a third item at the top, K = 10 (the 1.226)
    s = scorer([[1.0, 1.0, 1.0, 0.5, 0.2, 0.1]])
    m = full_ranking_metrics(s, csr([(0, 0), (0, 1)], n_users=1), ks=(10,))
    assert m["NDCG@10"] <= 1.0


@pytest.mark.parametrize("scores,held,masked,k", [
    ([0.3, 0.3, 0.3, 0.3, 0.1, 0.9], [0, 4], [], 2),
    ([0.3, 0.3, 0.3, 0.3, 0.1, 0.9], [0, 1, 2], [5], 2),
    ([0.2, 0.2, 0.7, 0.7, 0.7, 0.2], [0, 3], [1], 3),
    ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [1, 4], [2], 1),
    ([0.5, 0.4, 0.3, 0.2, 0.1, 0.0], [3], [0], 2),
])
def test_matches_the_average_over_every_tie_order(scores, held, masked, k):
    ref = brute_force(scores, held, masked, k)
    m = full_ranking_metrics(scorer([scores]), csr([(0, g) for g in held], n_users=1),
                             exclude=[csr([(0, i) for i in masked], n_users=1)], ks=(k,))
    for name in ("Recall", "HR", "NDCG"):
        assert m[f"{name}@{k}"] == pytest.approx(ref[name]), name
    assert m["MRR"] == pytest.approx(ref["MRR"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_scores_raise_naming_model_and_split(bad):
    s = scorer([[0.1, bad, 0.3, 0.2, 0.0, 0.5]])
    with pytest.raises(NonFiniteScores, match="student-8.*test split"):
        full_ranking_metrics(s, csr([(0, 0)], n_users=1), ks=(2,), name="student-8",
                             split="test split")


def test_masking_changes_ranks():
    test = csr([(0, 1)])
    no_mask = full_ranking_metrics(score_all, test, ks=(1,))
    masked = full_ranking_metrics(score_all, test, exclude=[csr([(0, 0)])], ks=(1,))
    assert no_mask["Recall@1"] == 0.0 and masked["Recall@1"] == 1.0


def test_users_without_held_out_items_are_skipped():
    m = full_ranking_metrics(score_all, csr([(1, 0)]), ks=(6,))
    assert m["Recall@6"] == 1.0 and m["MRR"] == pytest.approx(1 / 6)


def test_no_held_out_raises():
    with pytest.raises(ValueError):
        full_ranking_metrics(score_all, csr([]), ks=(1,))


def test_recall_divides_by_all_held_out_items_even_beyond_k():
    # user 1 holds out items 5, 4, 3 (ranks 1, 2, 3); at K = 2: Recall = 2/3, NDCG = 1
    m = full_ranking_metrics(score_all, csr([(1, 5), (1, 4), (1, 3)]), ks=(2,))
    assert m["Recall@2"] == pytest.approx(2 / 3)
    assert m["NDCG@2"] == pytest.approx(1.0)


def test_batches_give_the_same_metrics():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(30, 12)).astype(np.float32)  # many ties
    held = csr([(u, i) for u in range(30) for i in rng.choice(12, 2, replace=False)], 30, 12)
    a = full_ranking_metrics(scorer(scores), held, ks=(3, 5))
    b = full_ranking_metrics(scorer(scores), held, ks=(3, 5), batch_size=7)
    assert a == pytest.approx(b)


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


def test_single_target_metrics_tie_and_mrr():
    # target 0 ties with one other item below one better item: position 2 or 3
    s = torch.tensor([[0.5, 0.9, 0.5, -torch.inf]])
    m = single_target_metrics(s, [0], ks=(2,), extra_ndcg=(1,))
    assert m["Recall@2"] == pytest.approx(0.5)
    assert m["NDCG@1"] == 0.0 and m["NDCG@2"] == pytest.approx(0.5 / math.log2(3))
    assert m["MRR"] == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_validation_halves_split_users_and_mask_only_training_items():
    import numpy as np

    from kdkit.data.interactions import Interactions
    from kdkit.recsys.metrics import ranking_task, validation_halves

    # 6 users, 5 items; every user has one train, one valid and one test item
    train = np.array([[u, 0] for u in range(6)])
    valid = np.array([[u, 1 + u % 2] for u in range(6)])
    test = np.array([[u, 3 + u % 2] for u in range(6)])
    data = Interactions("toy", 6, 5, train, valid, test)
    select, gate = validation_halves(np.arange(6))
    assert len(select) == len(gate) == 3 and not set(select) & set(gate)
    v, g = ranking_task(data, "valid"), ranking_task(data, "gate")
    assert list(v.users) == list(select) and list(g.users) == list(gate)
    # validation masks the training item only: the test item stays rankable
    for task in (v, g):
        masked = task.exclude[task.users].toarray()
        assert masked[:, 0].all() and not masked[:, 3:].any() and not masked[:, 1:3].any()
    t = ranking_task(data, "test")
    masked = t.exclude[t.users].toarray()
    assert masked[np.arange(6), 0].all() and masked[np.arange(6), 1 + np.arange(6) % 2].all()
    assert len(ranking_task(data, "valid-all").users) == 6

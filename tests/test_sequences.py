"""Per-user sequences, leave-last-out."""

import numpy as np
import pandas as pd
import pytest

from kdkit.data.sequences import to_sequences


def test_leave_last_out_by_timestamp_and_padding():
    log = pd.DataFrame({"user": [1, 1, 1, 1, 2, 2, 2, 3, 3],
                        "item": [30, 10, 20, 40, 10, 30, 20, 10, 20],
                        "timestamp": [3, 1, 2, 4, 5, 5, 6, 1, 2]})
    d = to_sequences(log, {10: "a", 99: "x"})
    # user 3 has 2 interactions: dropped; items 10,20,30,40 -> 1,2,3,4
    assert d.n_items == 4 and len(d.train) == 2 and d.item_titles == {1: "a"}
    assert d.train[0] == [1, 2] and d.valid_target[0] == 3 and d.test_target[0] == 4
    assert d.train[1] == [1] and d.valid_target[1] == 3 and d.test_target[1] == 2  # tie: by id
    np.testing.assert_array_equal(d.inputs("valid", 3), [[0, 1, 2], [0, 0, 1]])
    np.testing.assert_array_equal(d.inputs("test", 2), [[2, 3], [1, 3]])


def test_windows_cover_every_training_transition_once():
    from kdkit.data.sequences import SequenceData
    d = SequenceData(train=[[1, 2, 3, 4, 5, 6], [7], [8, 9]], valid_target=np.array([1, 1, 1]),
                     test_target=np.array([1, 1, 1]), n_items=9, item_titles={}, name="t")
    # user 0 with max_len 2: windows end at 6 and 4 and 2 -> [4,5,6], [2,3,4], [0,1,2];
    # user 1 has no transition; user 2 gives [0,8,9]
    np.testing.assert_array_equal(d.windows(2), [[4, 5, 6], [2, 3, 4], [0, 1, 2], [0, 8, 9]])
    w = d.windows(2)
    pairs = {(a, b) for row in w for a, b in zip(row[:-1], row[1:]) if a}
    assert pairs == {(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (8, 9)}


def test_window_owners_and_a_seeded_transfer_split_by_user():
    from kdkit.data.sequences import SequenceData
    d = SequenceData(train=[[1, 2, 3, 4, 5, 6], [7], [8, 9], [1, 3], [2, 4], [5, 6]],
                     valid_target=np.ones(6, int), test_target=np.ones(6, int), n_items=9,
                     item_titles={}, name="t")
    rows, who = d.windows(2, owners=True)
    np.testing.assert_array_equal(rows, d.windows(2))
    np.testing.assert_array_equal(who, [0, 0, 0, 2, 3, 4, 5])  # user 1 has no transition
    assert d.labelled(2, 1.0, seed=0).all()
    sizes = set()
    for seed in range(20):
        lab = d.labelled(2, 0.5, seed=seed)  # 3 of the 6 users are drawn
        assert all(len(set(lab[who == u])) == 1 for u in set(who))  # whole users only
        sizes.add(len(set(who[lab])))  # 3, or 2 when user 1 (no window) is among them
        np.testing.assert_array_equal(lab, d.labelled(2, 0.5, seed=seed))  # seeded
    assert sizes == {2, 3}
    assert len({tuple(d.labelled(2, 0.5, seed=s)) for s in range(20)}) > 1


def test_evaluation_keeps_the_whole_history_as_seen():
    from kdkit.data.sequences import SequenceData
    d = SequenceData(train=[[1, 2, 3, 4], [5]], valid_target=np.array([6, 7]),
                     test_target=np.array([8, 9]), n_items=9, item_titles={}, name="t")
    inputs, targets, seen = d.evaluation("test", 2)
    np.testing.assert_array_equal(inputs, [[4, 6], [5, 7]])
    np.testing.assert_array_equal(targets, [8, 9])
    np.testing.assert_array_equal(seen, [[1, 2, 3, 4, 6], [0, 0, 0, 5, 7]])


def test_synthetic_sequences_are_seeded_and_well_formed():
    from kdkit.data.synthetic_sequences import synthetic_sequences
    a = synthetic_sequences(n_users=50, n_items=60, length=10, rank=4, seed=3)
    b = synthetic_sequences(n_users=50, n_items=60, length=10, rank=4, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(synthetic_sequences(n_users=50, n_items=60, length=10, rank=4, seed=4))
    assert list(a.columns) == ["user", "item", "timestamp"] and a["user"].nunique() == 50
    for _, g in a.groupby("user"):
        assert len(g) >= 5 and g["item"].is_unique              # no item twice for a user
        assert g["timestamp"].tolist() == list(range(len(g)))   # one step per event
    assert a["item"].between(0, 59).all()
    with pytest.raises(ValueError, match="memory"):
        synthetic_sequences(memory=1.0)


def _successor_hit_rate(log, n_items):
    """Hit rate of "the most frequent successor of the last item" (counted on the first half
    of the users) at predicting the next item of the other half, against the most popular
    unseen item: how much the order of a history tells."""
    users = log["user"].unique()
    fit, held = log[log["user"] < users.size // 2], log[log["user"] >= users.size // 2]
    counts = np.zeros((n_items, n_items))
    pop = np.bincount(fit["item"], minlength=n_items).astype(float)
    for _, g in fit.groupby("user"):
        it = g["item"].to_numpy()
        np.add.at(counts, (it[:-1], it[1:]), 1)
    hit_next = hit_pop = n = 0
    for _, g in held.groupby("user"):
        it = g["item"].to_numpy()
        for t in range(1, len(it)):
            seen = it[:t]
            nxt = counts[it[t - 1]].copy()
            nxt[seen] = -1
            p = pop.copy()
            p[seen] = -1
            hit_next += nxt.argmax() == it[t]
            hit_pop += p.argmax() == it[t]
            n += 1
    return hit_next / n, hit_pop / n


def test_the_order_of_a_synthetic_history_predicts_the_next_item():
    # memory 0: the next item follows the last one's successor direction, so the last item
    # predicts it far better than popularity; with no signal the order tells nothing
    from kdkit.data.synthetic_sequences import synthetic_sequences
    kw = dict(n_users=600, n_items=40, length=15, rank=4, popularity=0.0, seed=0)
    order, pop = _successor_hit_rate(synthetic_sequences(signal=6.0, memory=0.0, **kw), 40)
    assert order > 2 * pop and order > 0.15
    order0, pop0 = _successor_hit_rate(synthetic_sequences(signal=0.0, memory=0.0, **kw), 40)
    assert order0 < 0.1 and pop0 < 0.1   # uniform choice among ~30 unseen items: ~1/30

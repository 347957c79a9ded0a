"""Per-user sequences, leave-last-out."""

import numpy as np
import pandas as pd

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


def test_evaluation_keeps_the_whole_history_as_seen():
    from kdkit.data.sequences import SequenceData
    d = SequenceData(train=[[1, 2, 3, 4], [5]], valid_target=np.array([6, 7]),
                     test_target=np.array([8, 9]), n_items=9, item_titles={}, name="t")
    inputs, targets, seen = d.evaluation("test", 2)
    np.testing.assert_array_equal(inputs, [[4, 6], [5, 7]])
    np.testing.assert_array_equal(targets, [8, 9])
    np.testing.assert_array_equal(seen, [[1, 2, 3, 4, 6], [0, 0, 0, 5, 7]])

import numpy as np
import pandas as pd
import pytest

from kdkit.data import DataError
from kdkit.data.load import load_interactions
from kdkit.data.movielens import find_ml100k, load_ml100k
from kdkit.data.split_dir import load_split_dir
from kdkit.data.splits import ratio_counts, split_leave_one_out, split_ratio
from kdkit.data.synthetic_interactions import synthetic_interactions


@pytest.mark.parametrize("n,expected", [(10, [8, 1, 1]), (5, [3, 1, 1]), (2, [1, 0, 1]),
                                        (1, [1, 0, 0]), (20, [16, 2, 2])])
def test_ratio_counts_follow_recbole_rounding(n, expected):
    assert ratio_counts(n) == expected


def _log(n_users=20, per_user=10, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(u, i, t) for u in range(n_users)
            for t, i in enumerate(rng.choice(50, per_user, replace=False))]
    return pd.DataFrame(rows, columns=["user", "item", "timestamp"])


def test_ratio_split_partitions_each_user():
    d = split_ratio(_log(), name="x", seed=1)
    assert len(d.train) + len(d.valid) + len(d.test) == 200
    all_pairs = {tuple(p) for s in (d.train, d.valid, d.test) for p in s}
    assert len(all_pairs) == 200  # disjoint
    per_user = pd.Series(d.test[:, 0]).value_counts()
    assert (per_user == 1).all() and len(per_user) == 20


def test_ratio_split_is_seeded():
    a, b = split_ratio(_log(), name="x", seed=1), split_ratio(_log(), name="x", seed=1)
    c = split_ratio(_log(), name="x", seed=2)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)


def test_leave_one_out_takes_latest_items():
    log = pd.DataFrame({"user": [7, 7, 7, 7, 9, 9], "item": [1, 2, 3, 4, 1, 2],
                        "timestamp": [4, 1, 3, 2, 1, 2]})
    d = split_leave_one_out(log, name="x", seed=0)
    # user 7 (id 0): latest is item 1 (id 0) -> test; then item 3 (id 2) -> valid
    assert d.test.tolist() == [[0, 0]]
    assert d.valid.tolist() == [[0, 2]]
    assert sorted(d.train.tolist()) == [[0, 1], [0, 3], [1, 0], [1, 1]]  # user 9: < 3 items


def test_synthetic_is_seeded_and_has_requested_density():
    a = synthetic_interactions(n_users=100, n_items=200, density=0.05, seed=3)
    b = synthetic_interactions(n_users=100, n_items=200, density=0.05, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.duplicated().any()
    assert len(a) / (100 * 200) == pytest.approx(0.05, rel=0.2)


def test_synthetic_keeps_the_whole_item_universe():
    d = load_interactions("synthetic", seed=0, synthetic=dict(n_users=50, n_items=400,
                                                              density=0.01))
    assert (d.n_users, d.n_items) == (50, 400)


def _write_ml100k(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t100\n1\t20\t3\t200\n2\t10\t4\t150\n")
    (tmp_path / "u.item").write_text("10|Toy Story (1995)|x\n20|GoldenEye (1995)|x\n",
                                     encoding="latin-1")
    return tmp_path


def test_ml100k_from_grouplens_files(tmp_path):
    log, titles = load_ml100k(_write_ml100k(tmp_path))
    assert len(log) == 3 and titles[20] == "GoldenEye (1995)"


def test_ml100k_missing_path_is_one_clear_sentence(tmp_path):
    with pytest.raises(DataError, match="ml-100k folder not found"):
        find_ml100k(tmp_path / "nope")
    with pytest.raises(DataError, match="neither u.data nor ml-100k.inter"):
        find_ml100k(tmp_path)


def test_ml100k_from_recbole_wheel():
    log, titles = load_ml100k()
    assert len(log) == 100_000 and log["user"].nunique() == 943
    assert titles[1] == "Toy Story"


def _write_split(tmp_path, train="user,item\n0,0\n0,1\n1,2\n"):
    (tmp_path / "train.csv").write_text(train)
    (tmp_path / "valid.csv").write_text("user,item\n0,2\n")
    (tmp_path / "test.csv").write_text("user,item\n1,3\n")
    return tmp_path


def test_split_dir_loads(tmp_path):
    d = load_split_dir(_write_split(tmp_path))
    assert (d.n_users, d.n_items) == (2, 4)
    assert d.test.tolist() == [[1, 3]]


@pytest.mark.parametrize("train,message", [
    ("a,b\n0,0\n", "expected header 'user,item'"),
    ("user,item\n0,x\n", "is not a non-negative integer id"),
])
def test_split_dir_malformed(tmp_path, train, message):
    with pytest.raises(DataError, match=message):
        load_split_dir(_write_split(tmp_path, train))


def test_split_dir_missing_file(tmp_path):
    _write_split(tmp_path)
    (tmp_path / "valid.csv").unlink()
    with pytest.raises(DataError, match="valid.csv is missing"):
        load_split_dir(tmp_path)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(DataError, match="allowed: synthetic, ml-100k"):
        load_interactions("ml-1m")


def test_split_dir_overlapping_splits(tmp_path):
    _write_split(tmp_path, train="user,item\n0,0\n1,3\n")
    with pytest.raises(DataError, match="in both train.csv and test.csv"):
        load_split_dir(tmp_path)

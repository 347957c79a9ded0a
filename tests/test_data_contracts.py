"""The four data contracts of issue 23 ("your own data"): an interaction file that kdkit
splits, a sequence file, a tabular file, a skeleton folder. Each: a good input, and bad inputs
whose one DataError message is checked in full (and nothing is written)."""

import re

import numpy as np
import pandas as pd
import pytest

from kdkit.data import DataError
from kdkit.data import table as tables
from kdkit.data.interaction_file import read_interaction_file
from kdkit.data.load import load_interactions
from kdkit.data.sequence_file import load_sequence_file
from kdkit.data.skeleton_folder import load_skeleton_folder
from kdkit.data.tabular_file import load_tabular_file


def fails(tmp_path, call, message):
    """``call()`` raises one DataError whose message is exactly ``message``; no file is
    written or changed under ``tmp_path``."""
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(DataError, match="^" + re.escape(message) + "$"):
        call()
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def write(tmp_path, text, name="log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ interaction file

LOG = ("user,item,timestamp\n"
       "alice,i1,1\nalice,i2,2\nalice,i3,3\nalice,i4,4\n"
       "bob,i1,10\nbob,i2,30\nbob,i3,20\n"
       "alice,i2,5\n")  # a duplicate (alice, i2): kept once


def test_interaction_file_is_split_like_ml100k(tmp_path):
    d = load_interactions(str(write(tmp_path, LOG)), split_how="loo", seed=0)
    assert (d.name, d.n_users, d.n_items) == ("log", 2, 4)
    assert d.repairs == {"duplicates dropped from log.csv": 1}
    assert d.summary()["duplicates dropped from log.csv"] == 1
    # ids map in sorted order (alice 0, bob 1; i1..i4 -> 0..3); loo takes the latest items
    assert d.test.tolist() == [[0, 3], [1, 1]]
    assert d.valid.tolist() == [[0, 2], [1, 2]]
    assert sorted(d.train.tolist()) == [[0, 0], [0, 1], [1, 0]]


def test_interaction_file_without_timestamp_is_split_by_ratio(tmp_path):
    rows = "".join(f"u{u},{i}\n" for u in range(5) for i in range(10))
    d = load_interactions(str(write(tmp_path, "user,item\n" + rows)), seed=3)
    assert (d.n_users, d.n_items) == (5, 10) and d.repairs == {}
    assert (len(d.train), len(d.valid), len(d.test)) == (40, 5, 5)
    log = read_interaction_file(tmp_path / "log.csv")
    assert list(log.columns) == ["user", "item"] and len(log) == 50


@pytest.mark.parametrize("text,message", [
    ("", "{p} is empty; expected a header line naming the columns and one row per line"),
    ("user,item\n", "{p} has a header but no rows"),
    ("user,when\na,1\n", "{p}: no column 'item'; expected columns user,item[,timestamp], "
                         "got user,when"),
    ("user,item,rating\na,1,5\n", "{p}: unexpected column 'rating'; expected columns "
                                  "user,item[,timestamp], got user,item,rating (drop the others)"),
    ("user,item\na,1\na,2\n\nb,\n", "{p}, line 5, column 'item': missing value (fill it or "
                                    "drop the row)"),
    ("user,item,timestamp\na,1,5\na,2,yesterday\n",
     "{p}, line 3, column 'timestamp': 'yesterday' is not a finite number; timestamps must be "
     "numbers (e.g. Unix seconds)"),
    ("user,item\na,1\na,2\na,3\nb,1\nb,2\nb,2\nc,7\n",
     "{p}: 2 user(s) have fewer than 3 distinct items (e.g. user 'b' has 2); splitting needs "
     "at least 3 per user, one each for train, valid and test: drop those users, or give a "
     "split folder"),
])
def test_interaction_file_malformed(tmp_path, text, message):
    p = write(tmp_path, text)
    fails(tmp_path, lambda: load_interactions(str(p)), message.format(p=p))


def test_interaction_file_missing(tmp_path):
    p = tmp_path / "nope.csv"
    fails(tmp_path, lambda: load_interactions(str(p)), f"interaction file not found: {p}")


def test_unknown_dataset_still_names_the_choices(tmp_path):
    with pytest.raises(DataError, match=r"unknown dataset 'ml-1m'; allowed: synthetic, "
                                        r"ml-100k, .*user,item\[,timestamp\]"):
        load_interactions("ml-1m")


def test_parquet_without_pyarrow_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "_has_pyarrow", lambda: False)
    p = write(tmp_path, "not really parquet", "log.parquet")
    fails(tmp_path, lambda: load_interactions(str(p)),
          f"{p}: reading Parquet needs pyarrow, which is not installed; `pip install pyarrow`, "
          "or save the table as CSV")


def test_parquet_cells_are_read_like_csv(tmp_path, monkeypatch):
    """Parquet's typed columns (and its nulls) reach the checks as the CSV's strings do."""
    table = pd.DataFrame({"user": [1, 1, 1], "item": ["a", "b", None], "timestamp": [1.5, 2, 3]})
    monkeypatch.setattr(tables, "_has_pyarrow", lambda: True)
    monkeypatch.setattr(pd, "read_parquet", lambda p: table)
    p = write(tmp_path, "", "log.parquet")
    fails(tmp_path, lambda: read_interaction_file(p),
          f"{p}, row 3, column 'item': missing value (fill it or drop the row)")


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    p = tmp_path / "log.parquet"
    pd.read_csv(write(tmp_path, LOG)).to_parquet(p)
    assert load_interactions(str(p), split_how="loo").test.tolist() == [[0, 3], [1, 1]]


# ------------------------------------------------------------------ sequence file

SEQ = ("user,item,timestamp\n"
       "u2,x,5\nu2,y,5\nu2,z,5\nu2,x,6\n"  # same timestamp: the file's order; x repeated
       "u1,c,30\nu1,a,10\nu1,b,20\n")


def test_sequence_file_orders_by_time_then_file_order(tmp_path):
    d = load_sequence_file(write(tmp_path, SEQ, "seq.csv"))
    # items re-indexed 1.. in sorted order: a b c x y z -> 1..6; users sorted: u1, u2
    assert d.name == "seq" and d.n_items == 6
    assert d.train == [[1], [4, 5]]
    assert d.valid_target.tolist() == [2, 6] and d.test_target.tolist() == [3, 4]
    assert d.ties == {"same-timestamp interactions": 3,
                      "users whose valid/test order is a tie": 0}


@pytest.mark.parametrize("text,message", [
    ("", "{p} is empty; expected a header line naming the columns and one row per line"),
    ("user,item\na,1\n", "{p}: no column 'timestamp'; expected columns user,item,timestamp, "
                         "got user,item"),
    ("user,item,timestamp\na,1,1\na,2,2\na,3,2020-01-03\n",
     "{p}, line 4, column 'timestamp': '2020-01-03' is not a finite number; timestamps must be "
     "numbers (e.g. Unix seconds)"),
    ("user,item,timestamp\na,1,1\n,2,2\n", "{p}, line 3, column 'user': missing value (fill "
                                           "it or drop the row)"),
    ("user,item,timestamp\na,1,1\na,1,2\na,1,3\nb,1,1\nb,2,2\n",
     "{p}: 1 user(s) have fewer than 3 events (e.g. user 'b' has 2); a sequence needs at "
     "least 3, one each for train, valid and test: drop those users"),
])
def test_sequence_file_malformed(tmp_path, text, message):
    p = write(tmp_path, text, "seq.csv")
    fails(tmp_path, lambda: load_sequence_file(p), message.format(p=p))


# ------------------------------------------------------------------ tabular file


def _table(n_per_class=10, labels=("cat", "dog")):
    rows = [f"{k}.5,{i},{lab}" for k, lab in enumerate(labels) for i in range(n_per_class)]
    return "height,weight,species\n" + "\n".join(rows) + "\n"


def test_tabular_file(tmp_path):
    X, y, features, classes = load_tabular_file(write(tmp_path, _table(), "t.csv"), "species")
    assert X.shape == (20, 2) and X.dtype == np.float64 and X[10].tolist() == [1.5, 0.0]
    assert features == ["height", "weight"] and classes == ["cat", "dog"]
    assert y.tolist() == [0] * 10 + [1] * 10


def test_tabular_numeric_labels_sort_as_numbers(tmp_path):
    t = load_tabular_file(write(tmp_path, _table(labels=("10", "9", "2")), "t.csv"), "species")
    assert t.classes == ["2", "9", "10"] and t.y[:10].tolist() == [2] * 10


@pytest.mark.parametrize("text,label,message", [
    (_table(), "label", "{p}: no label column 'label'; the columns are height, weight, species"),
    (_table().replace("1.5,3,dog", "1.5,heavy,dog"), "species",
     "{p}, line 15, column 'weight': 'heavy' is not a finite number; encode the column as "
     "numbers (e.g. one-hot or ordinal codes) or drop it"),
    (_table().replace("0.5,4,cat", "NA,4,cat"), "species",
     "{p}, line 6, column 'height': missing value (fill it or drop the row)"),
    (_table(labels=("cat",)), "species",
     "{p}: label column 'species' has one class ('cat'); a classifier needs at least 2"),
    (_table() + "2.5,1,bird\n", "species",
     "{p}: class 'bird' of 'species' has 1 rows; every class needs at least 10 (1 of 3 "
     "classes have fewer)"),
    ("height,weight,species\n1,2,3,cat\n", "species",
     "{p}: the first row has more fields than the header"),
])
def test_tabular_file_malformed(tmp_path, text, label, message):
    p = write(tmp_path, text, "t.csv")
    fails(tmp_path, lambda: load_tabular_file(p, label), message.format(p=p))


def test_tabular_file_missing(tmp_path):
    p = tmp_path / "t.parquet"
    fails(tmp_path, lambda: load_tabular_file(p, "y"), f"tabular file not found: {p}")


# ------------------------------------------------------------------ skeleton folder


def _skeletons(d, names_shapes):
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name, shape in names_shapes:
        np.save(d / name, rng.normal(size=shape))
    return d


def test_skeleton_folder(tmp_path):
    d = _skeletons(tmp_path / "motion", [("a3_s2_t1.npy", (7, 5, 3)),
                                         ("a1_s1_t2.npy", (4, 5, 3)),
                                         ("a1_s1_t1.npy", (9, 5, 3))])
    (d / "notes.txt").write_text("ignored")
    data = load_skeleton_folder(d)
    assert data.name == "motion" and data.actions == ("a1", "a2", "a3")
    assert [len(s) for s in data.sequences] == [9, 4, 7]
    assert data.y.tolist() == [0, 0, 2] and data.subject.tolist() == [1, 1, 2]
    assert data.trial.tolist() == [1, 2, 1]
    assert np.array_equal(data.sequences[0], np.load(d / "a1_s1_t1.npy"))


def test_skeleton_folder_missing(tmp_path):
    fails(tmp_path, lambda: load_skeleton_folder(tmp_path / "nope"),
          f"skeleton folder not found: {tmp_path / 'nope'} (expected files named "
          "a{action}_s{subject}_t{trial}.npy)")


def test_skeleton_folder_without_matching_files(tmp_path):
    d = _skeletons(tmp_path / "m", [("a1_s1_t1_skeleton.npy", (4, 5, 3))])
    fails(tmp_path, lambda: load_skeleton_folder(d),
          f"no a{{action}}_s{{subject}}_t{{trial}}.npy files in {d} (1 other .npy files)")


@pytest.mark.parametrize("files,message", [
    ([("a1_s1_t1.npy", (4, 3, 5))],
     "{d}/a1_s1_t1.npy: shape (4, 3, 5), expected (T, J, 3): T frames of J joints' x, y, z"),
    ([("a1_s1_t1.npy", (12, 3))],
     "{d}/a1_s1_t1.npy: shape (12, 3), expected (T, J, 3): T frames of J joints' x, y, z"),
    ([("a1_s1_t1.npy", (4, 5, 3)), ("a2_s1_t1.npy", (4, 6, 3))],
     "{d}/a2_s1_t1.npy: 6 joints, but a1_s1_t1.npy has 5; every file needs the same joints"),
    ([("a1_s1_t1.npy", (4, 5, 3)), ("a01_s1_t1.npy", (4, 5, 3))],
     "{d}: a01_s1_t1.npy and a1_s1_t1.npy are the same action, subject and trial"),
    ([("a0_s1_t1.npy", (4, 5, 3))], "{d}/a0_s1_t1.npy: action numbers start at 1"),
])
def test_skeleton_folder_malformed(tmp_path, files, message):
    d = _skeletons(tmp_path / "m", files)
    fails(tmp_path, lambda: load_skeleton_folder(d), message.format(d=d))


def test_skeleton_folder_nan_and_text(tmp_path):
    d = _skeletons(tmp_path / "m", [("a1_s1_t1.npy", (4, 5, 3))])
    x = np.zeros((4, 5, 3))
    x[2, 3, 0], x[3, 0, 1] = np.nan, np.inf
    np.save(d / "a1_s2_t1.npy", x)
    fails(tmp_path, lambda: load_skeleton_folder(d),
          f"{d}/a1_s2_t1.npy: 2 NaN or infinite values (first at frame 2, joint 3); fill or "
          "drop those frames")
    np.save(d / "a1_s2_t1.npy", np.array([["a", "b", "c"]]))
    fails(tmp_path, lambda: load_skeleton_folder(d),
          f"{d}/a1_s2_t1.npy: holds <U1 values, expected numbers")


def test_studies_check_their_data_before_a_kernel_starts(tmp_path):
    """The wiring: a study's check_params (run by `kdkit run` before any kernel) reads the
    user's data through its contract and fails with the contract's message."""
    from kdkit.cli import main
    from kdkit.studies import geometric_kd, topology_kd

    bad = tmp_path / "log.csv"
    bad.write_text("user,item\n1,a\n1,\n")
    with pytest.raises(ValueError, match=r"^data_dir: .*log.csv, line 3, column 'item'"):
        topology_kd.check_params({"methods": ["student"], "seeds": [0], "student_dims": [4],
                                  "loss_reduction": "sum", **{k: 1 for k in (
                                      "teacher_dim", "epochs", "batch_size", "k", "n_groups",
                                      "threads", "workers", "ncf_teacher_dim",
                                      "ncf_student_dim", "ncf_teacher_layers",
                                      "ncf_student_layers")}, "patience": 1, "eval_every": 1,
                                  "htd_alpha": 0.5, "kd_sizes": "all", "converge_epochs": 0,
                                  "converge_patience": 1, "grid": None, "data_dir": str(bad)})
    skel = tmp_path / "skel"
    _skeletons(skel, [("a1_s1_t1.npy", (5, 15, 3)), ("a2_s2_t1.npy", (6, 15, 3))])
    with pytest.raises(ValueError, match="15 joints; this study needs 20"):
        geometric_kd.check_params({"seeds": [0], "steps": 1, "eval_every": 1, "frame_stride": 1,
                                   "lr_grid": [0.001], "n_subjects": 8, "n_trials": 1,
                                   "yaw_range": 30, "temperature": 1.0, "k": 1,
                                   "train_subjects": [1, 2, 3], "students": ["alone"],
                                   "transfer_subjects": [], "data_dir": str(skel)})
    assert main(["run", "bpr_kd", "-p", f"datasets=[{bad}]", "--out",
                 str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_fisher_and_cross_paradigm_read_the_users_data(tmp_path, capsys):
    """Sequences in fisher_layerwise (``data_file``) and a table in cross_paradigm
    (``datasets: [PATH]``, ``label_column``): a bad file exits 2 before a kernel starts with the
    contract's message; a good one is what the study's jobs train on."""
    from kdkit.cli import main
    from kdkit.studies import cross_paradigm as cp
    from kdkit.studies import fisher_layerwise as fl

    bad = write(tmp_path, "user,item,timestamp\nu1,a,1\nu1,b,x\nu1,c,3\n", "seq.csv")
    assert main(["run", "fisher_layerwise", "-p", f"data_file={bad}", "--out",
                 str(tmp_path / "out")]) == 2
    assert "data_file: " in capsys.readouterr().err
    table = write(tmp_path, _table().replace("1.5,", "x,", 1), "t.csv")
    assert main(["run", "cross_paradigm", "-p", f"datasets=[{table}]", "-p",
                 "label_column=species", "--out", str(tmp_path / "out")]) == 2
    assert "column 'height'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

    good = write(tmp_path, "user,item,timestamp\n" + "".join(
        f"u{u},i{(u + t) % 7},{t}\n" for u in range(5) for t in range(4)), "good-seq.csv")
    data = fl.data_for({"data_file": str(good)}, seed=3)
    assert len(data.train) == 5 and data.n_items == 7
    assert [len(s) for s in data.train] == [2] * 5
    table = write(tmp_path, _table(n_per_class=20), "good-table.csv")
    Xtr, Xte, ytr, yte = cp.seed_split(str(table), 0, "species")
    assert Xtr.shape == (32, 2) and len(yte) == 8 and set(ytr) == {0, 1}
    assert cp.dataset_name(str(table)) == "good-table" and cp.dataset_name("wine") == "wine"

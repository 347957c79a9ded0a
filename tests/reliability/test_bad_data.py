"""Bad data wherever a user can point kdkit at their own files: one message naming the file
(and line or column), or a documented repair."""

import numpy as np
import pytest
from scipy.io import savemat

from kdkit.data import DataError
from kdkit.data.movielens import load_ml100k
from kdkit.data.skeleton import load_utd_mhad
from kdkit.data.split_dir import load_split_dir

GOOD = {"train.csv": "user,item\n0,0\n0,1\n1,1\n1,2\n", "valid.csv": "user,item\n0,2\n",
        "test.csv": "user,item\n1,0\n"}


def folder(tmp_path, **files):
    for name, text in {**GOOD, **files}.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("files,message", [
    ({"train.csv": "user,itm\n0,0\n"}, "train.csv: expected header 'user,item', got user,itm"),
    ({"valid.csv": "user\n0\n"}, "valid.csv: expected header 'user,item', got user"),
    ({"train.csv": "user,item\n0,0\n0,x\n"},
     "train.csv, line 3, column 'item': 'x' is not a non-negative integer id"),
    ({"test.csv": "user,item\n-1,0\n"},
     "test.csv, line 2, column 'user': '-1' is not a non-negative integer id"),
    ({"train.csv": "user,item\n0,0\n,1\n"},
     "train.csv, line 3, column 'user': '(empty)' is not a non-negative integer id"),
    ({"valid.csv": ""}, "valid.csv is empty"),
    ({"test.csv": "user,item\n"}, "test.csv has a header but no interactions"),
    ({"test.csv": "user,item\n5,0\n"}, "test.csv: 1 user id(s) never occur in train.csv"),
    ({"valid.csv": "user,item\n0,0\n"}, "are in both train.csv and valid.csv (e.g. 0,0)"),
])
def test_split_folder_problems_name_the_file(tmp_path, files, message):
    with pytest.raises(DataError) as e:
        load_split_dir(folder(tmp_path, **files))
    assert message in str(e.value)


def test_split_folder_missing_file(tmp_path):
    folder(tmp_path)
    (tmp_path / "test.csv").unlink()
    with pytest.raises(DataError, match="test.csv is missing"):
        load_split_dir(tmp_path)


def test_duplicates_are_dropped_and_counted(tmp_path):
    data = load_split_dir(folder(tmp_path, **{"train.csv": GOOD["train.csv"] + "0,1\n0,1\n"}))
    assert len(data.train) == 4
    assert data.summary()["duplicates dropped from train.csv"] == 2


def test_cold_items_in_the_held_out_files_are_allowed(tmp_path):
    data = load_split_dir(folder(tmp_path, **{"test.csv": "user,item\n1,7\n"}))
    assert data.n_items == 8  # item 7 is rankable though never trained on (as in CiteULike)


def test_ml100k_folder_without_the_expected_files(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="holds neither u.data nor ml-100k.inter"):
        load_ml100k(tmp_path)
    (tmp_path / "u.data").write_text("1\t1\t5\t0\n")
    with pytest.raises(DataError, match="u.item is missing"):
        load_ml100k(tmp_path)
    (tmp_path / "u.item").write_text("1|A|\n")
    (tmp_path / "u.data").write_text("1\tx\t5\t0\n")
    with pytest.raises(DataError, match="u.data.*column 'item' must hold integer ids"):
        load_ml100k(tmp_path)


def test_utd_mhad_wrong_variable_or_shape(tmp_path):
    savemat(tmp_path / "a1_s1_t1_skeleton.mat", {"skeleton": np.zeros((20, 3, 5))})
    with pytest.raises(DataError, match="a1_s1_t1_skeleton.mat: no variable d_skel"):
        load_utd_mhad(tmp_path)
    savemat(tmp_path / "a1_s1_t1_skeleton.mat", {"d_skel": np.zeros((25, 3, 5))})
    with pytest.raises(DataError, match=r"d_skel has shape \(25, 3, 5\), expected \(20, 3, T\)"):
        load_utd_mhad(tmp_path)


def test_nan_loss_stops_training_naming_model_epoch_and_loss():
    import torch

    from kdkit.data.load import load_interactions
    from kdkit.recsys.bpr_mf import BPRMF
    from kdkit.recsys.train import train_bpr
    data = load_interactions("synthetic", synthetic={"n_users": 40, "n_items": 60})
    m = BPRMF(data.n_users, data.n_items, 4)
    with torch.no_grad():
        m.user.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match=r"BPRMF \(dim 4\) diverged at epoch 1: "
                                                 r"loss = nan"):
        train_bpr(m, data, epochs=2)

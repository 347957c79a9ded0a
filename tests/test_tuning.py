"""Tuning parity and early stopping."""

import pytest
import torch

from kdkit.early_stopping import EarlyStopping
from kdkit.tuning import check_parity, expand, tune, tuning_table


def test_expand_grid_in_order():
    assert expand({"lr": [1, 2], "wd": [0]}) == [{"lr": 1, "wd": 0}, {"lr": 2, "wd": 0}]
    assert expand([{"a": 1}]) == [{"a": 1}]


def test_parity_rejects_unequal_grids():
    assert check_parity({"teacher": {"lr": [1, 2]}, "student": [{"lr": 1}, {"lr": 3}]}) == 2
    with pytest.raises(ValueError, match="same size.*teacher: 2, kd: 3"):
        check_parity({"teacher": {"lr": [1, 2]}, "kd": {"lr": [1, 2, 3]}})


def test_tune_picks_on_validation_and_scores_test_once():
    calls = []

    def fit(config):
        return f"model-{config['x']}", {1: 0.2, 2: 0.5, 3: 0.5}[config["x"]], {"epochs": 4}

    def score_test(model):
        calls.append(model)
        return {"test": 1.0}

    t = tune("kd", 0, {"x": [1, 2, 3]}, fit, score_test)
    assert t.chosen == {"x": 2} and t.valid == 0.5  # a tie keeps the earlier grid point
    assert calls == ["model-2"]
    table = tuning_table([t], "NDCG@10")
    assert list(table["chosen"]) == [False, True, False]
    assert list(table["validation NDCG@10"]) == [0.2, 0.5, 0.5]
    assert list(table["epochs"]) == [4, 4, 4]


def test_early_stopping_restores_the_best_weights():
    model = torch.nn.Linear(1, 1, bias=False)
    stop = EarlyStopping(patience=2)
    for epoch, score in enumerate([0.1, 0.3, 0.2, 0.25], start=1):
        model.weight.data.fill_(epoch)
        if stop.step(epoch, score, model):
            break
    assert epoch == 4 and stop.best_epoch == 2
    stop.restore(model)
    assert model.weight.item() == 2.0


def test_early_stopping_rejects_a_diverged_score():
    with pytest.raises(ValueError, match="diverged"):
        EarlyStopping().step(3, float("nan"), torch.nn.Linear(1, 1))

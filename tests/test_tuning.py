"""Tuning parity and early stopping."""

import pytest
import torch

from kdkit.early_stopping import EarlyStopping
from kdkit.tuning import check_parity, expand, off_edge, tune, tuning_table


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


def test_a_choice_on_a_grid_edge_grows_the_grid_until_it_is_inside():
    """lr's best value is 0.3 (validation −|log10 lr − log10 0.3|): from [0.001, 0.01] the
    choice sits on the upper edge, so 0.1 is tried, then 1.0; 0.1 (0.477 from the optimum)
    beats 1.0 (0.523) and lies inside, so it stops there."""
    import math
    fit = lambda c: (c, -abs(math.log10(c["lr"]) - math.log10(0.3)), {})  # noqa: E731
    t = tune("a", 0, {"lr": [0.001, 0.01]}, fit, lambda m: {"test": m["lr"]},
             extend_edges=5)
    assert [round(x["config"]["lr"], 12) for x in t.trials] == [0.001, 0.01, 0.1, 1.0]
    assert [x["extension"] for x in t.trials] == [0, 0, 1, 2]
    assert math.isclose(t.chosen["lr"], 0.1) and not any(x["edge"] for x in t.trials)
    # without extension the same arm stops on the edge, and the table says so
    t0 = tune("a", 0, {"lr": [0.001, 0.01]}, fit, lambda m: {"test": m["lr"]})
    assert t0.chosen == {"lr": 0.01} and [x["edge"] for x in t0.trials] == [False, True]


def test_edges_grow_by_their_spacing_within_limits_and_only_on_ordered_numeric_axes():
    # dropout [0.1, 0.3] (arithmetic, as 0 is allowed below) chosen 0.3: +0.2 → 0.5, and no
    # further than its limit; the categorical axis never grows
    grown = off_edge({"dropout": [0.1, 0.3], "loss": ["a", "b"]},
                     {"dropout": 0.3, "loss": "b"}, {"dropout": (0.0, 0.5)})
    assert grown == {"dropout": [0.1, 0.3, 0.5], "loss": ["a", "b"]}
    assert off_edge(grown, {"dropout": 0.5, "loss": "b"}, {"dropout": (0.0, 0.5)}) is None
    # a lower edge on a log-spaced axis: ÷ the ratio; an inside choice: nothing to grow
    assert off_edge({"wd": [1e-4, 1e-3, 1e-2]}, {"wd": 1e-4}) == {"wd": [1e-5, 1e-4, 1e-3, 1e-2]}
    assert off_edge({"wd": [1e-4, 1e-3, 1e-2]}, {"wd": 1e-3}) is None
    assert off_edge({"wd": [1e-3]}, {"wd": 1e-3}) is None  # one value: no edge to leave


def test_every_arm_gets_the_same_edge_rule():
    # two arms with the same declared grid: the one whose optimum lies beyond the grid is
    # tried further, by the same rule, and ends inside; the other never grows
    fit_hi = lambda c: (c, -abs(c["lr"] - 0.05), {})  # noqa: E731
    fit_in = lambda c: (c, -abs(c["lr"] - 0.005), {})  # noqa: E731
    grid = {"lr": [0.001, 0.003, 0.01]}
    hi = tune("hi", 0, grid, fit_hi, lambda m: {}, extend_edges=3)
    inside = tune("in", 0, grid, fit_in, lambda m: {}, extend_edges=3)
    assert len(inside.trials) == 3 and inside.chosen == {"lr": 0.003}
    assert not any(x["edge"] for x in hi.trials) and hi.chosen["lr"] > 0.01

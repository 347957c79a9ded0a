"""Tuning parity: every arm a claim compares gets the same validation budget.

An *arm* is one thing a claim compares: a teacher, the student alone, a KD method or weighting
scheme, a control. Each arm has a grid of candidate configurations, and **every arm's grid has
the same number of points** (:func:`check_parity`). :func:`tune` trains the arm once per grid
point (with early stopping on validation inside ``fit``), keeps the configuration with the best
validation score (ties: the earlier grid point), and scores only that model on test, once.
:func:`tuning_table` writes the grid, the chosen values and the validation scores per arm and
seed, for the report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable


def expand(grid) -> list[dict]:
    """A grid as a list of configurations: ``{"lr": [a, b], "wd": [c]}`` → every combination
    (in order), or a list of dicts as given."""
    if isinstance(grid, dict):
        keys = list(grid)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    return [dict(g) for g in grid]


def check_parity(grids: dict) -> int:
    """Raise ``ValueError`` unless every arm's grid has the same number of points; return it."""
    sizes = {arm: len(expand(g)) for arm, g in grids.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError("tuning parity: every compared arm needs a grid of the same size; got "
                         + ", ".join(f"{a}: {n}" for a, n in sizes.items()))
    return next(iter(sizes.values()), 0)


@dataclass
class Tuned:
    """One arm on one seed after tuning."""

    arm: str
    seed: int
    chosen: dict
    valid: float
    test: dict
    trials: list = field(default_factory=list)  # [{"config", "valid", **info}]
    model: object = None


def tune(arm: str, seed: int, grid, fit: Callable, score_test: Callable,
         keep_model: bool = False) -> Tuned:
    """Train ``fit(config) -> (model, validation score, info dict)`` for every grid point,
    keep the best on validation and return it with ``score_test(model)`` (called once).

    A grid point whose training diverges (``FloatingPointError``: a NaN or infinite loss) is
    recorded as diverged and never chosen; if every point diverges the error is raised."""
    best, trials, errors = None, [], []
    for config in expand(grid):
        try:
            model, valid, info = fit(config)
        except FloatingPointError as e:
            trials.append({"config": config, "valid": float("nan"), "diverged": True})
            errors.append(str(e))
            continue
        trials.append({"config": config, "valid": float(valid), **(info or {})})
        if best is None or valid > best[1]:
            best = (config, float(valid), model)
    if best is None:
        raise FloatingPointError(f"{arm}, seed {seed}: every grid point diverged ({errors[0]})")
    config, valid, model = best
    return Tuned(arm, seed, config, valid, score_test(model), trials,
                 model if keep_model else None)


def tuning_table(tuned, metric: str = ""):
    """One row per arm, seed and grid point: the configuration, its validation score, any
    info (e.g. the early-stopping epoch) and whether it was chosen."""
    import pandas as pd

    rows = []
    for t in tuned:
        for trial in t.trials:
            info = {k: v for k, v in trial.items() if k not in ("config", "valid")}
            rows.append({"arm": t.arm, "seed": t.seed, **trial["config"],
                         f"validation {metric}".strip(): trial["valid"], **info,
                         "chosen": trial["config"] == t.chosen})
    return pd.DataFrame(rows)

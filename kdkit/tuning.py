"""Tuning parity: every arm a claim compares gets the same validation budget.

An *arm* is one thing a claim compares: a teacher, the student alone, a KD method or weighting
scheme, a control. Each arm has a grid of candidate configurations, and **every arm's grid has
the same number of points** (:func:`check_parity`). :func:`tune` trains the arm once per grid
point (with early stopping on validation inside ``fit``), keeps the configuration with the best
validation score (ties: the earlier grid point), and scores only that model on test, once.
:func:`tuning_table` writes the grid, the chosen values and the validation scores per arm and
seed, for the report.

**Off the grid's edges** (kdkit issue 36): a choice on the edge of a grid axis says only that
the best value may lie beyond it. With ``extend_edges = n``, :func:`tune` applies one rule to
every arm: while the chosen value of an ordered numeric axis is its first or last value, the
axis grows one step in that direction (:func:`off_edge`: the ratio of the two outermost values
on a log-spaced axis — all positive, spanning a factor of 10 or more —, else their
difference), within the axis's ``limits``; the new points are trained and the choice is made
again, at most ``n`` times. The tuning table marks each point's ``extension`` (0: the declared
grid) and whether the choice still sits on an edge (``edge``). Not yet used by a study: a
study that turns it on changes its tuning, so its reports must be regenerated.
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


def _step(values: list, upward: bool) -> float:
    """One step beyond the edge of a sorted axis: × the ratio of its two outermost values on a
    log-spaced axis (all values positive, spanning at least a factor of 10: lr, weight decay,
    γ), else + their difference (dropout, α)."""
    a, b = (values[-2], values[-1]) if upward else (values[1], values[0])
    log = min(values) > 0 and max(values) >= 10 * min(values)
    return b * (b / a) if log else b + (b - a)


def off_edge(grid: dict, chosen: dict, limits: dict | None = None) -> dict | None:
    """``grid`` with every ordered numeric axis (two or more values) whose ``chosen`` value is
    its first or last one grown by one step in that direction (:func:`_step`), or None when no
    axis can grow: none is on an edge, or each step would leave the axis's ``limits``
    ({axis: (low, high)}, inclusive)."""
    if not isinstance(grid, dict):
        return None
    limits, out, grew = limits or {}, {}, False
    for key, vals in grid.items():
        vals = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        out[key] = vals
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
        if len(vals) < 2 or not numeric or key not in chosen:
            continue
        order = sorted(vals)
        lo, hi = limits.get(key, (-float("inf"), float("inf")))
        for edge, upward in ((order[0], False), (order[-1], True)):
            new = _step(order, upward)
            if chosen[key] == edge and lo <= new <= hi and new not in vals:
                out[key] = sorted(out[key] + [new])
                grew = True
    return out if grew else None


def tune(arm: str, seed: int, grid, fit: Callable, score_test: Callable,
         keep_model: bool = False, *, extend_edges: int = 0,
         limits: dict | None = None) -> Tuned:
    """Train ``fit(config) -> (model, validation score, info dict)`` for every grid point,
    keep the best on validation and return it with ``score_test(model)`` (called once).
    ``extend_edges``: at most that many times, grow the grid off the edge the choice sits on
    and train the new points (module docstring; ``limits`` bound each axis).

    A grid point whose training diverges (``FloatingPointError``: a NaN or infinite loss) is
    recorded as diverged and never chosen; if every point diverges the error is raised."""
    best, trials, errors, tried = None, [], [], []
    todo, extension = expand(grid), 0
    while True:
        for config in todo:
            tried.append(config)
            try:
                model, valid, info = fit(config)
            except FloatingPointError as e:
                trials.append({"config": config, "valid": float("nan"), "diverged": True,
                               "extension": extension})
                errors.append(str(e))
                continue
            trials.append({"config": config, "valid": float(valid), **(info or {}),
                           "extension": extension})
            if best is None or valid > best[1]:
                best = (config, float(valid), model)
        if best is None:
            raise FloatingPointError(f"{arm}, seed {seed}: every grid point diverged "
                                     f"({errors[0]})")
        grown = off_edge(grid, best[0], limits) if extension < extend_edges else None
        if grown is None:
            break
        grid, extension = grown, extension + 1
        todo = [c for c in expand(grid) if c not in tried]
    config, valid, model = best
    edge = off_edge(grid, config) is not None
    for t in trials:
        t["edge"] = edge and t["config"] == config
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

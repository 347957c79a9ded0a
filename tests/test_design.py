"""kdkit.design: a study's declaration and what the core does with it."""

import numpy as np
import pandas as pd
import pytest

from kdkit.claims import finalize
from kdkit.design import Arm, Compare, Design, Gate, Share

ARMS = (Arm("teacher", "teacher", "teacher_grid", "teacher"),
        Arm("alone", "student alone", "plain_grid"),
        Arm("kd", "KD", "kd_grid", "kd"),
        Arm("self", "self-training", "kd_grid", "control"),
        Arm("oracle", "oracle", "plain_grid", "oracle"))
DESIGN = Design(
    arms=ARMS,
    gates=(Gate("teaches", "teacher", "teacher", "alone"),
           Gate("sound", "control", "self", "alone")),
    claims=(Compare("teacher>alone", "teacher", "alone", "teacher beats alone"),
            Compare("kd>alone", "kd", "alone", "KD beats alone", gates=("teaches",)),
            Compare("kd>self", "kd", "self", "KD beats self", gates=("teaches", "sound")),
            Share("kd/oracle", "kd", "alone", "oracle", "share of the oracle's gain")))
P = {"delta": {"accuracy": {"value": 0.01, "why": "one point"}}}


def _rows(gate: dict, test: dict) -> pd.DataFrame:
    """Per-seed rows from {arm: per-seed values} of the gate and test columns."""
    return pd.DataFrame([{"seed": s, "arm": arm, "valid": 0.5, "gate": gate[arm][s],
                          "test": test[arm][s]}
                         for arm in test for s in range(len(test[arm]))])


BASE = np.array([0.70, 0.72, 0.69, 0.71, 0.70, 0.73])
NOISE = np.array([0.001, -0.002, 0.0, 0.002, -0.001, 0.001])
TEST = {"teacher": BASE + 0.10, "alone": BASE, "kd": BASE + 0.04 + NOISE,
        "self": BASE + 0.01 - NOISE, "oracle": BASE + 0.08}


def _judged(gate) -> dict:
    return {c.id: c for c in finalize(DESIGN.claims_table(_rows(gate, TEST), P), power=False)}


def test_a_declaration_naming_unknown_arms_or_gates_is_refused():
    with pytest.raises(ValueError, match="unknown arms"):
        Design(arms=ARMS, claims=(Compare("x", "kd", "nobody", "?"),))
    with pytest.raises(ValueError, match="undeclared gates"):
        Design(arms=ARMS, claims=(Compare("x", "kd", "alone", "?", gates=("missing",)),))
    with pytest.raises(ValueError, match="role"):
        Arm("a", "a", "g", "referee")
    with pytest.raises(ValueError, match="kind"):
        Gate("g", "oracle", "kd", "alone")
    with pytest.raises(ValueError, match="repeat"):
        Design(arms=ARMS + (ARMS[0],))


def test_tuning_parity_refuses_unequal_or_empty_grids():
    p = {"teacher_grid": [1, 2], "plain_grid": [1, 2], "kd_grid": [1, 2]}
    DESIGN.check_grids(p)
    with pytest.raises(ValueError, match="same size.*kd_grid 3"):
        DESIGN.check_grids({**p, "kd_grid": [1, 2, 3]})
    with pytest.raises(ValueError, match="plain_grid must list"):
        DESIGN.check_grids({**p, "plain_grid": []})


def test_the_pick_is_the_best_on_validation_and_the_first_on_ties():
    assert Design.pick([(0.5, "a"), (0.7, "b"), (0.7, "c")]) == 1
    assert Design.pick([(0.9,), (0.1,)]) == 0
    with pytest.raises(ValueError):
        Design.pick([])


def test_claims_follow_the_declared_gates_and_values():
    """Teacher ahead on the gate rows and a sound control: every claim is judged; KD − alone
    is +0.04 + mean(NOISE) = +0.040167 by hand; the oracle share is that over +0.08."""
    gate = {k: v.copy() for k, v in TEST.items()}
    c = _judged(gate)
    assert c["kd>alone"].measured == pytest.approx(0.04 + NOISE.mean())
    assert c["kd>alone"].verdict == "supported"
    assert c["kd>self"].measured == pytest.approx(0.03 + 2 * NOISE.mean())
    assert c["teacher>alone"].family == "gate"      # a design check, not a source's claim
    share = ((0.04 + NOISE) / 0.08).mean()
    assert c["kd/oracle"].measured == pytest.approx(share)
    assert c["kd/oracle"].family == "descriptive"


def test_a_teacher_behind_on_the_gate_rows_makes_transfer_claims_not_testable():
    gate = {**{k: v.copy() for k, v in TEST.items()}, "teacher": BASE - 0.05}
    c = _judged(gate)
    assert c["kd>alone"].verdict == "not testable"
    assert c["kd>self"].verdict == "not testable"


def test_a_degenerate_control_makes_kd_over_it_not_testable():
    """The control 0.05 below the student alone on the gate rows (δ 0.01): beating it says
    nothing, so kd>self is not judged, while kd>alone still is."""
    gate = {**{k: v.copy() for k, v in TEST.items()}, "self": BASE - 0.05 + NOISE}
    c = _judged(gate)
    assert c["kd>self"].verdict == "not testable" and "degenerate" in c["kd>self"].note
    assert c["kd>alone"].verdict == "supported"

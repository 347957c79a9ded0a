"""The transfer-set design's shared claims: control soundness, oracle share, claim ids/gates."""

import numpy as np
import pandas as pd
import pytest

from kdkit.claims import Gate
from kdkit.transfer_set import ARMS, control_gate, oracle_share, transfer_claims


def _values(kd_gain, self_gain=0.0, oracle_gain=0.10, n=10):
    rng = np.random.default_rng(0)
    alone = 0.7 + rng.normal(0, 0.01, n)
    noise = rng.normal(0, 0.002, (3, n))
    return pd.DataFrame({"alone": alone, "kd": alone + kd_gain + noise[0],
                         "self": alone + self_gain + noise[1],
                         "oracle": alone + oracle_gain + noise[2]})


def test_oracle_share_hand_computed():
    v = pd.DataFrame({"alone": [0.5, 0.6], "kd": [0.55, 0.7], "self": [0.5, 0.6],
                      "oracle": [0.6, 0.8]})
    m, lo, hi = oracle_share(v)
    assert m == pytest.approx((0.5 + 0.5) / 2)   # 0.05/0.10 and 0.10/0.20
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)


def test_oracle_share_skips_seeds_where_the_oracle_gains_nothing():
    v = pd.DataFrame({"alone": [0.5, 0.6, 0.6], "kd": [0.55, 0.7, 0.65], "self": [0.5] * 3,
                      "oracle": [0.6, 0.8, 0.6]})
    assert oracle_share(v)[0] == pytest.approx(0.5)


def test_control_gate_flags_a_control_that_breaks_the_student():
    alone = np.linspace(0.70, 0.79, 10)
    assert not control_gate(alone - 0.05, alone, delta=0.01).ok
    assert "degenerate" in control_gate(alone - 0.05, alone, delta=0.01).reason
    # a small loss within δ, or a gain, leaves the control sound
    assert control_gate(alone - 0.005, alone, delta=0.01).ok
    assert control_gate(alone + 0.03, alone, delta=0.01).ok


def test_transfer_claims_ids_gates_and_direction():
    v = _values(kd_gain=0.04)
    out = {c.id: c for c in transfer_claims(v, where="svm → mlp", suffix="@svm>mlp",
                                            teacher_gate=Gate(True, "ok"), delta=0.01)}
    assert set(out) == {"kd>alone@svm>mlp", "kd>self@svm>mlp", "kd/oracle@svm>mlp"}
    assert out["kd>alone@svm>mlp"].verdict == "supported"
    assert out["kd>self@svm>mlp"].verdict == "supported"
    assert out["kd/oracle@svm>mlp"].family == "descriptive"
    assert out["kd/oracle@svm>mlp"].measured == pytest.approx(0.4, abs=0.02)


def test_transfer_claims_carry_both_gates_on_the_control_claim():
    v = _values(kd_gain=0.0)
    t, c = Gate(False, "teacher no better"), Gate(False, "control degenerate")
    out = {x.id: x for x in transfer_claims(v, where="w", teacher_gate=t, control=c,
                                            delta=0.01)}
    assert out["kd>alone"].test.gates == (t,)
    assert out["kd>self"].test.gates == (t, c)


def test_missing_arms_are_skipped():
    v = _values(kd_gain=0.02)[["alone", "kd"]]
    assert [c.id for c in transfer_claims(v, where="w")] == ["kd>alone"]
    assert ARMS == ("alone", "kd", "self", "oracle")

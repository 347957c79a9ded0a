import numpy as np
import pytest

from kdkit.claims import Claim, direction_verdict, effect_verdict, value_verdict
from kdkit.stats import mean_ci, over_seeds, paired_test, prediction_interval, summarize


def test_mean_ci_by_hand():
    # mean 2, sd 1, t_{0.975, 2} = 4.302653 -> half width 4.302653 / sqrt(3) = 2.484138
    e = mean_ci([1.0, 2.0, 3.0])
    assert e.mean == pytest.approx(2.0)
    assert e.std == pytest.approx(1.0)
    assert e.ci_low == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert e.ci_high == pytest.approx(2.0 + 2.484138, abs=1e-6)
    assert e.n == 3


def test_mean_ci_single_value_is_degenerate():
    e = mean_ci([0.5])
    assert (e.mean, e.ci_low, e.ci_high, e.n) == (0.5, 0.5, 0.5, 1)


def test_paired_test_by_hand():
    a = [0.30, 0.32, 0.31, 0.35]
    b = [0.28, 0.31, 0.27, 0.33]
    # differences 0.02 0.01 0.04 0.02: mean 0.0225, sd 0.012583, t = 3.5762 with 3 df -> p 0.0374
    c = paired_test(a, b)
    assert c.mean_diff == pytest.approx(0.0225)
    assert c.p_value == pytest.approx(0.03737, abs=2e-4)
    assert c.ci_low > 0
    assert c.n == 4


def test_paired_test_identical_is_p_one():
    c = paired_test([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert c.mean_diff == 0 and c.p_value == 1.0


def test_paired_test_rejects_unequal_lengths():
    with pytest.raises(ValueError):
        paired_test([1, 2], [1, 2, 3])


def test_over_seeds_reseeds_each_call():
    rows = over_seeds(lambda s: {"x": float(np.random.rand())}, [3, 3, 4])
    assert rows[0]["x"] == rows[1]["x"] != rows[2]["x"]
    assert [r["seed"] for r in rows] == [3, 3, 4]


def test_summarize_groups_and_bounds():
    rows = [{"m": "a", "v": v} for v in (1.0, 2.0, 3.0)] + [{"m": "b", "v": 5.0}]
    s = summarize(rows, by=["m"], metrics=["v"]).set_index("m")
    assert s.loc["a", "v"] == pytest.approx(2.0)
    assert s.loc["a", "v_lo"] < 2.0 < s.loc["a", "v_hi"]
    assert s.loc["b", "n"] == 1


@pytest.mark.parametrize("diff,p,expect,verdict", [
    (-0.01, 0.01, "<", "supported"),
    (0.01, 0.01, "<", "not supported"),
    (-0.01, 0.20, "<", "inconclusive"),
    (0.02, 0.001, ">", "supported"),
])
def test_direction_verdict(diff, p, expect, verdict):
    assert direction_verdict(diff, p, expect) == verdict


def test_value_verdict_uses_tolerance():
    assert value_verdict(1.97, 1.9697, 1.9697, rel_tol=0.005) == "supported"
    assert value_verdict(49.5, 49.23, 49.23) == "not supported"


def test_claim_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        Claim("x", "1", 1.0, None, None, "true")


@pytest.mark.parametrize("diff,p,claimed,ci,verdict", [
    (-0.001, 0.7, -0.06, (-0.08, 0.01), "inconclusive"),   # claimed −6 % lies inside our CI
    (-0.001, 0.7, -0.23, (-0.05, 0.04), "not supported"),  # we would have seen −23 %
    (-0.10, 0.01, -0.23, (-0.12, -0.08), "supported"),     # direction holds; size differs
    (-0.001, 0.7, None, None, "inconclusive"),
])
def test_effect_verdict_checks_claimed_size_when_inconclusive(diff, p, claimed, ci, verdict):
    assert effect_verdict(diff, p, "<", claimed=claimed, interval=ci) == verdict


def test_paired_test_tiny_varying_differences_are_not_significant():
    # differences of ±1e-9 around 0: the CI spans 0, so p must not be 0
    c = paired_test([1e-9, -1e-9, 1e-9], [0.0, 0.0, 0.0])
    assert c.ci_low < 0 < c.ci_high
    assert c.p_value > 0.3


def test_paired_test_constant_nonzero_difference():
    c = paired_test([0.3, 0.5, 0.7], [0.2, 0.4, 0.6])
    assert c.mean_diff == pytest.approx(0.1) and c.p_value == 0.0


def test_paired_test_constant_difference_up_to_rounding():
    # one test sample of 114 better on every split: differences equal up to float rounding
    a = [111 / 114, 110 / 114]
    b = [112 / 114, 111 / 114]
    assert np.ptp(np.subtract(a, b)) > 0  # the rounding this test is about
    assert paired_test(a, b).p_value == 0.0


def test_prediction_interval_by_hand():
    # mean 2, sd 1, n 3: half width 4.302653 · √(1 + 1/3) = 4.968275
    lo, hi = prediction_interval([1.0, 2.0, 3.0])
    assert (lo, hi) == (pytest.approx(2 - 4.968275, abs=1e-6), pytest.approx(2 + 4.968275,
                                                                                abs=1e-6))


def test_direction_verdict_nan_p_is_inconclusive():
    assert direction_verdict(-0.1, float("nan"), "<") == "inconclusive"


def test_spearman_ci_by_hand():
    from kdkit.stats import spearman_ci
    e = spearman_ci([1, 2, 3, 4, 5], [2, 4, 5, 8, 9], n_boot=200)
    assert (e.mean, e.ci_low, e.ci_high) == (pytest.approx(1.0), pytest.approx(1.0),
                                             pytest.approx(1.0))
    # one swapped pair of 4: rho = 1 - 6·2/(4·15) = 0.8
    assert spearman_ci([1, 2, 3, 4], [1, 3, 2, 4], n_boot=50).mean == pytest.approx(0.8)
    with pytest.raises(ValueError, match="at least 3"):
        spearman_ci([1, 2], [1, 2])


def test_paired_claim_notes_and_verdicts():
    from kdkit.claims import paired_claim
    c = paired_claim([0.3, 0.5, 0.7], [0.2, 0.4, 0.6], ">", "a beats b", note="x")
    assert c.verdict == "supported" and c.note == "paired over 3 seeds, p = 0. x"
    one = paired_claim([0.5], [0.2], ">", "a beats b")
    assert one.verdict == "inconclusive" and one.measured == pytest.approx(0.3)
    assert one.note == "one seed: direction shown, no test"
    rel = paired_claim([0.3, 0.5, 0.7], [0.2, 0.4, 0.6], "<", "a below b", relative=True)
    assert rel.verdict == "not supported" and "relative +25.0%" in rel.note

import numpy as np
import pytest

from kdkit.claims import Claim, direction_verdict, value_verdict
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


def test_paired_t_test_by_hand():
    a = [0.30, 0.32, 0.31, 0.35, 0.30]
    b = [0.28, 0.31, 0.27, 0.33, 0.31]
    # differences 0.02 0.01 0.04 0.02 -0.01: mean 0.016, sd 0.018166, t = 1.9695, 4 df -> 0.1202
    c = paired_test(a, b)
    assert c.test == "paired t-test"
    assert c.mean_diff == pytest.approx(0.016)
    assert c.p_value == pytest.approx(0.1202, abs=2e-4)
    # exact: |sum| = 0.08; sign patterns reaching it: of 32, the sums ≥ 0.08 in absolute value
    assert c.p_exact == pytest.approx(6 / 32)
    assert c.n == 5


def test_few_pairs_use_the_exact_sign_flip_test():
    # four pairs, all better: the exact test cannot go below 2/16 (a t-test would give 0.037)
    c = paired_test([0.30, 0.32, 0.31, 0.35], [0.28, 0.31, 0.27, 0.33])
    assert c.test == "exact sign-flip test" and c.p_value == pytest.approx(2 / 16)
    assert c.ci_low > 0


def test_sign_flip_p_by_hand():
    from kdkit.stats import sign_flip_p
    # d = 1, 2, -0.5 (sum 2.5): |sums| of the 8 patterns 3.5 2.5 .5 1.5 1.5 .5 2.5 3.5 -> 4/8
    assert sign_flip_p([1, 2, -0.5]) == pytest.approx(0.5)
    assert sign_flip_p([0.0, 0.0]) == 1.0


def test_holm_by_hand():
    from kdkit.stats import holm
    # sorted 0.005 0.01 0.03 0.04 -> ×4 ×3 ×2 ×1 = 0.02 0.03 0.06 0.04 -> running max
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # monotone: never below an earlier one


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


def test_paired_test_tiny_varying_differences_are_not_significant():
    # differences of ±1e-9 around 0: the CI spans 0, so p must not be 0
    c = paired_test([1e-9, -1e-9, 1e-9, -1e-9, 1e-9], [0.0] * 5)
    assert c.ci_low < 0 < c.ci_high
    assert c.p_value > 0.3


def test_paired_test_constant_nonzero_difference_is_never_p_zero():
    # the case: three seeds, the same difference -> exact p = 2/8, not 0
    c = paired_test([0.3, 0.5, 0.7], [0.2, 0.4, 0.6])
    assert c.mean_diff == pytest.approx(0.1) and c.p_value == pytest.approx(0.25)
    # ... and with five seeds (a t-test would be infinite): 2/32
    c = paired_test([0.3, 0.5, 0.7, 0.2, 0.1], [0.2, 0.4, 0.6, 0.1, 0.0])
    assert c.test == "exact sign-flip test" and c.p_value == pytest.approx(2 / 32)


def test_paired_test_constant_difference_up_to_rounding():
    # one test sample of 114 better on every split: differences equal up to float rounding
    a = [111 / 114, 110 / 114, 109 / 114, 108 / 114, 107 / 114]
    b = [112 / 114, 111 / 114, 110 / 114, 109 / 114, 108 / 114]
    assert np.ptp(np.subtract(a, b)) > 0  # the rounding this test is about
    c = paired_test(a, b)
    assert c.test == "exact sign-flip test" and c.p_value == pytest.approx(2 / 32)


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


A5 = [0.31, 0.52, 0.70, 0.45, 0.26]
B5 = [0.20, 0.40, 0.60, 0.35, 0.15]  # A − B = .11 .12 .10 .10 .11: t-test p ≈ 1e-5


def test_paired_claim_notes_and_verdicts():
    from kdkit.claims import paired_claim
    c = paired_claim(A5, B5, ">", "a beats b", note="x")
    assert c.verdict == "supported" and c.note == "paired t-test over 5 seeds. x."
    assert c.p < 1e-4 and c.p_holm is None
    one = paired_claim([0.5], [0.2], ">", "a beats b")
    assert one.verdict == "inconclusive" and one.measured == pytest.approx(0.3)
    assert one.note.startswith("one seed: direction shown, no test")
    rel = paired_claim(A5, B5, "<", "a below b", relative=True)
    assert rel.verdict == "not supported" and "relative +" in rel.note


def test_finalize_applies_holm_within_the_table():
    from kdkit.claims import finalize, paired_claim
    strong = paired_claim(A5, B5, ">", "strong")
    # a difference that is significant alone (p ≈ 0.03) but not after Holm over 2 tests
    weak = paired_claim([0.31, 0.40, 0.52, 0.30, 0.41], [0.30, 0.38, 0.50, 0.29, 0.36], ">",
                        "weak")
    assert 0.025 < weak.p < 0.05 and weak.verdict == "supported"
    value = Claim("a value", "1", 1.0, None, None, "supported")
    # alone beside a strong one it survives (Holm multiplies the second smallest p by 1) ...
    out = finalize([strong, weak, value])
    assert [c.verdict for c in out] == ["supported", "supported", "supported"]
    # ... but two such claims in one table do not: the first of them is multiplied by 2
    out = finalize([strong, weak, weak, value])
    assert [c.verdict for c in out] == ["supported", "inconclusive", "inconclusive", "supported"]
    assert out[1].p_holm == pytest.approx(min(1, 2 * weak.p))
    assert "Holm over the 3 tests of the secondary family" in out[1].note and out[3].p_holm is None


def test_finalize_minimum_evidence_and_smoke():
    from kdkit.claims import finalize, paired_claim
    three = paired_claim([0.3, 0.5, 0.7], [0.2, 0.4, 0.6], ">", "three seeds")
    out = finalize([three])[0]
    assert out.verdict == "inconclusive" and out.note.startswith("3 seeds: too few")
    smoke = finalize([paired_claim(A5, B5, ">", "five")], smoke=True)[0]
    assert smoke.verdict == "inconclusive" and smoke.note.startswith("smoke run")
    assert "significant" not in smoke.note


def test_teacher_gate_makes_transfer_claims_not_testable():
    from kdkit.claims import finalize, paired_claim, teacher_gate
    # the teacher is below the student on validation: nothing to transfer
    gate = teacher_gate([0.20, 0.21, 0.19, 0.22, 0.20], [0.21, 0.22, 0.20, 0.22, 0.21],
                        metric="NDCG@10")
    assert not gate.ok and "no better than" in gate.reason
    c = finalize([paired_claim(A5, B5, ">", "KD transfers", gates=[gate])])[0]
    assert c.verdict == "not testable" and c.p_holm is None
    assert c.note.startswith("the teacher is no better than the student alone")
    ok = teacher_gate(A5, B5)
    c = finalize([paired_claim(A5, B5, ">", "KD transfers", gates=[ok])])[0]
    assert ok.ok and c.verdict == "supported" and "the teacher beats" in c.note


def test_an_open_teacher_gate_keeps_the_claim_inconclusive_not_untestable():
    """geometric_kd's case of seeds 100-129: the teacher leads on the gate data without p < α
    while KD is decisive on test. The claim must read inconclusive (a seed plan keeps looking),
    never "not testable", and the note says the gate is open and by how much."""
    from kdkit.claims import finalize, paired_claim, teacher_gate
    teacher = [0.55, 0.50, 0.58, 0.49, 0.57, 0.52]
    student = [0.52, 0.53, 0.54, 0.50, 0.53, 0.50]        # teacher +0.015, p > 0.05
    gate = teacher_gate(teacher, student, metric="accuracy", data="held-out gate subjects")
    assert not gate.ok and gate.verdict == "inconclusive"
    assert gate.reason.startswith("the gate is open: the teacher leads the student alone "
                                  "(held-out gate subjects accuracy: +0.0150")
    c = finalize([paired_claim(A5, B5, ">", "KD transfers", gates=[gate])])[0]
    assert c.verdict == "inconclusive" and c.p_holm is None
    assert "more seeds may decide it" in c.note

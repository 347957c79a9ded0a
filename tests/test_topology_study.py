import pandas as pd
import pytest

from kdkit.studies.topology_kd import REFERENCE_CITEULIKE, Protocol, claims, gap_closed

M = "Recall@50"


def _results(values):
    """Rows with a test and a validation score (the validation one a little higher)."""
    rows = [{"dataset": "d", "model": "mf", "seed": s, "method": m, "dim": dim, M: v,
             "valid": v + 0.01} for (s, m, dim), v in values.items()]
    return pd.DataFrame(rows)


def test_gap_closed_by_hand():
    r = _results({(0, "teacher", 64): 0.40, (0, "student", 8): 0.20, (0, "ftd", 8): 0.25,
                  (0, "htd", 8): 0.30})
    g = gap_closed(r, M).set_index("method")
    assert g.loc["ftd", "gap_closed"] == pytest.approx(0.25)  # 0.05 of a 0.20 gap
    assert g.loc["htd", "gain"] == pytest.approx(0.10)


def test_reference_claims_use_a_plus_minus_001_band():
    vals = {(0, "teacher", 200): 0.3119, (0, "student", 10): 0.1700, (0, "ftd", 10): 0.2112,
            (0, "htd", 10): 0.2400}
    out = {c.claim: c.verdict for c in claims(_results(vals), M, teacher_dim=200,
                                              citeulike=True, protocol=Protocol())}
    assert out["Reference Teacher dim 200: Recall@50 0.3123"] == "supported"
    assert out["Reference Student alone dim 10: Recall@50 0.1788"] == "supported"
    assert out["Reference HTD dim 10: Recall@50 0.2282"] == "not supported"
    assert REFERENCE_CITEULIKE["ftd"][20] == 0.2516


def test_direction_claims_over_seeds_and_the_teacher_gate():
    from kdkit.claims import finalize
    vals = {}
    for s, (st, ftd, htd, st32) in enumerate([(0.20, 0.22, 0.25, 0.40), (0.21, 0.23, 0.27, 0.41),
                                              (0.19, 0.22, 0.24, 0.39), (0.20, 0.23, 0.26, 0.42),
                                              (0.21, 0.22, 0.26, 0.40)]):
        vals |= {(s, "teacher", 64): 0.4, (s, "student", 4): st, (s, "ftd", 4): ftd,
                 (s, "htd", 4): htd, (s, "student", 32): st32}
    out = {c.claim: c for c in finalize(claims(_results(vals), M, teacher_dim=64,
                                                citeulike=False, protocol=Protocol()))}
    small = "(dim 4, φ = 0.0625) on Recall@50"
    assert out[f"HTD beats FTD for the smallest student {small}"].verdict == "supported"
    assert out[f"FTD improves the student {small}"].verdict == "supported"
    # at dim 32 the teacher (0.40) is no better than the student alone: not testable, and the
    # KD students were not trained there
    big = out["FTD improves the student (dim 32, φ = 0.5) on Recall@50"]
    assert big.verdict == "not testable" and "no better than" in big.note

import pandas as pd
import pytest

from kdkit.studies.topology_kd import REFERENCE_CITEULIKE, Protocol, claims, gap_closed

M = "Recall@50"


def _results(values):
    rows = [{"dataset": "d", "model": "mf", "seed": s, "method": m, "dim": dim, M: v}
            for (s, m, dim), v in values.items()]
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
    out = {c.claim: c.verdict for c in claims(_results(vals), M, citeulike=True,
                                              protocol=Protocol())}
    assert out["Reference Teacher dim 200: Recall@50 0.3123"] == "supported"
    assert out["Reference Student (no KD) dim 10: Recall@50 0.1788"] == "supported"
    assert out["Reference HTD dim 10: Recall@50 0.2282"] == "not supported"
    assert REFERENCE_CITEULIKE["ftd"][20] == 0.2516


def test_direction_claims_over_seeds():
    vals = {}
    for s, (st, ftd, htd) in enumerate([(0.20, 0.22, 0.25), (0.21, 0.23, 0.27),
                                        (0.19, 0.22, 0.24)]):
        vals |= {(s, "teacher", 64): 0.4, (s, "student", 4): st, (s, "ftd", 4): ftd,
                 (s, "htd", 4): htd}
    out = {c.claim: c.verdict for c in claims(_results(vals), M, citeulike=False,
                                              protocol=Protocol())}
    assert out["HTD beats FTD for the smallest student (dim 4) on Recall@50"] == "supported"
    assert out["FTD improves the student (dim 4) on Recall@50"] == "supported"

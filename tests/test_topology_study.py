import pandas as pd
import pytest

from kdkit.claims import finalize
from kdkit.studies.topology_kd import (
    REFERENCE_CITEULIKE,
    Protocol,
    claims,
    gap_closed,
    size_setting,
    taught_sizes,
)

M = "Recall@50"


def _results(values, gate=None):
    """Rows with a test score, a validation score (a little higher) and a held-out validation
    score (``gate``: {(seed, method, dim): value}, else the validation one)."""
    gate = gate or {}
    rows = [{"dataset": "d", "model": "mf", "seed": s, "method": m, "dim": dim, M: v,
             "valid": v + 0.01, "gate": gate.get((s, m, dim), v + 0.01)}
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
    out = {c.claim: c.verdict for c in claims(_results(vals), M, teacher_dim=200,
                                              citeulike=True, protocol=Protocol())}
    assert out["Reference Teacher dim 200: Recall@50 0.3123"] == "supported"
    assert out["Reference Student alone dim 10: Recall@50 0.1788"] == "supported"
    assert out["Reference HTD dim 10: Recall@50 0.2282"] == "not supported"
    assert REFERENCE_CITEULIKE["ftd"][20] == 0.2516


def _five_seeds():
    vals = {}
    for s, (st, ftd, htd, st32) in enumerate([(0.20, 0.22, 0.25, 0.40), (0.21, 0.23, 0.27, 0.41),
                                              (0.19, 0.22, 0.24, 0.39), (0.20, 0.23, 0.26, 0.42),
                                              (0.21, 0.22, 0.26, 0.40)]):
        vals |= {(s, "teacher", 64): 0.4, (s, "student", 4): st, (s, "ftd", 4): ftd,
                 (s, "htd", 4): htd, (s, "student", 32): st32}
    return vals


def test_direction_claims_over_seeds_and_the_teacher_gate():
    vals = _five_seeds()
    out = {c.claim: c for c in finalize(claims(_results(vals), M, teacher_dim=64,
                                                citeulike=False, protocol=Protocol()))}
    small = "(dim 4, φ = 0.0625) on Recall@50"
    assert out[f"HTD beats FTD for the smallest student {small}"].verdict == "supported"
    assert out[f"FTD improves the student {small}"].verdict == "supported"
    # at dim 32 the teacher (0.40) is no better than the student alone: not testable, and the
    # KD students were not trained there
    big = out["FTD improves the student (dim 32, φ = 0.5) on Recall@50"]
    assert big.verdict == "not testable" and "no better than" in big.note


def test_the_teacher_gate_reads_held_out_validation_not_the_selected_maxima():
    """On the validation maxima (``valid``) the teacher beats the dim-4 student alone; on the
    held-out half (``gate``) it does not: the transfer claims are not testable, and ``taught``
    trains no KD student there."""
    vals = _five_seeds()
    noise = [0.002, -0.003, 0.001, -0.001, 0.0015]
    held = {(s, m, 4): 0.30 + noise[s] for s in range(5) for m in ("student", "ftd", "htd")}
    held |= {(s, "teacher", 64): 0.30 - noise[s] for s in range(5)}
    r = _results(vals, held)
    assert not taught_sizes(r, M)[4].ok
    assert taught_sizes(_results(vals), M)[4].ok  # the maxima would have passed it
    out = {c.id: c for c in finalize(claims(r, M, teacher_dim=64, citeulike=False,
                                            protocol=Protocol()))}
    for key in ("ftd>student@4", "htd>student@4", "htd>ftd@4"):
        assert out[key].verdict == "not testable"
        assert "held-out validation Recall@50" in out[key].note


def test_ids_primary_family_delta_and_size_claims_off_citeulike():
    vals = _five_seeds()
    rows = claims(_results(vals), M, teacher_dim=64, citeulike=False, protocol=Protocol(),
                  delta={M: {"value": 0.008, "why": "test"}})
    ids = [c.id for c in rows]
    assert len(ids) == len(set(ids)) and all(ids)
    out = {c.id: c for c in finalize(rows, primary=["htd>ftd@4", "ftd>htd@32"], smoke=True)}
    assert out["htd>ftd@4"].family == "primary" and out["htd>ftd@4"].delta == 0.008
    assert out["ftd>student@4"].family == "secondary"
    # at dim 32 the KD students were not trained: the declared primary says why
    large = out["ftd>htd@32"]
    assert large.verdict == "not testable" and "no better than" in large.note
    # the paper's +18 % / +28 % are size claims, not testable on MovieLens-100k
    size = out["size:ftd>student@4"]
    assert size.verdict == "not testable" and "CiteULike" in size.note
    assert "+18.1%" in size.source_value and "+27.6%" in out["size:htd>student@4"].source_value


def test_size_claims_are_judged_only_in_the_papers_setting():
    assert size_setting(10, [10, 20], teacher_dim=200, citeulike=True, protocol=Protocol()) \
        == (10, "")
    ref, why = size_setting(20, [10, 20], teacher_dim=200, citeulike=True,
                            protocol=Protocol(patience=3, eval_every=5))
    assert ref == 20 and "reference protocol" in why
    ref, why = size_setting(4, [4, 16], teacher_dim=64, citeulike=False, protocol=Protocol())
    assert ref == 10 and "MovieLens" in why and "φ = 0.0625" in why
    assert size_setting(16, [4, 16], teacher_dim=64, citeulike=False,
                        protocol=Protocol()) == (None, "")
    # on CiteULike with the reference protocol a size claim is judged (one seed: too few)
    vals = {(0, "teacher", 200): 0.31, (0, "student", 10): 0.18, (0, "ftd", 10): 0.21,
            (0, "htd", 10): 0.23}
    out = {c.id: c for c in finalize(claims(_results(vals), M, teacher_dim=200,
                                            citeulike=True, protocol=Protocol()))}
    assert out["size:htd>student@10"].verdict == "inconclusive"
    assert "too few" in out["size:htd>student@10"].note
    assert out["reference:htd@10"].verdict == "supported"  # 0.23, within ±0.01 of 0.2282

"""cross_paradigm's claims: each innovation is gated by its own pathway, out of fold on the
training split (never test); ids are unique and the primary ones are produced."""

import numpy as np
import pandas as pd
import pytest

from kdkit.claims import finalize
from kdkit.studies import cross_paradigm as cp

SEEDS = list(range(5))
VARIANTS = ["no teacher", "soft, T = 2", "fixed T0 = 3", "dynamic T = T0 (1 + 0.1 H)",
            "random weights (source)", "uniform", "attention", "easy → hard, 3 stages",
            "soft + hints (mlp teacher)", "soft only (mlp teacher)",
            "5 non-IID clients (Dirichlet 0.5)", "5 IID clients",
            "central rf on the pooled data (same model class)", "teacher hard labels",
            "teacher soft labels"]


def _innov(rng):
    return pd.DataFrame([{"dataset": "toy", "seed": s, "group": "g", "variant": v,
                          "accuracy": 0.8 + rng.normal(0, 0.01)}
                         for s in SEEDS for v in VARIANTS])


def _gate(main_teacher, hints_teacher):
    rows = []
    for i, s in enumerate(SEEDS):
        for kind, pathway, t, st in (
                ("main", "ensemble → mlp", main_teacher[i], 0.80 + 0.001 * i),
                ("pool", "multi-teacher pool (ensemble, mlp, uniform) → mlp", 0.9, 0.80),
                ("stream", "ensemble → stream student", main_teacher[i], 0.70 + 0.002 * i),
                ("hints", "mlp → mlp", hints_teacher[i], 0.80 + 0.001 * i)):
            rows.append({"dataset": "toy", "seed": s, "kind": kind, "pathway": pathway,
                         "teacher": t + 0.002 * (i % 2), "student": st})
    return pd.DataFrame(rows)


def test_each_innovation_is_gated_by_its_own_pathway_out_of_fold():
    rng = np.random.default_rng(0)
    gate = _gate(main_teacher=[0.90, 0.91, 0.92, 0.90, 0.93],
                 hints_teacher=[0.70, 0.71, 0.69, 0.72, 0.70])  # the mlp teacher loses
    out = cp._innovation_claims(_innov(rng), gate, n_clients=5, client="rf",
                                acc={"delta": 0.01, "delta_why": "one point"})
    v = {c.id: c for c in finalize(out, power=False)}
    assert v["hints>soft"].verdict == "not testable"
    assert "the teacher (mlp) is no better than the mlp alone" in v["hints>soft"].note
    assert "out-of-fold (training split) accuracy" in v["hints>soft"].note
    for key in ("dynT>fixT", "curriculum>soft", "stream:soft>hard", "attn>uniform"):
        assert v[key].verdict != "not testable", key
    assert "the teacher (ensemble) beats the mlp alone" in v["dynT>fixT"].note
    assert "beats the stream student alone" in v["stream:soft>hard"].note
    # federated vs central is not a transfer claim: no teacher gate
    assert next(c for c in out if c.id == "fed~central").test.gates == ()


def test_missing_pathway_gate_is_not_testable():
    g = cp.pathway_gate(None, "main")
    assert not g.ok and "main pathway" in g.reason


def test_pooled_gate_averages_out_of_fold_accuracies_over_datasets():
    valid = pd.DataFrame([{"dataset": ds, "seed": s, "model": m, "oof_accuracy": a + 0.001 * s}
                          for ds, off in (("a", 0.0), ("b", 0.1)) for s in SEEDS
                          for m, a in (("teacher lr", 0.8 + off), ("teacher rf", 0.9 + off),
                                       ("student lr", 0.7 + off + 0.003 * (s % 2)))])
    g = cp.pooled_gate(valid)
    assert g.ok and "out-of-fold (training split) accuracy: +0.1488" in g.reason
    assert g.reason.startswith("the teachers' mean over datasets beats the students' mean")
    assert cp.gate_for(valid, "a", "lr").ok


def test_fast_student_needs_the_source_accuracy_too():
    # faster than the teacher is not enough: the claim says "98.61 % in 0.136 s"
    def rows(acc):
        student = [{"dataset": "digits", "teacher": "ensemble", "student": "lr", "method": "soft",
                    "role": "student", "accuracy": a, "predict_us": 2.0} for a in acc]
        teacher = [{"dataset": "digits", "teacher": "ensemble", "student": "", "method": "",
                    "role": "teacher", "accuracy": 0.98, "predict_us": 100.0}] * len(acc)
        return pd.DataFrame(student + teacher)

    no_faithful = pd.DataFrame(columns=["dataset", "teacher", "student", "procedure",
                                        "accuracy"])
    slow_acc = cp._fast_student_claims(rows([0.955, 0.957, 0.958, 0.956, 0.959]), no_faithful)
    assert slow_acc[0].measured == pytest.approx(0.02) and slow_acc[0].verdict == "not supported"
    good = cp._fast_student_claims(rows([0.984, 0.986, 0.985, 0.987, 0.983]), no_faithful)
    assert good[0].verdict == "supported"

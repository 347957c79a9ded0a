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
    for key in ("dynT>fixT:oof", "curriculum>soft", "stream:soft>hard", "attn>uniform"):
        assert v[key].verdict != "not testable", key
    assert "the teacher (ensemble) beats the mlp alone" in v["dynT>fixT:oof"].note
    assert "beats the stream student alone" in v["stream:soft>hard"].note
    # federated vs central is not a transfer claim: no teacher gate
    assert next(c for c in out if c.id == "fed~central:munge").test.gates == ()


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


# ------------------------------------------------------------------ the transfer-set design

from kdkit.studies import cross_paradigm_transfer as tr  # noqa: E402


def test_label_smoothing_targets_by_hand():
    q = tr.smoothed(np.array([0, 2]), 3, 0.3)
    assert q == pytest.approx(np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))


def test_draw_deals_one_seeded_draw_into_disjoint_parts():
    sizes = (30, 10, 10, 40, 20)
    d = tr.draw(3, sizes)
    assert [len(d[p][0]) for p in tr.PARTS] == list(sizes)
    assert d["train"][0].shape[1] == 50 and set(np.unique(d["test"][1])) <= set(range(5))
    again = tr.draw.__wrapped__(3, sizes)
    assert all(np.array_equal(d[p][0], again[p][0]) for p in tr.PARTS)
    rows = np.vstack([d[p][0] for p in tr.PARTS])
    assert len(np.unique(rows, axis=0)) == sum(sizes)
    assert not np.array_equal(tr.draw(4, sizes)["train"][0], d["train"][0])


def _rows(gains, leads, *, alone=0.7, teacher_gate=None):
    """Synthetic transfer rows: per (teacher, student) and seed, kd − alone = gains[(t, s)][i]
    on test; the teacher leads the student alone by leads[(t, s)][i] on the gate rows."""
    out = []
    students = sorted({s for _, s in gains})
    n = len(next(iter(gains.values())))
    for seed in range(n):
        for s in students:
            for arm, acc in (("alone", alone), ("self", alone + 0.001 * (seed % 2)),
                             ("oracle", alone + 0.1)):
                out.append({"seed": seed, "student": s, "teacher": "", "arm": arm,
                            "gate": acc, "test": acc})
        for (t, s), gain in gains.items():
            for arm, acc in (("kd", alone + gain[seed]), ("oof", alone), ("stack", alone)):
                out.append({"seed": seed, "student": s, "teacher": t, "arm": arm,
                            "gate": acc, "test": acc})
        for t in dict.fromkeys(t for t, _ in gains):
            lead = leads[t][seed]
            out.append({"seed": seed, "student": "", "teacher": t, "arm": "teacher",
                        "gate": alone + lead, "test": alone + lead})
    return pd.DataFrame(out)


def test_cross_coefficient_recovers_the_family_effect_given_teacher_and_student():
    # gain = 0.02 · cross + a_t + c_s exactly, with teacher effects far larger than the family
    # effect: the two-way fixed-effects coefficient is 0.02 on every seed
    a = {"lr_poly": 0.03, "mlp": 0.05, "dnn": -0.01, "svm": 0.09}
    c = {"lr": 0.0, "mlp": 0.015}
    fam = {("lr_poly", "lr"): 0, ("mlp", "lr"): 1, ("dnn", "lr"): 1, ("svm", "lr"): 1,
           ("lr_poly", "mlp"): 1, ("mlp", "mlp"): 0, ("dnn", "mlp"): 0, ("svm", "mlp"): 1}
    gains = {(t, s): [0.02 * f + a[t] + c[s] + 0.001 * i for i in range(3)]
             for (t, s), f in fam.items()}
    leads = {t: [0.1, 0.1, 0.1] for t in a}
    rows = _rows(gains, leads)
    coef = tr.cross_coefficients(rows, list(fam))
    assert coef.to_numpy() == pytest.approx([0.02, 0.02, 0.02], abs=1e-9)
    # one same-family cell and teachers that each teach one kind of student only: the family
    # effect is not identified apart from the teacher's (the committed design's confound)
    assert tr.cross_coefficients(rows, [("svm", "lr"), ("mlp", "lr"), ("mlp", "mlp")]).empty
    # leaving out a teacher: the estimate stays 0.02 while two teachers still teach both
    # students; without every same-family teacher of a student it cannot be estimated
    loto = tr.leave_one_teacher_out(rows, list(fam)).set_index("left out")
    assert loto.loc["(none)", "cross − same"] == pytest.approx(0.02, abs=1e-9)
    assert loto.loc["svm", "cross − same"] == pytest.approx(0.02, abs=1e-9)
    assert loto.loc["(none)", "same-family pathways"] == 3
    assert loto.loc["svm", "cross-family pathways"] == 3
    assert len(loto) == 1 + len(a)


def test_transfer_claims_are_gated_per_pathway_and_pooled_over_gated_ones():
    n = 6
    leads = {"svm": [0.05 + 0.002 * i for i in range(n)], "lr": [-0.2] * n}
    gains = {("svm", "mlp"): [0.04 + 0.001 * (i % 3) for i in range(n)],
             ("lr", "mlp"): [-0.15] * n}
    out = finalize(tr.transfer_study_claims(_rows(gains, leads),
                                            delta={"accuracy": {"value": 0.01, "why": "x"}}),
                   power=False)
    v = {c.id: c for c in out}
    assert v["kd>alone@lr>mlp"].verdict == "not testable"
    assert "no better than the mlp alone (held-out gate rows accuracy" in v["kd>alone@lr>mlp"].note
    assert v["kd>alone@svm>mlp"].verdict == "supported"
    # the pooled claim averages the gated pathway only (not the failing lr teacher)
    assert v["kd>alone"].measured == pytest.approx(np.mean(gains[("svm", "mlp")]))
    assert "pathways: svm → mlp" in v["kd>alone"].note
    assert v["cross>same"].verdict == "not testable"  # one gated pathway: nothing to compare
    assert all("=" not in c.id for c in out)
    assert len({c.id for c in out}) == len(out)


def test_students_on_transfer_take_equal_steps_and_equal_grids(monkeypatch):
    sizes = (60, 30, 30, 240, 30)
    t = tr.teacher_outputs(0, "lr", sizes=sizes, folds=2)
    rows = pd.DataFrame(tr.students_on_transfer(0, "lr", [t], sizes=sizes,
                                                kd_grid=[(0.5, 1.0), (0.5, 4.0)],
                                                ls_grid=[0.0, 0.1], epochs=10))
    assert set(rows["arm"]) == {"alone", "self", "oracle", "oof", "kd", "hard", "stack"}
    grids = {"alone": "ε", "oracle": "ε", "stack": "ε", "hard": "ε", "self": "α", "kd": "α",
             "oof": "α"}
    for r in rows.itertuples():
        assert r.config.startswith(grids[r.arm])
    # 60 labelled + 240 transfer rows: 10 · 60 / 300 = 2 epochs, as many steps as 10 on 60
    seen = []
    orig = tr.SoftTargetMLP.fit

    def spy(self, X, y, **kw):
        seen.append((len(X), self.epochs))
        return orig(self, X, y, **kw)

    monkeypatch.setattr(tr.SoftTargetMLP, "fit", spy)
    tr.students_on_transfer(0, "lr", [t], sizes=sizes, kd_grid=[(0.5, 1.0)], ls_grid=[0.0],
                            epochs=10)
    assert set(seen) == {(60, 10), (300, 2)}


def test_unequal_grids_are_refused():
    p = {"transfer_teachers": ["svm"], "transfer_students": ["mlp"],
         "transfer_rows": dict(zip(tr.PARTS, (100, 50, 50, 200, 100))),
         "kd_grid": [[0.5, 1.0], [0.5, 4.0]], "ls_grid": [0.0], "epochs": 5}
    with pytest.raises(ValueError, match="as many"):
        cp.check_transfer_params(p)
    with pytest.raises(ValueError, match="same gradient steps"):
        cp.check_transfer_params({**p, "ls_grid": [0.0, 0.1], "transfer_students": ["rf"]})


def test_innovations_on_transfer_label_the_transfer_rows_and_say_when_power_is_impossible():
    sizes = (100, 30, 30, 300, 50)
    t = tr.teacher_outputs(1, "lr", sizes=sizes, folds=2)
    rows = pd.DataFrame(tr.innovations_on_transfer(1, t, sizes=sizes, student="lr",
                                                   n_clients=3, temperature=2.0, epochs=6,
                                                   clients=("lr_poly", "rf100")))
    assert list(rows["variant"]) == [
        "3 non-IID lr_poly clients (Dirichlet 0.5)", "3 IID lr_poly clients",
        "central lr_poly (same model class)",
        "3 non-IID RF(100), the source's clients (Dirichlet 0.5)",
        "3 IID RF(100), the source's clients", "central RF(100), the source's (same model class)",
        "fixed T0 = 2", "dynamic T = T0 (1 + 0.1 H)"]
    assert list(rows["split"][:6]) == ["non-IID", "IID", "central"] * 2
    # each federated variant records how well its targets label the transfer rows
    assert rows["labelling"].iloc[:6].between(0, 1).all()
    dyn = rows["temperature"].iloc[-1]
    assert 2.0 < dyn <= 2.2  # the source's rule moves T by at most 10 %
    no_teacher = tr.innovations_on_transfer(1, None, sizes=sizes, student="lr",
                                            n_clients=3, temperature=2.0, epochs=6,
                                            clients=("lr_poly", "rf100"))
    assert [r["variant"] for r in no_teacher] == list(rows["variant"][:6])
    many = pd.concat([rows.assign(seed=s, test=rows["test"] + 0.001 * s) for s in range(5)])
    out = {c.id: c for c in tr.innovation_claims(many, None, delta={"accuracy": 0.01})}
    # the first client class carries the plain ids, the others are suffixed with their class
    assert set(out) == {"fed~central", "iid>noniid", "fed~central:rf100", "iid>noniid:rf100",
                        "dynT>fixT"}
    assert out["fed~central"].test.expect == "="
    assert "lr_poly clients" in out["fed~central"].claim
    assert "RF(100)" in out["fed~central:rf100"].claim
    assert "no number of seeds can support" in out["dynT>fixT"].note
    # a central reference whose student falls far below the student alone is no reference:
    # fed~central is not judged against it; the other class's reference is judged on its own
    gate = many.pivot_table(index="seed", columns="variant", values="gate")
    ref = gate["central lr_poly (same model class)"]
    broken = {c.id: c for c in finalize(tr.innovation_claims(
        many, None, delta={"accuracy": 0.01}, alone=ref + 0.2 + 0.001 * ref.index))}
    assert broken["fed~central"].verdict == "not testable"
    assert "the central reference's student is degenerate" in broken["fed~central"].note
    sound = {c.id: c for c in finalize(tr.innovation_claims(
        many, None, delta={"accuracy": 0.01}, alone=ref - 0.05))}
    assert sound["fed~central"].verdict != "not testable"


def test_compatibility_claim_is_per_dataset_with_a_bootstrap_over_seeds():
    paths = [("lr", "mlp"), ("rf", "mlp"), ("svm", "mlp"), ("mlp", "mlp")]
    soft, comp = [], []
    for ds, sign in (("a", 1), ("b", -1)):
        for seed in range(5):
            for k, (t, s) in enumerate(paths):
                c = 0.2 * k + 0.01 * seed
                soft.append({"dataset": ds, "seed": seed, "teacher": t, "student": s,
                             "gain": sign * c + 0.001 * seed})
                comp.append({"dataset": ds, "seed": seed, "teacher": t, "student": s, "C": c})
    out = {c.id: c for c in cp.compat_claims(pd.DataFrame(soft), pd.DataFrame(comp))}
    assert out["compat-predicts@a"].measured == pytest.approx(1.0)
    assert out["compat-predicts@a"].verdict == "supported"
    assert out["compat-predicts@b"].measured == pytest.approx(-1.0)
    assert out["compat-predicts@b"].verdict == "not supported"
    assert "bootstrap over seeds" in out["compat-predicts@a"].note


def test_headline_means_only_the_gated_pathways():
    n = 6
    leads = {"svm": [0.05 + 0.002 * i for i in range(n)], "lr": [-0.2] * n}
    gains = {("svm", "mlp"): [0.04] * n, ("lr", "mlp"): [-0.15] * n}
    text = tr.headline(_rows(gains, leads))
    assert "mean over the 1 pathways whose teacher beats the student on the gate rows +0.0400" \
        in text  # the failing lr teacher's −0.15 is not averaged in


# ---------------------------------------------------------------- a plug-in (tabular-targets)
SEEN = []


def sharpen(proba, seed):
    """A ``tabular-targets`` plug-in for the tests: the teacher's probabilities squared and
    renormalised (sharper targets)."""
    SEEN.append((proba.shape, seed))
    q = proba ** 2
    return q / q.sum(axis=1, keepdims=True)


def broken(proba, seed):
    return proba * 2  # rows sum to 2: not a distribution


PLUGIN = "tests.test_cross_paradigm_study:sharpen"


def test_a_plugin_target_method_is_an_arm_with_the_kd_arms_grid_and_steps():
    import importlib

    sizes = (60, 30, 30, 240, 30)
    t = tr.teacher_outputs(0, "lr", sizes=sizes, folds=2)
    seen = importlib.import_module(PLUGIN.partition(":")[0]).SEEN
    seen.clear()
    rows = pd.DataFrame(tr.students_on_transfer(0, "lr", [t], sizes=sizes,
                                                kd_grid=[(0.5, 1.0), (0.5, 4.0)],
                                                ls_grid=[0.0, 0.1], epochs=10,
                                                methods=(PLUGIN,)))
    assert seen == [((240, 5), 0)]  # the teacher's probabilities on the 240 transfer rows
    mine = rows[rows["arm"] == PLUGIN].iloc[0]
    assert mine["teacher"] == "lr" and mine["config"].startswith("α")
    assert tr.plugin_arms(rows) == [PLUGIN]
    with pytest.raises(ValueError, match="rows are distributions"):
        tr.students_on_transfer(0, "lr", [t], sizes=sizes, kd_grid=[(0.5, 1.0)],
                                ls_grid=[0.0], epochs=2,
                                methods=("tests.test_cross_paradigm_study:broken",))


def test_a_plugin_gets_pooled_claims_against_the_student_and_kd():
    n = 6
    leads = {"svm": [0.05 + 0.002 * i for i in range(n)]}
    gains = {("svm", "mlp"): [0.04 + 0.001 * (i % 3) for i in range(n)]}
    rows = _rows(gains, leads)
    kd = rows[rows["arm"] == "kd"]
    rows = pd.concat([rows, kd.assign(arm=PLUGIN, test=kd["test"] + 0.02)], ignore_index=True)
    out = {c.id: c for c in finalize(tr.transfer_study_claims(
        rows, delta={"accuracy": {"value": 0.01, "why": "x"}}), power=False)}
    assert out[f"{PLUGIN}>kd"].measured == pytest.approx(0.02)
    assert out[f"{PLUGIN}>alone"].verdict == "supported"
    assert out[f"{PLUGIN}>kd"].claim.startswith("sharpen beats KD on the same transfer rows")
    assert out[f"{PLUGIN}>alone"].source_value == "" and \
        "gated pathways: svm → mlp" in out[f"{PLUGIN}>alone"].note


def test_transfer_methods_are_checked_before_a_kernel_starts():
    p = {"transfer_teachers": ["svm"], "transfer_students": ["mlp"],
         "transfer_rows": dict(zip(tr.PARTS, (100, 50, 50, 200, 100))),
         "kd_grid": [[0.5, 1.0]], "ls_grid": [0.0], "epochs": 5}
    cp.check_transfer_params({**p, "transfer_methods": [PLUGIN]})
    with pytest.raises(ValueError, match="transfer_methods: method 'nope.mod:f'"):
        cp.check_transfer_params({**p, "transfer_methods": ["nope.mod:f"]})


def test_the_source_gap_is_decomposed_into_no_teacher_and_teacher_parts_by_hand():
    # seed 0: baseline cross 0.80 / same 0.70 (gap 0.10 without a teacher); stacking cross 0.90
    # / same 0.70: over all procedures cross 0.85, same 0.70, gap 0.15; the teacher part 0.05
    rec = []
    for seed, stack_cross in ((0, 0.90), (1, 0.80)):
        for proc, cross_acc, same_acc in (("baseline", 0.80, 0.70),
                                          ("stacking", stack_cross, 0.70)):
            rec += [{"seed": seed, "dataset": "d", "procedure": proc, "teacher_paradigm": "tree",
                     "student_paradigm": "neural", "accuracy": cross_acc},
                    {"seed": seed, "dataset": "d", "procedure": proc, "teacher_paradigm": "neural",
                     "student_paradigm": "neural", "accuracy": same_acc}]
    g = cp.gap_per_seed(pd.DataFrame(rec))
    assert g.loc[0].to_dict() == pytest.approx({"gap (all procedures)": 0.15,
                                                "gap (baseline, no teacher)": 0.10,
                                                "teacher part": 0.05})
    assert g.loc[1, "teacher part"] == pytest.approx(0.0)
    out = {c.id: c for c in cp.gap_claims(pd.DataFrame(rec), delta={"accuracy": 0.01})}
    assert out["cross-gap:teacher"].measured == pytest.approx(0.025)
    assert out["cross-gap:no-teacher"].measured == pytest.approx(0.10)
    assert out["cross-gap:no-teacher"].family == "descriptive"

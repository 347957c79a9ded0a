import numpy as np
import pandas as pd
import pytest
import torch

from kdkit.claims import finalize
from kdkit.data.splits import split
from kdkit.data.synthetic_interactions import synthetic_interactions
from kdkit.jobs import in_process
from kdkit.recsys.bpr_mf import BPRMF
from kdkit.studies import topology_kd as td
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
    assert out[f"HTD beats FTD for a small student {small}"].verdict == "supported"
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
    # the paper's +18 % / +28 % are size claims held against dim 4 (φ = 1/16, the paper's
    # small-student regime), but on MovieLens-100k they are not testable: the setting differs
    # (kdkit issue 39; they are judged in topology_kd-citeulike, the paper's regime)
    size = out["size:ftd>student@4"]
    assert size.verdict == "not testable" and "MovieLens" in size.note
    assert size.measured is not None  # the measured relative effect is still shown
    assert "size:ftd>student@32" not in out  # φ = 1/2: no logged gain to hold it against
    # "FTD for large students" as the paper's own log shows it
    assert out["log:ftd>htd@large"].verdict == "not supported"
    assert "a tie" in out["log:ftd>htd@large"].note
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


def test_size_claim_whose_runs_exclude_the_papers_gain_is_not_supported():
    """In the paper's setting (CiteULike, teacher 200, student 10, its protocol) per-seed
    relative gains of FTD near 0 (±2 %), far from the paper's +18 %: the size claim is judged
    and rejected, not left open."""
    vals = {}
    for s, e in enumerate([0.01, -0.02, 0.0, 0.02, -0.01, 0.015, -0.005, 0.0]):
        vals |= {(s, "teacher", 200): 0.40, (s, "student", 10): 0.30,
                 (s, "ftd", 10): 0.30 * (1 + e), (s, "htd", 10): 0.30 * (1 - e)}
    out = {c.id: c for c in finalize(claims(_results(vals), M, teacher_dim=200,
                                            citeulike=True, protocol=Protocol()))}
    assert out["size:ftd>student@10"].verdict == "not supported"
    assert out["size:htd>student@10"].verdict == "not supported"


def test_tuning_gives_every_arm_the_same_grid_and_keeps_its_best_validation_point(monkeypatch):
    """A stand-in for training: the validation score is a known function of (arm, lr, wd); one
    point diverges. Every arm (teacher included) sees all 4 points, the best non-diverged one is
    chosen, the KD arms distil the tuned teacher."""
    seen = []

    def fake(spec, seed, method, dim, p, **kw):
        seen.append((method, dim, p.lr, p.weight_decay, kw.get("teacher")))
        if method == "ftd" and p.lr == 0.01:
            raise FloatingPointError("diverged")
        best_lr = {"teacher": 0.01, "student": 0.001, "ftd": 0.01, "htd": 0.001}[method]
        valid = 1.0 - abs(p.lr - best_lr) - p.weight_decay
        return {"row": {"valid": valid, "epochs": 5}, "model": f"model {method} {p.lr}"}

    monkeypatch.setattr(td.topology_jobs, "model_job", fake)
    grid = {"lr": [0.001, 0.01], "weight_decay": [0.0, 0.1]}
    chosen, table = td.tune_settings(None, Protocol(patience=2), in_process(), grid, seed=100,
                                     teacher_dim=64, student_dims=[4, 8],
                                     methods=["student", "ftd", "htd"])
    assert (table.groupby(["method", "dim"]).size() == 4).all() and len(table) == 7 * 4
    assert chosen[("teacher", 64)] == {"lr": 0.01, "weight_decay": 0.0}
    assert chosen[("student", 4)] == {"lr": 0.001, "weight_decay": 0.0}
    assert chosen[("ftd", 8)] == {"lr": 0.001, "weight_decay": 0.0}  # 0.01 diverged
    assert table["diverged"].sum() == 4 and not table.loc[table["diverged"], "chosen"].any()
    assert (table.groupby(["method", "dim"])["chosen"].sum() == 1).all()
    assert {t for m, *_, t in seen if m in ("ftd", "htd")} == {"model teacher 0.01"}
    assert {m for m, *_ in seen if m != "teacher"} == {"student", "ftd", "htd"}


def _tiny():
    log = synthetic_interactions(n_users=60, n_items=50, density=0.2, seed=0)
    return split(log, "loo", name="tiny", seed=0, shape=log.attrs["shape"])


def test_a_run_continued_to_convergence_reports_the_reference_epoch_unchanged():
    """Continuing past the reference run (with HTD's temperature schedule kept on the
    reference length) leaves the epoch-E model exactly as the plain reference run leaves it;
    the converged scores come from the best validation checkpoint."""
    data = _tiny()
    torch.manual_seed(0)
    teacher = BPRMF(data.n_users, data.n_items, 8, init_std=0.1, bias=False)
    ref = Protocol(epochs=3, eval_every=1, k=10, n_groups=2, batch_size=64)
    _, _, plain, _ = td.train_one(data, "htd", 4, ref, teacher=teacher, seed=1)
    model, curve, final, info = td.train_one(
        data, "htd", 4, td.replace(ref, converge_epochs=7, converge_patience=2),
        teacher=teacher, seed=1)
    assert final == plain
    conv = info["converged"]
    assert 3 <= conv["ran"] <= 7 and 1 <= conv["epochs"] <= conv["ran"]
    assert conv["capped"] == (conv["ran"] == 7)
    valid = [c for c in curve if c["split"] == "valid"]
    assert max(c[M.replace("50", "10")] for c in valid) == pytest.approx(conv["valid"])
    assert np.isfinite(conv["final"]["Recall@10"])


def test_tuning_at_one_size_applies_each_methods_choice_at_every_size(monkeypatch):
    def fake(spec, seed, method, dim, p, **kw):
        valid = {"teacher": 0.5, "student": 0.4, "ftd": 0.45}[method] - abs(p.lr - 0.01)
        return {"row": {"valid": valid, "epochs": 5}, "model": "teacher model"}

    monkeypatch.setattr(td.topology_jobs, "model_job", fake)
    chosen, table = td.tune_settings(None, Protocol(patience=2), in_process(),
                                     {"lr": [0.001, 0.01]}, seed=100, teacher_dim=64,
                                     student_dims=[4], methods=["student", "ftd"],
                                     apply_dims=[2, 4, 8])
    assert set(table["dim"]) == {64, 4}  # trained at the tuning size only
    assert {k for k in chosen} == {("teacher", 64), *((m, d) for m in ("student", "ftd")
                                                       for d in (2, 4, 8))}
    assert all(c == {"lr": 0.01} for c in chosen.values())


def test_claims_on_the_users_of_each_reading_and_their_converged_twins(monkeypatch):
    """A study run to convergence: every direction claim comes twice (the reported epoch and
    ``…/converged``), each on the seeds × users matrix of its reading, whose mean is the
    seed-level mean difference (a user's scores average to the row's metric)."""
    monkeypatch.setattr(td.topology_jobs, "load", lambda spec, seed: _tiny())
    p = Protocol(epochs=2, eval_every=1, patience=0, k=10, n_groups=2, batch_size=64,
                 converge_epochs=4, converge_patience=1)
    results, _, _, users = td.capacity_study(None, p, in_process(), teacher_dim=8,
                                             student_dims=[4], methods=["student", "ftd"],
                                             seeds=[0, 1])
    assert {k[2] for k in users} == {"teacher", "student", "ftd"}
    out = {c.id: c for c in claims(results, "Recall@10", teacher_dim=8, citeulike=False,
                                   protocol=p, users=users)}
    assert {"ftd>student@4", "ftd>student@4/converged"} <= set(out)
    for reading, col in (("reported", "Recall@10"), ("converged", "converged Recall@10")):
        d = td.user_matrix(users, "ftd", "student", 4, [0, 1], "Recall@10", reading=reading)
        assert d.shape == (2, 60)
        by_seed = results.pivot_table(index="seed", columns="method", values=col)
        assert np.nanmean(d, axis=1) == pytest.approx(by_seed["ftd"] - by_seed["student"],
                                                      abs=1e-6)
        c = out["ftd>student@4" + ("/converged" if reading == "converged" else "")]
        assert c.measured == pytest.approx(np.nanmean(d), abs=1e-9)
        assert "seed × user t interval over 2 seeds and 60 users" in c.note
    assert "converged reading" in out["ftd>student@4/converged"].claim
    assert td.user_matrix({}, "ftd", "student", 4, [0], "Recall@10") is None  # no users kept
    ids = td.claim_ids({"methods": ["student", "ftd", "htd"], "student_dims": [4],
                        "teacher_dim": 64, "converge_epochs": 400})
    assert "htd>ftd@4/converged" in ids and "size:htd>student@4" in ids


def test_tuning_over_two_seeds_goes_off_the_grid_edge_by_one_rule(monkeypatch):
    """Two tuning seeds: each point is scored by its mean; seed 101 favours lr 0.001 strongly
    enough that the mean picks it, where seed 100 alone would pick 0.01. Its choice sits on
    the lower lr edge, so the grid grows one step down (0.001 / 10 = 1e-4: a log axis) on both
    seeds, and again (1e-5), and the student's best lies at 1e-4; the teacher's choice is
    inside no edge it can leave (weight decay at its limit 0), so nothing more is trained."""
    seen = []

    def fake(spec, seed, method, dim, p, **kw):
        seen.append((method, seed, p.lr, p.weight_decay, kw.get("teacher")))
        if method == "teacher":
            valid = 1.0 - abs(p.lr - 0.01) - p.weight_decay
        else:
            target = 1e-4 if seed == 101 else 0.01
            valid = 1.0 - abs(p.lr - target) * (100 if seed == 101 else 1) - p.weight_decay
        return {"row": {"valid": valid, "epochs": 5}, "model": f"teacher {p.lr} seed {seed}"}

    monkeypatch.setattr(td.topology_jobs, "model_job", fake)
    grid = {"lr": [0.001, 0.01], "weight_decay": [0.0, 0.1]}
    chosen, table = td.tune_settings(None, Protocol(patience=2), in_process(), grid,
                                     seed=[100, 101], teacher_dim=64, student_dims=[4],
                                     methods=["student", "ftd"], extend_edges=2,
                                     limits={"weight_decay": (0.0, 1.0), "lr": (1e-6, 1.0)})
    assert chosen[("student", 4)] == {"lr": pytest.approx(1e-4), "weight_decay": 0.0}
    student = table[table["method"] == "Student alone"]
    assert sorted(student["lr"].unique()) == pytest.approx([1e-5, 1e-4, 0.001, 0.01])
    assert set(student["extension"]) == {0, 1, 2} and set(student["tuning seed"]) == {100, 101}
    assert (student.groupby("lr").size() == 4).all()  # every point on both seeds, both wd
    assert not student["edge"].any()                  # 1e-4 is inside the grown grid
    teacher = table[table["method"] == "Teacher"]
    # the teacher's lr 0.01 is on the upper edge: it grows to 0.1 once, and 0.01 stays best
    assert chosen[("teacher", 64)] == {"lr": 0.01, "weight_decay": 0.0}
    assert sorted(teacher["lr"].unique()) == pytest.approx([0.001, 0.01, 0.1])
    # each seed's KD students distil that seed's teacher at the teacher's chosen point
    assert {(s, t) for m, s, *_, t in seen if m == "ftd"} == {
        (100, "teacher 0.01 seed 100"), (101, "teacher 0.01 seed 101")}

"""fisher_layerwise pieces worked by hand: the popularity floor, the teacher-state KD terms, the
validation halves and the gates judged on the held-out half."""

import numpy as np
import pytest
import torch

from kdkit.data.sequences import SequenceData
from kdkit.distill.layerwise import LayerwiseKD
from kdkit.studies import fisher_jobs
from kdkit.studies.fisher_layerwise import TeacherStates, popularity


def test_popularity_ranks_by_training_counts_with_history_masked():
    d = SequenceData(train=[[1, 2, 1], [3]], valid_target=np.array([3, 4]),
                     test_target=np.array([3, 4]), n_items=4, item_titles={}, name="t")
    # counts: item 1: 2, items 2 and 3: 1, item 4: 0.
    # user 0 saw 1, 2 -> target 3 is first among {3, 4}: rank 0.
    # user 1 saw 3 -> target 4 is behind items 1 and 2: rank 2.
    m = popularity(d, np.array([[1, 2], [0, 3]]), np.array([3, 4]))  # seen items
    assert m["NDCG@5"] == pytest.approx((1 + 1 / np.log2(4)) / 2)
    assert m["MRR"] == pytest.approx((1 + 1 / 3) / 2)
    assert m["Recall@10"] == 1.0


def _identity_kd(dim, teacher_layers=1):
    kd = LayerwiseKD(dim, dim, [1.0], teacher_layers, gamma=2.0)
    with torch.no_grad():
        kd.proj[0].weight.copy_(torch.eye(dim))
        kd.proj[0].bias.zero_()
    return kd


def test_kd_terms_every_position_by_hand():
    kd = _identity_kd(2)
    seq = torch.tensor([[0, 5, 6, 7]])  # inputs [0, 5, 6]: the first position is padding
    s = [torch.tensor([[[9.0, 9.0], [1.0, 0.0], [0.0, 2.0]]])]
    t = TeacherStates([torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])],
                      torch.zeros(1, 3, 2), torch.zeros(8, 2))
    # real positions 1 and 2: squared errors 1 + 4 over 2 positions x 2 dims, times gamma 2
    loss = t.kd_terms(kd, torch.tensor([0]), seq, s, torch.zeros(1, 3, 8))
    assert loss.item() == pytest.approx(2 * 5 / 4)


def test_kd_terms_last_position_only_ignore_earlier_positions():
    kd = _identity_kd(2)
    seq = torch.tensor([[0, 5, 6, 7]])
    t = TeacherStates([torch.tensor([[[1.0, 1.0]]])], torch.zeros(1, 1, 2), torch.zeros(8, 2),
                      last_only=True)
    a = [torch.tensor([[[9.0, 9.0], [1.0, 0.0], [0.0, 3.0]]])]
    b = [torch.tensor([[[0.0, 0.0], [7.0, 7.0], [0.0, 3.0]]])]
    la = t.kd_terms(kd, torch.tensor([0]), seq, a, torch.zeros(1, 3, 8))
    lb = t.kd_terms(kd, torch.tensor([0]), seq, b, torch.zeros(1, 3, 8))
    assert la.item() == pytest.approx(2 * (1 + 4) / 2) == lb.item()


def test_shuffled_control_permutes_whole_windows_of_the_same_length_reproducibly():
    h = torch.arange(40, dtype=torch.float32).reshape(10, 2, 2)
    lengths = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2]
    t = TeacherStates([None, h], h + 100, torch.zeros(3, 2))
    a, b = t.shuffled(3, lengths), t.shuffled(3, lengths)
    assert a.hidden[0] is None and torch.equal(a.hidden[1], b.hidden[1])
    assert not torch.equal(a.hidden[1], h)
    # the same windows, reordered among those of equal length, hidden and final together
    perm = [int(r[0, 0]) // 4 for r in a.hidden[1]]
    assert sorted(perm) == list(range(10))
    assert all(lengths[i] == lengths[j] for i, j in enumerate(perm))
    assert torch.equal(a.final, h[perm] + 100)


def test_control_claim_is_not_judged_when_the_control_hurts():
    import pandas as pd

    from kdkit.claims import finalize
    from kdkit.studies.fisher_layerwise import ALONE, _control_claim, control_name, gates_for
    name = control_name("untrained")
    rows = []
    for seed, (alone, uni, ctrl) in enumerate([(0.020, 0.027, 0.008), (0.022, 0.026, 0.009),
                                               (0.021, 0.028, 0.0085), (0.020, 0.029, 0.008),
                                               (0.023, 0.027, 0.0095)]):
        for model, v in (("teacher", 0.03), (ALONE, alone), ("uniform", uni), (name, ctrl)):
            rows.append({"seed": seed, "model": model, "NDCG@5": v, "valid NDCG@5": v,
                         "gate NDCG@5": v})
    res = pd.DataFrame(rows)
    teach, _ = gates_for(res, name)
    c = finalize([_control_claim(res, name, teach)])[0]
    assert c.measured > 0 and c.verdict == "inconclusive" and "itself hurts" in c.note
    harmless = res.assign(**{col: [v + 0.012 if m == name else v for m, v in
                                   zip(res["model"], res[col])]
                             for col in ("NDCG@5", "valid NDCG@5", "gate NDCG@5")})
    c = finalize([_control_claim(harmless, name, teach)])[0]
    assert c.verdict == "supported" and "itself hurts" not in c.note
    # the weighting claims' gate: beating a control that hurts the student is no evidence
    # that the KD carries the teacher's knowledge (the 2026-12-03 synthetic run's case)
    _, ctrl = gates_for(res, name)
    assert not ctrl.ok and "itself hurts" in ctrl.reason
    assert gates_for(harmless, name)[1].ok


def test_standardized_states_have_unit_rms_over_real_positions():
    h = torch.zeros(2, 3, 4)
    h[:, 1:] = 5.0
    t = TeacherStates([None, h], h, torch.zeros(3, 4)).standardized()
    assert t.hidden[0] is None
    real = t.hidden[1][:, 1:]
    assert torch.allclose(real.square().mean(), torch.tensor(1.0))
    assert (t.hidden[1][:, 0] == 0).all()


def test_validation_halves_split_the_users_and_mask_only_training_items():
    d = SequenceData(train=[[1, 2], [3], [4, 5, 6], [2], [5, 1]],
                     valid_target=np.array([7, 8, 9, 7, 8]), test_target=np.array([9, 7, 8, 9, 7]),
                     n_items=9, item_titles={}, name="t")
    select, gate = d.users("valid"), d.users("gate")
    assert len(np.intersect1d(select, gate)) == 0
    assert sorted(np.concatenate([select, gate])) == list(range(5))
    np.testing.assert_array_equal(d.users("valid-all"), range(5))
    for split, users in (("valid", select), ("gate", gate)):
        inputs, targets, seen = d.evaluation(split, 2)
        np.testing.assert_array_equal(targets, d.valid_target[users])  # validation targets
        for u, row in zip(users, seen):  # the training items only: never the test item
            assert sorted(int(i) for i in row if i) == sorted(d.train[u])
    _, targets, seen = d.evaluation("test", 2)
    assert len(targets) == 5 and all(d.valid_target[u] in seen[u] for u in range(5))


def test_gates_read_the_held_out_half_not_the_selected_maxima():
    """A teacher that wins only at the best point of the validation curves (the select half)
    fails the gate on the held-out half, and the transfer claims it guards are not judged."""
    import pandas as pd

    from kdkit.claims import finalize
    from kdkit.studies.fisher_layerwise import ALONE, claims, control_name, gates_for
    name = control_name("untrained")
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(6):
        noise = rng.normal(0, 0.0005, 4)
        for i, (model, test, valid, gate) in enumerate(
                (("teacher", 0.040, 0.050, 0.030), (ALONE, 0.035, 0.040, 0.031),
                 ("uniform", 0.041, 0.045, 0.032), ("fisher", 0.042, 0.046, 0.032),
                 (name, 0.036, 0.041, 0.031))):
            rows.append({"seed": seed, "model": model, "NDCG@5": test + noise[i % 4],
                         "valid NDCG@5": valid + noise[i % 4], "gate NDCG@5": gate + noise[0]})
    res = pd.DataFrame(rows)
    teach, _ = gates_for(res, name)
    assert not teach.ok and "held-out validation" in teach.reason
    on_maxima, _ = gates_for(res.assign(**{"gate NDCG@5": res["valid NDCG@5"]}), name)
    assert on_maxima.ok  # the old gate (validation maxima) would have passed
    fishers = pd.DataFrame({"seed": range(6), "layer 1": 2.0, "layer 2": 1.0})
    sizes = pd.DataFrame([{"model": "teacher", "parameters": 100, "ms per user": 2.0},
                          {"model": "student", "parameters": 10, "ms per user": 1.0}])
    table = {c.id: c for c in finalize(claims(res, fishers, sizes, delta={"NDCG@5": 0.001}),
                                       primary=["fisher>uniform", "teacher>alone"])}
    assert table["kd>alone"].verdict == "not testable"
    assert table["fisher>uniform"].verdict == "not testable"
    assert table["fisher>uniform"].family == "primary"
    assert table["teacher>alone"].verdict == "supported"  # on test, no gate
    assert table["fisher>uniform:+8%"].verdict == "not testable"
    assert "Amazon" in table["fisher>uniform:+8%"].note
    assert table["speedup"].family == "descriptive" == table["smaller"].family


def test_choose_takes_the_best_validation_point_earliest_on_ties_never_a_diverged_one():
    from kdkit.studies.fisher_layerwise import METRIC, choose
    trials = [{"valid": {METRIC: v}} for v in (float("nan"), 0.3, 0.5, 0.5)]
    assert choose(trials) == 2
    with pytest.raises(FloatingPointError):
        choose([{"valid": {METRIC: float("nan")}, "diverged": "loss = nan"}])


# --- the redesign of issue 22: the loss as a parameter, the schedule's ceiling, the setting
# --- check and the Fisher profile restated as what it measures

def _tiny(monkeypatch, **kw):
    from kdkit.studies import fisher_layerwise as fl
    from tests.test_lm_teacher import _tiny_data, _tiny_params, use_data
    use_data(monkeypatch, _tiny_data())
    return fl, _tiny_params(**kw)


@pytest.mark.parametrize("given, used", [({"loss": "bce"}, "bce"), ({"loss": "softmax"}, "softmax"),
                                         ({}, "softmax")])
def test_the_loss_param_reaches_next_item_loss(monkeypatch, given, used):
    """Every SASRec of the study (teacher and students) trains on ``p['loss']``; parameter
    sets without it get the softmax cross-entropy."""
    fl, p = _tiny(monkeypatch, max_epochs=1, **given)
    seen = []
    real = fisher_jobs.next_item_loss

    def spy(*a, **k):
        seen.append(k["loss"])
        return real(*a, **k)
    monkeypatch.setattr(fisher_jobs, "next_item_loss", spy)
    fl.check_params(p)
    fl.teacher_trial(p, 0, 0.0)
    fl.arm_job(p, 0, "student (no KD)", dropouts=[0.0])
    fl.arm_job(p, 0, "uniform", teacher=fl.control_teacher(p, 0), fisher=[1.0, 1.0],
               gammas=[0.1])
    assert seen and set(seen) == {used}


def test_an_unknown_loss_is_refused(monkeypatch):
    fl, p = _tiny(monkeypatch, loss="hinge")
    with pytest.raises(ValueError, match="loss: unknown 'hinge'"):
        fl.check_params(p)


def test_a_run_ends_at_max_epochs_only_when_early_stopping_never_ended_it(monkeypatch):
    from kdkit.studies.fisher_layerwise import ended_at_max
    assert ended_at_max([(1, 0.1), (2, 0.2), (3, 0.3)], 3)
    assert not ended_at_max([(1, 0.3), (2, 0.2)], 3)  # stopped at 2 of 3
    assert not ended_at_max([], 3)
    # a run with more patience than epochs goes on to the ceiling; one with patience 1 and a
    # falling curve stops first (the tiny data's curve is whatever it is: force one)
    fl, p = _tiny(monkeypatch, max_epochs=3, patience=5)
    t = fl.teacher_trial(p, 0, 0.0)
    assert t["ran"] == 3 and t[fl.ENDED]
    scores = iter([0.5, 0.4, 0.3])
    monkeypatch.setattr(fisher_jobs, "rank_metrics", lambda *a, **k: {fl.METRIC: next(scores, 0.2)})
    t = fl.teacher_trial({**p, "patience": 1}, 0, 0.0)
    assert t["ran"] == 2 and not t[fl.ENDED] and t["epochs"] == 1


def test_schedule_table_counts_runs_that_went_on_to_max_epochs():
    import pandas as pd

    from kdkit.studies.fisher_layerwise import ENDED, schedule_table
    runs = pd.DataFrame([
        {"model": "teacher", "epochs": 20, "ran": 26, ENDED: False},
        {"model": "teacher", "epochs": 40, "ran": 40, ENDED: True},
        {"model": "uniform", "epochs": 10, "ran": 16, ENDED: False},
        {"model": "uniform", "epochs": 12, "ran": 18, ENDED: False},
        {"model": "uniform", "epochs": 38, "ran": 40, ENDED: True},
        {"model": "minilm head", "epochs": 20, "ran": 20, ENDED: None},  # no early stopping
    ])
    t = schedule_table(runs, 40).set_index("model")
    assert t.loc["teacher", "runs"] == 2 and t.loc["teacher", ENDED] == 1
    assert t.loc["uniform", "runs"] == 3 and t.loc["uniform", ENDED] == 1
    assert t.loc["uniform", "best epoch (median)"] == 12
    assert t.loc["uniform", "stopped at (max)"] == 40
    assert t.loc["minilm head", ENDED] == 0
    assert (t["max_epochs"] == 40).all()


def test_teacher_teaches_needs_the_gap_and_the_ratio():
    from kdkit.studies.fisher_layerwise import teacher_teaches
    assert teacher_teaches(0.085, 0.047, 0.030)        # gap 0.038, 2.8x popularity
    assert not teacher_teaches(0.055, 0.050, 0.030)    # gap 0.005 < 0.01
    assert not teacher_teaches(0.044, 0.030, 0.030)    # 1.47x < 1.5x popularity
    assert teacher_teaches(0.044, 0.030, 0.030, min_ratio=1.4)


def test_setting_table_by_hand():
    import pandas as pd

    from kdkit.studies.fisher_layerwise import ALONE, setting_table
    res = pd.DataFrame([{"seed": s, "model": m, "gate NDCG@5": g, "NDCG@5": t}
                        for s, rows in enumerate([[("teacher", 0.09, 0.08), (ALONE, 0.05, 0.04)],
                                                  [("teacher", 0.07, 0.06), (ALONE, 0.05, 0.04)]])
                        for m, g, t in rows])
    popular = pd.DataFrame([{"seed": s, "split": sp, "NDCG@5": v} for s in (0, 1)
                            for sp, v in (("gate", 0.04), ("test", 0.03))])
    t = setting_table(res, popular)
    gate, test = t.iloc[0], t.iloc[1]
    assert gate["teacher"] == pytest.approx(0.08) and gate[ALONE] == pytest.approx(0.05)
    assert gate["teacher / popularity"] == pytest.approx(2.0)
    assert test["teacher − alone"] == pytest.approx(0.03)
    assert gate.iloc[-1] and test.iloc[-1]  # gap ≥ 0.01 and ≥ 1.5× popularity on both


def _fisher_inputs(teacher_gate_values, pop=0.03, n=6):
    import pandas as pd

    from kdkit.studies.fisher_layerwise import ALONE
    rows = [{"seed": s, "model": m, "NDCG@5": v, "valid NDCG@5": v, "gate NDCG@5": v}
            for s in range(n) for m, v in (("teacher", teacher_gate_values[s]), (ALONE, 0.02))]
    popular = pd.DataFrame([{"seed": s, "split": sp, "NDCG@5": pop} for s in range(n)
                            for sp in ("gate", "test")])
    # layers 1-4: lower half 1 + 1, upper half 2 + 4 on every seed (ratio 3, spread 4)
    fishers = pd.DataFrame({"seed": range(n), "layer 1": 1.0, "layer 2": 1.0, "layer 3": 2.0,
                            "layer 4": 4.0})
    return pd.DataFrame(rows), fishers, popular


def test_fisher_profile_is_a_descriptive_measurement_of_this_teacher():
    from kdkit.claims import finalize
    from kdkit.studies.fisher_layerwise import _fisher_claims, popularity_gate
    res, fishers, popular = _fisher_inputs([0.08, 0.081, 0.079, 0.082, 0.08, 0.078])
    gate = popularity_gate(res, popular)
    assert gate.ok and "most-popular" in gate.reason
    ratio, spread = finalize(_fisher_claims(fishers, "sasrec", gate))
    assert ratio.id == "upper>lower" and ratio.family == "descriptive"
    assert ratio.measured == pytest.approx(3.0)  # (2 + 4) / (1 + 1) on every seed
    assert "this teacher" in ratio.note and "4 layers" in ratio.claim
    assert spread.id == "upper>lower:50x" and spread.family == "descriptive"
    assert spread.measured == pytest.approx(4.0)  # largest (4) over smallest (1) layer
    assert spread.verdict == "not testable" and "not a measured" in spread.note


def test_fisher_profile_of_a_teacher_below_popularity_is_not_judged():
    """The MiniLM case of issue 22: a teacher below the popularity floor on held-out
    validation (0.0239 vs 0.0294) must not have its Fisher profile called supported."""
    from kdkit.claims import finalize
    from kdkit.studies.fisher_layerwise import _fisher_claims, popularity_gate
    res, fishers, popular = _fisher_inputs([0.0239, 0.024, 0.0238, 0.0241, 0.0239, 0.0237],
                                           pop=0.0294)
    gate = popularity_gate(res, popular)
    assert not gate.ok
    ratio = finalize(_fisher_claims(fishers, "minilm", gate))[0]
    assert ratio.verdict == "not testable" and "most-popular" in ratio.note
    assert not popularity_gate(res, None).ok  # no floor given: not judged either


def test_sasrec_softmax_starts_near_the_uniform_loss():
    """The item embeddings start N(0, 1/d) (recsys.sasrec): the first full-softmax loss is
    close to ln(n_items), not √d standard deviations of score above it."""
    from kdkit.recsys.sasrec import SASRec, next_item_loss
    torch.manual_seed(0)
    n = 500
    for dim in (16, 64):
        m = SASRec(n, dim, 2, 2, max_len=10, dropout=0.0)
        seq = torch.randint(1, n + 1, (32, 11))
        loss, _, _ = next_item_loss(m, seq, loss="softmax")
        assert abs(loss.item() - np.log(n)) < 1.0
        assert (m.item.weight[0] == 0).all()


def test_every_kd_arm_trains_at_the_student_alones_chosen_dropout(monkeypatch):
    """Issue 22's fairness fix: KD and no KD differ only in the KD term. The student alone
    picks dropout on the first seed; every KD arm (schemes and the control) then trains at that
    value on every seed, whatever the params' ``dropout``."""
    from kdkit.jobs import Runner
    fl, p = _tiny(monkeypatch, max_epochs=1, dropout=0.2, student_dropouts=[0.0, 0.1])
    built = []
    real = fisher_jobs.SASRec

    class Spy(real):
        def __init__(self, n_items, dim, *a, **k):
            super().__init__(n_items, dim, *a, **k)
            built.append((dim, a[-1] if a else k.get("dropout")))
    monkeypatch.setattr(fisher_jobs, "SASRec", Spy)
    t = fl.run(p, Runner(progress=False), progress=None)
    res = t["results"]
    alone = res.loc[(res["model"] == fl.ALONE) & (res["seed"] == 0), "dropout"].iloc[0]
    kd = res[~res["model"].isin(["teacher", fl.ALONE])]
    # 2 seeds × (uniform, fisher, the control, the control at uniform's γ)
    assert len(kd) == 8 and set(kd["dropout"]) == {alone}
    # every student built for a KD arm had that dropout (the student alone built both values)
    student = [d for dim, d in built if dim == p["student_dim"]]
    assert set(student) <= {0.0, 0.1} and 0.2 not in student


def test_the_synthetic_dataset_param_is_checked(monkeypatch):
    fl, p = _tiny(monkeypatch, dataset="yelp")
    with pytest.raises(ValueError, match="dataset: unknown 'yelp'; allowed: ml-100k, synthetic"):
        fl.check_params(p)
    q = {**p, "dataset": "synthetic", "teacher": "minilm", "synthetic_users": 10,
         "synthetic_items": 20, "synthetic_length": 5, "synthetic_rank": 4,
         "synthetic_signal": 1.0, "synthetic_memory": 0.5}
    with pytest.raises(ValueError, match="teacher minilm reads item titles"):
        fl.check_params(q)
    with pytest.raises(ValueError, match=r"synthetic_memory must lie in \[0, 1\)"):
        fl.check_params({**q, "teacher": "sasrec", "synthetic_memory": 1.0})


def test_data_for_draws_the_synthetic_set_of_the_seed():
    from kdkit.studies import fisher_layerwise as fl
    p = {"dataset": "synthetic", "data_seed": None, "synthetic_users": 30,
         "synthetic_items": 40, "synthetic_length": 8.0, "synthetic_rank": 4,
         "synthetic_signal": 2.0, "synthetic_memory": 0.5}
    a, b, c = fl.data_for(p, 0), fl.data_for(p, 0), fl.data_for(p, 1)
    assert a.train == b.train and a.train != c.train
    assert len(a.train) == 30 and a.n_items <= 40 and a.ties["same-timestamp interactions"] == 0
    fixed = {**p, "data_seed": 3}
    assert fl.data_for(fixed, 0).train == fl.data_for(fixed, 1).train


def test_a_transfer_set_hides_next_items_from_the_students_only(monkeypatch):
    """labelled_fraction < 1: the students learn the next items of that share of the users
    (whole users, the same ones for every arm of a seed) and read every window for the KD
    term; the teacher learns from every window."""
    fl, p = _tiny(monkeypatch, max_epochs=1, labelled_fraction=0.5)
    fl.check_params(p)
    seen = []
    real = fisher_jobs.next_item_loss

    def spy(model, seq, **k):
        seen.append((None if k["labelled"] is None else k["labelled"].clone(), len(seq)))
        return real(model, seq, **k)
    monkeypatch.setattr(fisher_jobs, "next_item_loss", spy)
    fl.teacher_trial(p, 0, 0.0)
    assert seen and all(lab is None for lab, _ in seen)
    seen.clear()
    fl.arm_job(p, 0, "student (no KD)", dropouts=[0.0])
    alone = torch.cat([lab for lab, _ in seen])
    seen.clear()
    fl.arm_job(p, 0, "uniform", teacher=fl.control_teacher(p, 0), fisher=[1.0, 1.0],
               gammas=[0.1])
    kd = torch.cat([lab for lab, _ in seen])
    data = fl.data_for(p, 0)
    expected = data.labelled(p["max_len"], 0.5, 0)
    assert 0 < expected.mean() < 1
    # one epoch each: every window read once, labelled as the split says (in batch order)
    assert len(alone) == len(kd) == len(expected)
    assert int(alone.sum()) == int(kd.sum()) == int(expected.sum())
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"labelled_fraction must lie in \(0, 1\]"):
            fl.check_params({**p, "labelled_fraction": bad})


def test_the_interval_covers_users_only_where_each_seed_draws_its_own():
    from kdkit.studies.fisher_layerwise import users_design

    assert users_design("synthetic", None) == "nested"
    assert users_design("synthetic", 7) == "shared"
    assert users_design("ml-100k", None) == "shared"
    assert users_design("file", None) == "shared"


def test_both_regimes_share_the_teachers_and_tune_on_a_seed_no_claim_uses(monkeypatch):
    """Issue 39.3: labelled shares {0.5, 1.0}, tuned on seed 9 only: every grid ran on seed 9,
    no result row reads it; both regimes use the same teachers; each regime's claims end with
    its share, the teacher's descriptive rows appear once, and the interaction is claimed."""
    from kdkit.claims import finalize
    from kdkit.jobs import Runner

    fl, p = _tiny(monkeypatch, max_epochs=1, labelled_fractions=[0.5, 1.0], tune_seed=9,
                  data_seed=None)
    fl.check_params(p)
    t = fl.run(p, Runner(progress=False), progress=None)
    res, trials = t["results"], t["trials"]
    assert sorted(res["regime"].unique()) == [0.5, 1.0]
    assert 9 not in set(res["seed"]) and set(trials["seed"]) == {9}
    teach = res[res["model"] == "teacher"].set_index(["regime", "seed"])[fl.METRIC]
    assert teach.loc[0.5].tolist() == teach.loc[1.0].tolist()
    alone = res[res["model"] == fl.ALONE].set_index(["regime", "seed"])[fl.METRIC]
    assert alone.loc[0.5].tolist() != alone.loc[1.0].tolist()   # the share reaches the students
    rows = finalize(fl.regime_claims(res, t["fishers"], t["sizes"], delta={
        fl.METRIC: {"value": 0.01, "why": "test"}}, users="nested"), power=False)
    ids = [c.id for c in rows]
    assert {"fisher>uniform@0.5", "fisher>uniform@1", "kd>control:same-γ@0.5",
            "fisher-uniform:regime"} <= set(ids)
    assert ids.count("upper>lower") == 1 and "upper>lower@0.5" not in ids
    assert len(ids) == len(set(ids))
    # what claim_ids promises (the runner checks declared primaries against it) is what ran
    assert {c.id for c in rows if c.family != "descriptive"} == set(fl.claim_ids(p))
    assert set(fl.claim_ids({**p, "labelled_fractions": None})) == {
        "fisher>uniform", "fisher>uniform:+8%", "kd>alone", "teacher>alone", "kd>control",
        "kd>control:same-γ"}


def test_a_tuning_seed_among_the_verdict_seeds_and_bad_shares_are_refused(monkeypatch):
    fl, p = _tiny(monkeypatch)
    with pytest.raises(ValueError, match="tune_seed 1 is also a verdict seed"):
        fl.check_params({**p, "tune_seed": 1})
    with pytest.raises(ValueError, match="labelled_fractions"):
        fl.check_params({**p, "labelled_fractions": [0.2, 1.5]})
    with pytest.raises(ValueError, match="labelled_fractions"):
        fl.check_params({**p, "labelled_fractions": [0.2, 0.2]})


@pytest.mark.parametrize("extend, grid", [(0, [0.0, 0.1]), (1, [0.0, 0.1, 0.2])])
def test_the_teachers_grid_grows_off_the_edge_its_choice_sits_on(monkeypatch, extend, grid):
    """Validation rises with dropout here, so the choice sits on the grid's top edge: with
    extend_edges 1 the teacher's grid grows one step (0.1) beyond it, by the rule every arm's
    grid follows (kdkit.tuning.off_edge); with 0 it does not."""
    from kdkit.jobs import Runner
    from kdkit.studies import fisher_jobs

    fl, p = _tiny(monkeypatch, max_epochs=1, extend_edges=extend)
    real = fisher_jobs.rank_metrics

    def by_dropout(model, *a, name="", **k):
        out = real(model, *a, name=name, **k)
        if name.startswith("SASRec teacher") and "dropout" in name:
            out[fl.METRIC] = float(name.rsplit("dropout ", 1)[1])
        return out
    monkeypatch.setattr(fisher_jobs, "rank_metrics", by_dropout)
    t = fl.run(p, Runner(progress=False), progress=None)
    tried = t["trials"].loc[t["trials"]["model"] == "teacher", "dropout"].tolist()
    assert tried == grid


def test_regimes_run_their_stages_together_and_each_gets_its_own_results():
    # kdkit issue 34: the two regimes' stages share one batch (the student alone's grid is one
    # job a regime: one after the other, a worker idled), and each regime must still receive
    # exactly its own jobs' results, also when one regime has fewer stages than the other.
    from kdkit.studies.fisher_layerwise import _in_step

    class Recorder:
        batches = []

        def run(self, jobs, desc):
            self.batches.append((list(jobs), desc))
            return [j.upper() for j in jobs]

    def regime(name, stages):
        got = []
        for k in range(stages):
            got.append((yield [f"{name}{k}-{i}" for i in range(k + 1)], f"stage {k}"))
        return name, got

    runner = Recorder()
    out = _in_step(runner, [regime("a", 2), regime("b", 3)])
    assert out == [("a", [["A0-0"], ["A1-0", "A1-1"]]),
                   ("b", [["B0-0"], ["B1-0", "B1-1"], ["B2-0", "B2-1", "B2-2"]])]
    assert [b for b, _ in runner.batches] == [["a0-0", "b0-0"], ["a1-0", "a1-1", "b1-0", "b1-1"],
                                             ["b2-0", "b2-1", "b2-2"]]
    assert [d for _, d in runner.batches] == ["stage 0 (2 regimes)", "stage 1 (2 regimes)",
                                             "stage 2"]

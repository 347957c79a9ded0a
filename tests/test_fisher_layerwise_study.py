"""fisher_layerwise pieces worked by hand: the popularity floor, the teacher-state KD terms, the
validation halves and the gates judged on the held-out half."""

import numpy as np
import pytest
import torch

from kdkit.data.sequences import SequenceData
from kdkit.distill.layerwise import LayerwiseKD
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

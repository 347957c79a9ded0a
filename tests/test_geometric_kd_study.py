"""geometric_kd's claims: the teacher gate is judged on a held-out training subject, never on
the test subjects."""

import numpy as np
import pandas as pd

from kdkit.claims import finalize
from kdkit.data.skeleton import SkeletonSet
from kdkit.studies import geometric_kd as gk

SEEDS = list(range(6))
ARMS = list(gk.STUDENTS)


def _rows(rng):
    return pd.DataFrame([{"seed": s, "student": a, "accuracy": 0.6 + rng.normal(0, 0.02),
                          "ms_per_sample": 0.5} for s in SEEDS for a in ARMS])


def _teachers(test_acc):
    return [{"seed": s, "teacher": {"acc_test": {1: test_acc[i]}, "ms_per_sample": 5.0},
             "normalized": {"acc_test": {1: test_acc[i]}}} for i, s in enumerate(SEEDS)]


def _stats():
    return pd.DataFrame({"targets": ["source (T = 3)"] * len(SEEDS),
                         "mean max prob": [0.12] * len(SEEDS)})


def _gate(teacher, student):
    return pd.DataFrame({"seed": SEEDS, "held-out subject": [1, 2, 1, 2, 1, 2],
                         "1-NN teacher": teacher, "CE student": student})


def _verdicts(gate, test_acc):
    rng = np.random.default_rng(0)
    out = gk.claims(_rows(rng), _teachers(test_acc), _stats(), 9, gate=gate, utd=False,
                    temperature=3.0, delta={"accuracy": 0.02})
    return {c.id: c for c in finalize(out, primary=["kd>ce@src", "teacher>ce"], power=False)}


def test_gate_reads_the_held_out_subject_not_the_test_accuracies():
    # the teacher wins on test by 30 points, but not on the held-out training subject
    high_test = [0.9 + 0.01 * i for i in range(len(SEEDS))]
    failing = _gate([0.50, 0.52, 0.49, 0.51, 0.50, 0.48], [0.55, 0.56, 0.54, 0.57, 0.55, 0.56])
    v = _verdicts(failing, high_test)
    for key in ("kd>ce@src", "geo>unif", "geo>unif@src", "sound>ce", "sound>ce+aug"):
        assert v[key].verdict == "not testable", key
        assert "held-out training subject" in v[key].note
        assert "no better than the CE student" in v[key].note
    # the teacher-vs-student claim on test is a claim, not a gate: it is judged
    assert v["teacher>ce"].verdict == "supported"
    # and the other way round: a teacher that loses on test passes a gate it wins
    passing = _gate([0.80, 0.82, 0.79, 0.81, 0.80, 0.83], [0.55, 0.56, 0.54, 0.57, 0.55, 0.56])
    v = _verdicts(passing, [0.3] * len(SEEDS))
    assert v["kd>ce@src"].verdict != "not testable"
    assert "beats the CE student (held-out training subject accuracy" in v["kd>ce@src"].note


def test_no_held_out_subject_means_no_gate():
    g = gk.held_out_gate(None)
    assert not g.ok and "single training subject" in g.reason
    assert gk.gate_subject({"train_subjects": [3]}, 5) is None


def test_gate_subjects_rotate_through_the_training_subjects_only():
    p = {"train_subjects": [1, 2, 3]}
    assert [gk.gate_subject(p, s) for s in range(6)] == [1, 2, 3, 1, 2, 3]
    subject = np.array([1, 2, 3, 4, 1, 2, 3, 4, 5])
    data = SkeletonSet([np.zeros((2, 20, 3))] * len(subject), np.zeros(len(subject), int),
                       subject, np.zeros(len(subject), int), ("a",), "toy")
    ref, held = gk.gate_rows(p, 1, data)
    train = subject[np.isin(subject, p["train_subjects"])]  # the training split's order
    assert len(ref) + len(held) == len(train) == 6
    assert set(train[held]) == {2} and 2 not in set(train[ref])


def test_size_claim_only_in_the_source_setting():
    p = {"data_dir": None, "train_subjects": [1, 2, 3, 4, 5], "layers": 6, "heads": 12,
         "ff": 512}
    assert gk.differs_from_source(p) == "synthetic skeletons, not UTD-MHAD"
    assert "training subjects" in gk.differs_from_source({**p, "data_dir": "x",
                                                          "train_subjects": [1, 2]})
    assert "2-layer" in gk.differs_from_source({**p, "data_dir": "x", "layers": 2})
    assert gk.differs_from_source({**p, "data_dir": "x"}) == ""

"""kdkit.paradigms: soft targets for every family, the innovations, the compatibility score."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from kdkit.paradigms import compatibility as compat
from kdkit.paradigms.curriculum import fit_curriculum, stages
from kdkit.paradigms.faithful import mode_means, run_faithful
from kdkit.paradigms.families import FAMILIES, n_parameters
from kdkit.paradigms.feature_distill import hint_targets, mlp_hidden
from kdkit.paradigms.federated import aggregate, client_probabilities, dirichlet_split
from kdkit.paradigms.multi_teacher import agreement, attention_weights, combine
from kdkit.paradigms.munge import transfer_set
from kdkit.paradigms.soft_mlp import SoftTargetMLP
from kdkit.paradigms.soft_weighting import SoftLabelWeighting, expand_soft_rows
from kdkit.paradigms.stream import stream_distill
from kdkit.paradigms.temperature import dynamic_temperature, normalized_entropy, temper


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               n_clusters_per_class=1, class_sep=2.0, random_state=0)
    return X, y


# temperature -------------------------------------------------------------------------------

def test_temper_by_hand():
    # [0.8, 0.2] at T = 2: sqrt -> [0.8944, 0.4472] / 1.3416 = [2/3, 1/3]
    np.testing.assert_allclose(temper(np.array([[0.8, 0.2]]), 2.0), [[2 / 3, 1 / 3]])
    p = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(temper(p, 1.0), p)
    np.testing.assert_allclose(temper(p, 1e6), np.full((1, 3), 1 / 3), atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        temper(p, 0.0)


def test_dynamic_temperature_bounds():
    assert dynamic_temperature(np.eye(4), t0=3.0) == pytest.approx(3.0)
    assert dynamic_temperature(np.full((5, 4), 0.25), t0=3.0) == pytest.approx(3.3)
    assert normalized_entropy(np.array([[0.5, 0.5]]))[0] == pytest.approx(1.0)


# students on soft targets ------------------------------------------------------------------

def test_expand_soft_rows_by_hand():
    X = np.array([[1.0], [2.0]])
    W = np.array([[0.7, 0.295, 0.005], [0.0, 0.0, 1.0]])
    Xe, c, w = expand_soft_rows(X, W, min_weight=0.01)
    np.testing.assert_array_equal(Xe[:, 0], [1.0, 1.0, 2.0])
    np.testing.assert_array_equal(c, [0, 1, 2])
    np.testing.assert_allclose(w, [0.7 / 0.995, 0.295 / 0.995, 1.0])


def test_soft_weighting_with_one_hot_targets_is_the_plain_fit(blobs):
    X, y = blobs
    plain = DecisionTreeClassifier(random_state=0).fit(X, y)
    soft = SoftLabelWeighting(DecisionTreeClassifier(random_state=0), alpha=0.0,
                              temperature=1.0).fit(X, y, soft_targets=np.eye(3)[y])
    np.testing.assert_array_equal(soft.predict(X), plain.predict(X))


@pytest.mark.parametrize("student", [
    SoftLabelWeighting(LogisticRegression(), alpha=0.0, temperature=1.0),
    SoftTargetMLP((16,), alpha=0.0, temperature=1.0, epochs=60)])
def test_student_follows_the_teacher_not_the_labels(blobs, student):
    """With alpha = 0 the labels are ignored: a teacher that swaps classes 0 and 1 wins."""
    X, y = blobs
    swapped = np.array([1, 0, 2])[y]
    student.fit(X, y, soft_targets=0.9 * np.eye(3)[swapped] + 0.1 / 3)
    assert (student.predict(X) == swapped).mean() > 0.9


def test_soft_mlp_contract_and_warm_start(blobs):
    X, y = blobs
    m = SoftTargetMLP((8,), epochs=30)
    assert m.fit(X, y) is m and m.score(X, y) > 0.9
    assert m.predict_proba(X).shape == (300, 3) and m.n_features_in_ == 6
    assert m.get_params()["hidden_layer_sizes"] == (8,)
    assert m.n_parameters() == 6 * 8 + 8 + 8 * 3 + 3
    assert m.hidden(X).shape == (300, 8)
    with pytest.raises(ValueError, match="soft_targets must have shape"):
        m.fit(X, y, soft_targets=np.ones((3, 3)))
    w = SoftTargetMLP((8,), epochs=1, warm_start=True).fit(X, y)
    head = w.head_
    w.fit(X, y)
    assert w.head_ is head  # continued, not rebuilt
    h = SoftTargetMLP((8,), epochs=2).fit(X, y, hints=np.zeros((300, 5)))
    assert h.hint_proj_.out_features == 5


def test_soft_students_pass_sklearn_checks():
    from sklearn.utils.estimator_checks import check_estimator
    for est in (SoftTargetMLP((8,), epochs=40),
                SoftLabelWeighting(DecisionTreeClassifier(random_state=0))):
        failed = check_estimator(est, on_fail=None)
        bad = [r for r in failed if r["status"] == "failed"]
        assert not bad, [(r["check_name"], str(r["exception"])[:200]) for r in bad]


# innovations -------------------------------------------------------------------------------

def test_attention_prefers_the_confident_agreeing_teacher():
    good = np.array([[0.95, 0.05], [0.05, 0.95]])
    also = np.array([[0.8, 0.2], [0.3, 0.7]])
    bad = np.array([[0.5, 0.5], [0.6, 0.4]])  # unsure, and disagrees on row 2
    np.testing.assert_allclose(agreement([good, also, bad]), [1.0, 1.0, 0.5])
    w = attention_weights([good, also, bad])
    np.testing.assert_allclose(w.sum(axis=0), 1.0)
    assert (w[0] > w[1]).all() and (w[1] > w[2]).all()
    np.testing.assert_allclose(combine([good, bad], np.array([0.5, 0.5])), (good + bad) / 2)


def test_curriculum_stages_are_cumulative_easiest_first():
    p = np.array([[0.5, 0.5], [0.99, 0.01], [0.7, 0.3], [0.9, 0.1], [0.6, 0.4], [1.0, 0.0]])
    s = stages(p, 3)
    assert [len(x) for x in s] == [2, 4, 6]
    assert set(s[0]) == {5, 1} and set(s[1]) == {5, 1, 3, 2}
    assert all(set(a) <= set(b) for a, b in zip(s, s[1:]))


def test_fit_curriculum_trains_a_working_student_even_if_easy_rows_miss_a_class(blobs):
    X, y = blobs
    p = np.eye(3)[y] * 0.8 + 0.2 / 3
    p[y == 2] = np.eye(3)[2] * 0.4 + 0.2  # class 2 is the hardest: absent from stage 1
    m = fit_curriculum(SoftTargetMLP((8,), epochs=30), X, y, p)
    assert set(y[stages(p, 3)[0]]) == {0, 1}
    assert list(m.classes_) == [0, 1, 2] and m.score(X, y) > 0.9


def test_dirichlet_split_partitions_rows():
    y = np.repeat([0, 1, 2], 50)
    parts = dirichlet_split(y, 5, beta=0.3, seed=1)
    allrows = np.concatenate(parts)
    assert len(parts) == 5 and all(len(p) for p in parts)
    np.testing.assert_array_equal(np.sort(allrows), np.arange(150))


def test_federated_aggregation_by_hand():
    # client A holds 3 rows, client B 1 row: p = 3/4·pA + 1/4·pB, whatever their classes (a
    # per-class weight would count each client's class prior twice: kdkit issue 37)
    pa, pb = np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]])
    p = aggregate([pa, pb], [3, 1])
    np.testing.assert_allclose(p, [[0.7, 0.3]])
    with pytest.raises(ValueError, match="one non-negative row count per client"):
        aggregate([pa, pb], [3])
    clf = DecisionTreeClassifier().fit([[0.0], [1.0]], [1, 3])
    np.testing.assert_allclose(client_probabilities(clf, [[0.0]], np.array([0, 1, 2, 3])),
                               [[0, 1, 0, 0]])


def test_stream_soft_with_one_hot_teacher_equals_hard(blobs):
    X, y = blobs
    p = np.eye(3)[(y + 1) % 3]
    _, hard = stream_distill(X, y, X, y, targets="hard", teacher_probs=p, seed=3)
    _, soft = stream_distill(X, y, X, y, targets="soft", teacher_probs=p, temperature=1.0,
                             seed=3)
    assert hard == soft and len(hard) == int(np.ceil(300 / 64))
    with pytest.raises(ValueError, match="targets"):
        stream_distill(X, y, X, y, targets="probabilities")


def test_transfer_set_is_seeded_and_near_the_data(blobs):
    X, _ = blobs
    a, b = transfer_set(X, 50, seed=4), transfer_set(X, 50, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (50, 6)
    assert (a.min(0) > X.min(0) - X.std(0)).all() and (a.max(0) < X.max(0) + X.std(0)).all()


def test_mlp_hidden_matches_a_manual_forward_pass(blobs):
    X, y = blobs
    m = make_pipeline(StandardScaler(), MLPClassifier((5, 4), max_iter=50, random_state=0))
    m.fit(X, y)
    Z = m[0].transform(X)
    mlp = m[-1]
    h = np.maximum(np.maximum(Z @ mlp.coefs_[0] + mlp.intercepts_[0], 0) @ mlp.coefs_[1]
                   + mlp.intercepts_[1], 0)
    np.testing.assert_allclose(mlp_hidden(m, X), h)
    assert hint_targets(m, X).shape == (300, 4)


# compatibility -----------------------------------------------------------------------------

def test_jaccard_and_kl_similarity_by_hand():
    assert compat.jaccard({"a", "b", "c"}, {"b", "c", "d"}) == pytest.approx(0.5)
    p = np.array([[0.5, 0.5]])
    assert compat.kl_similarity(p, p) == pytest.approx(1.0)
    # KL([1, 0] || [0.5, 0.5]) = log 2 -> exp(-log 2) = 0.5
    assert compat.kl_similarity(np.array([[1.0, 0.0]]), p) == pytest.approx(0.5)


def test_linear_cka_invariances():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(40, 5))
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    G = 3.0 * F @ Q + 2.0  # rotated, scaled, shifted
    assert compat.linear_cka(F @ F.T, G @ G.T) == pytest.approx(1.0)
    R = rng.normal(size=(40, 5))
    assert compat.linear_cka(F @ F.T, R @ R.T) < 0.5


def test_forest_gram_counts_shared_leaves(blobs):
    X, y = blobs
    rf = FAMILIES["rf"].faithful_student(0).fit(X, y)
    K = compat.gram(rf, X[:10])
    np.testing.assert_allclose(np.diag(K), 50)  # every point shares its own leaf in all trees
    np.testing.assert_allclose(K, K.T)


# families and the faithful replay ----------------------------------------------------------

def test_n_parameters_by_hand(blobs):
    X, y = blobs
    lr = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert n_parameters(lr) == 3 * 6 + 3
    mlp = MLPClassifier((5,), max_iter=20, random_state=0).fit(X, y)
    assert n_parameters(mlp) == 6 * 5 + 5 + 5 * 3 + 3


def test_faithful_baseline_ignores_the_teacher_and_means_follow_the_seed_formula():
    X, y = load_iris(return_X_y=True)
    rows = run_faithful(X[::2], y[::2], X[1::2], y[1::2], seed=0,
                        pairs=[("lr", "rf"), ("mlp", "rf"), ("rf", "lr")])
    base = rows[(rows["procedure"] == "baseline") & (rows["student"] == "rf")]["accuracy"]
    assert base.nunique() == 1  # the same student and data whatever the teacher
    m = mode_means(rows)
    assert m["cross_paradigm"] == pytest.approx(
        (2 * m["baseline"] + m["stacking"] + m["progressive"]) / 4)
    assert set(rows["procedure"]) == {"baseline", "progressive", "pseudo", "multi_teacher",
                                      "stacking"}


def test_unknown_dataset_names_the_allowed_ones():
    from kdkit.studies.cross_paradigm import load_dataset
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; allowed: breast_cancer"):
        load_dataset("mnist")


def test_sound_study_is_reproducible_and_pairs_each_student_with_its_baseline():
    from kdkit.jobs import Runner
    from kdkit.studies.cross_paradigm import gains, run_sound
    p = dict(datasets=["iris"], seeds=[3], teachers=["lr", "rf"], students=["lr", "rf"],
             methods=["hard", "soft"], temperature=2.0, alpha=0.5, transfer_ratio=0.5, folds=3)
    a, ca, va = run_sound(p, Runner(progress=False))
    b, cb, vb = run_sound(p, Runner(progress=False))
    drop = lambda df: df.drop(columns=["predict_us"])  # noqa: E731
    pd.testing.assert_frame_equal(drop(a), drop(b))
    pd.testing.assert_frame_equal(ca, cb)
    g = gains(a)
    assert len(g[g["role"] == "student"]) == 2 * 2 * 2  # teachers × students × methods
    assert (g["baseline"] > 0.5).all()
    assert set(va["model"]) == {"teacher lr", "teacher rf", "student lr", "student rf"}
    # a stacked student's size counts its teacher's (it needs the teacher to predict)
    size = a.set_index(["role", "teacher", "student", "method"])["n_params"]
    base = size[("student", "", "lr", "baseline")]
    assert size[("stacking", "rf", "lr", "stacking")] > size[("teacher", "rf", "", "teacher")]
    # the linear student on iris: 3 more inputs (p_T) × 3 classes, plus the lr teacher
    assert size[("stacking", "lr", "lr", "stacking")] == base + 3 * 3 + size[
        ("teacher", "lr", "", "teacher")]


def test_teacher_outputs_a_student_learns_from_are_out_of_fold():
    """No row's soft target comes from a teacher that saw the row: a 1-nearest-neighbour
    teacher reproduces its training labels in sample, but not out of fold."""
    from sklearn.neighbors import KNeighborsClassifier

    from kdkit.paradigms.oof import oof_proba
    X, y = make_classification(200, 6, n_informative=3, flip_y=0.3, random_state=0)
    knn = KNeighborsClassifier(1)
    in_sample = knn.fit(X, y).predict_proba(X)
    assert (in_sample.argmax(1) == y).all()  # the labels back
    seen = []
    oof = oof_proba(knn, X, y, folds=5, seed=0,
                    fold_hook=lambda m, idx: seen.append(set(idx)))
    assert (oof.argmax(1) != y).mean() > 0.15  # predictions, not the labels back
    assert set().union(*seen) == set(range(200)) and sum(map(len, seen)) == 200


def test_stream_schedule_is_the_same_for_hard_and_soft_targets():
    from kdkit.paradigms.stream import OnlineSoftmax, stream_targets
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    onehot = stream_targets("labels", y, None, 2.0, 3)
    probs = np.eye(3)[y] * 0.999 + 0.001 / 3
    a, b = OnlineSoftmax(3, 3, lr=0.1), OnlineSoftmax(3, 3, lr=0.1)
    for start in range(0, 8, 4):  # one step per mini-batch whatever the targets
        a.step(X[start:start + 4], onehot[start:start + 4])
        b.step(X[start:start + 4], stream_targets("soft", y, probs, 1.0, 3)[start:start + 4])
    np.testing.assert_allclose(a.W, b.W, atol=1e-3)  # nearly one-hot soft labels ≈ hard
    Xs, ys = rng.normal(size=(100, 3)), rng.integers(0, 3, 100)
    teacher = np.full((100, 3), 0.2) + 0.4 * np.eye(3)[ys]
    curves = {t: stream_distill(Xs, ys, Xs, ys, targets=t, teacher_probs=teacher, seed=1)[1]
              for t in ("labels", "hard", "soft")}
    assert {len(c) for c in curves.values()} == {2}  # 100 rows, batches of 64: 2 steps each


def test_soft_forest_keeps_every_weight_and_the_tree_size():
    from sklearn.ensemble import RandomForestClassifier
    X = np.arange(12, dtype=float).reshape(6, 2)
    w = np.array([[0.97, 0.02, 0.01]] * 6)
    Xe, ce, we = expand_soft_rows(X, w)
    assert len(Xe) == 18 and we.min() == pytest.approx(0.01)  # nothing dropped
    m = SoftLabelWeighting(RandomForestClassifier(3, min_samples_split=10, random_state=0),
                           alpha=0.0, temperature=1.0)
    m.fit(X, np.array([0, 1, 2, 0, 1, 2]), soft_targets=w)
    assert m.estimator_.min_samples_split == 30  # scaled by the expansion factor (18 / 6)


def test_soft_mlp_keeps_every_class_when_the_argmax_labels_miss_one():
    # a student fitted on a teacher's argmax over unlabelled rows may never see a class
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array([0, 2] * 20)
    q = np.tile([0.45, 0.1, 0.45], (40, 1))
    m = SoftTargetMLP((), classes=np.arange(3), epochs=2, random_state=0).fit(
        X, y, soft_targets=q)
    assert list(m.classes_) == [0, 1, 2] and m.predict_proba(X).shape == (40, 3)
    with pytest.raises(ValueError, match="soft_targets must have shape"):
        SoftTargetMLP((), epochs=1).fit(X, y, soft_targets=q)
    with pytest.raises(ValueError, match="outside classes"):
        SoftTargetMLP((), classes=[0, 1], epochs=1).fit(X, y)

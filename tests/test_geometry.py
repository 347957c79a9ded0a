"""kdkit.geometry: Procrustes frame costs, DTW and the fast distance matrices."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from kdkit.data.skeleton import synthetic_skeletons
from kdkit.geometry import _kernels
from kdkit.geometry.distance import cost_matrix, distance_matrix, naive_cost_matrix, naive_distance
from kdkit.geometry.dtw import dtw_path
from kdkit.geometry.procrustes import align, frame_costs, normalize_frames, optimal_rotations


def _moving_skeleton(rng, T, J=20):
    base = rng.normal(size=(J, 3))
    t = np.linspace(0, 2 * np.pi, T)[:, None, None]
    return base[None] + 0.3 * np.sin(t + rng.normal(size=(1, J, 3)))


def test_procrustes_cost_is_invariant_to_rotation_scale_translation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 20, 3))
    R = Rotation.from_euler("xyz", [30, -50, 110], degrees=True).as_matrix()
    c = frame_costs(x[None], y[None])[0, 0]
    assert frame_costs((3.7 * x @ R + [1, -2, 5])[None], y[None])[0, 0] == pytest.approx(c)
    assert frame_costs(x[None], (0.2 * y @ R.T - 4)[None])[0, 0] == pytest.approx(c)
    assert frame_costs(y[None], x[None])[0, 0] == pytest.approx(c)  # symmetric
    assert frame_costs(x[None], (2 * x @ R)[None])[0, 0] == pytest.approx(0, abs=1e-9)


def test_frame_cost_by_hand():
    # unit-norm frames (centred): x = two points ±(1/√2, 0, 0); y = the same, rotated 90°
    # about z: aligned exactly (cost 0); a reflection-only match must not be used
    x = np.array([[1.0, 0, 0], [-1.0, 0, 0]]) / np.sqrt(2)
    y = np.array([[0, 1.0, 0], [0, -1.0, 0]]) / np.sqrt(2)
    assert frame_costs(x[None], y[None])[0, 0] == pytest.approx(0, abs=1e-9)
    # a chiral frame and its mirror image: no proper rotation aligns them
    z = normalize_frames(np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]))
    assert frame_costs(z[None], (z * [1, 1, -1])[None])[0, 0] > 0.1


def test_optimal_rotations_are_proper_and_optimal():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(500, 3, 3))
    r = optimal_rotations(m)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("kji,kjl->kil", r, r), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-9)
    # optimality: tr(Rᵀ M) is at least that of random rotations
    best = np.einsum("kij,kij->k", r, m)
    other = Rotation.random(500, random_state=2).as_matrix()
    assert (best >= np.einsum("kij,kij->k", other, m) - 1e-9).all()


def test_dtw_by_hand_and_path():
    cost = np.array([[0.0, 2, 3], [4, 1, 2], [5, 4, 0]])
    d, path, _ = dtw_path(cost)
    assert d == 1.0 and path == [(0, 0), (1, 1), (2, 2)]
    d2, path2, _ = dtw_path(np.array([[1.0, 1.0, 1.0]]))
    assert d2 == 3.0 and path2 == [(0, 0), (0, 1), (0, 2)]


def test_identical_and_time_stretched_sequences_are_near_zero():
    rng = np.random.default_rng(3)
    a = _moving_skeleton(rng, 30)
    stretched = np.repeat(a, 2, axis=0)  # each frame twice: a perfect warp
    R = Rotation.from_euler("z", 70, degrees=True).as_matrix()
    D = distance_matrix([a, stretched, 2.5 * a @ R + 1.0])
    np.testing.assert_allclose(D, 0.0, atol=1e-6)


def test_fast_matrix_agrees_with_the_naive_loop_and_is_symmetric():
    rng = np.random.default_rng(4)
    seqs = [_moving_skeleton(rng, int(rng.integers(5, 12)), J=6) for _ in range(5)]
    seqs.append(rng.normal(size=(7, 6, 3)))  # random frames: many reflection cases
    D = distance_matrix(seqs)
    np.testing.assert_allclose(D, D.T)
    assert (np.diag(D) == 0).all() and (D[~np.eye(6, dtype=bool)] > 0).all()
    for i, j in [(0, 1), (2, 4), (3, 5)]:
        assert D[i, j] == pytest.approx(naive_distance(seqs[i], seqs[j]), rel=1e-9)
    T = distance_matrix(seqs[:2], seqs)  # test × train
    np.testing.assert_allclose(T, D[:2], rtol=1e-12)


def test_align_for_pictures():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 3))
    R = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    xr, y0 = align(x, 3 * x @ R + 2)
    np.testing.assert_allclose(xr, y0, atol=1e-9)


def test_numba_rotation_matches_the_svd_answer_including_reflections_and_degenerate_cases():
    rng = np.random.default_rng(6)
    mats = list(rng.normal(size=(300, 3, 3))) + [-np.eye(3), np.diag([1.0, 1.0, -1.0]),
                                                 np.zeros((3, 3))]
    out = np.empty((3, 3))
    for m in mats:
        _kernels.optimal_rotation(m, out)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-9)
        expected = optimal_rotations(m[None])[0]
        assert np.einsum("ij,ij", out, m) == pytest.approx(np.einsum("ij,ij", expected, m),
                                                           abs=1e-9)


def _svd_rotation(m):
    u, _, vt = np.linalg.svd(m)
    if np.linalg.det(u @ vt) < 0:
        u[:, 2] = -u[:, 2]
    return u @ vt


def test_qcp_rotation_is_the_closed_form_and_falls_back_to_the_svd_on_degenerate_matrices():
    rng = np.random.default_rng(7)
    out = np.empty((3, 3))
    for m in rng.normal(size=(200, 3, 3)):  # generic: QCP's answer is used, and it is R*
        assert _kernels.optimal_rotation(m, out)
        np.testing.assert_allclose(out, _svd_rotation(m), atol=1e-9)
    # a (nearly) repeated largest eigenvalue of the key matrix (rank ≤ 1, −I, reflections, 0):
    # R* is not unique or the eigenvector is ill-conditioned, so the SVD answers
    degenerate = [np.outer([1.0, 2, 3], [3, 1, 0]), -np.eye(3), np.diag([1.0, 1, -1]),
                  np.zeros((3, 3)), np.diag([1.0, 1, -1 + 1e-9])]
    for m in degenerate:
        assert not _kernels.optimal_rotation(m, out)
        np.testing.assert_allclose(out.T @ out, np.eye(3), atol=1e-12)
        assert np.linalg.det(out) == pytest.approx(1.0)
        assert np.einsum("ij,ij", out, m) == pytest.approx(
            np.einsum("ij,ij", _svd_rotation(m), m), abs=1e-12)


def test_reflection_case_a_frame_against_its_mirror_image():
    # det S < 0: the best orthogonal matrix is a reflection, the best rotation is not U Vᵀ
    rng = np.random.default_rng(8)
    x = normalize_frames(rng.normal(size=(20, 3)))
    m = x.T @ (x * [1, 1, -1])
    assert np.linalg.det(m) < 0
    out = np.empty((3, 3))
    assert _kernels.optimal_rotation(m, out)  # QCP handles it without a special case
    np.testing.assert_allclose(out, _svd_rotation(m), atol=1e-9)
    assert np.linalg.det(out) == pytest.approx(1.0)
    a = rng.normal(size=(9, 20, 3))
    mirror = a[::-1] * [-1, 1, 1]
    assert distance_matrix([a], [mirror])[0, 0] == pytest.approx(naive_distance(a, mirror),
                                                                  rel=1e-9)


@pytest.mark.parametrize("normalize", [False, True])
def test_fast_matrix_agrees_with_the_naive_loop_on_random_and_skeleton_sequences(normalize):
    rng = np.random.default_rng(9)
    skeletons = synthetic_skeletons(n_subjects=1, n_trials=1, length=(7, 19), seed=3).sequences
    seqs = ([rng.normal(size=(int(rng.integers(1, 21)), 20, 3)) for _ in range(4)]
            + skeletons[:4])  # lengths 1 … 20: with and without frame padding
    D = distance_matrix(seqs, normalize=normalize)
    for i in range(len(seqs)):
        for j in range(i + 1, len(seqs)):
            assert D[i, j] == pytest.approx(naive_distance(seqs[i], seqs[j], normalize=normalize),
                                            rel=1e-9)
    odd = [rng.normal(size=(int(rng.integers(2, 12)), 6, 3)) for _ in range(3)]  # J padded
    T = distance_matrix(odd[:1], odd[1:], normalize=normalize)
    assert T[0] == pytest.approx([naive_distance(odd[0], b, normalize=normalize)
                                  for b in odd[1:]], rel=1e-9)


def test_both_distances_from_one_pass_equal_the_separate_ones_exactly():
    """distance_matrix(both=True) (geometric_kd's teacher needs the summed and the normalised
    distance) gives bit for bit what two separate passes give, square and rectangular."""
    rng = np.random.default_rng(4)
    seqs = [rng.normal(size=(int(rng.integers(1, 16)), 20, 3)) for _ in range(6)]
    total, norm = distance_matrix(seqs, both=True)
    assert np.array_equal(total, distance_matrix(seqs))
    assert np.array_equal(norm, distance_matrix(seqs, normalize=True))
    total, norm = distance_matrix(seqs[:2], seqs[2:], both=True)
    assert np.array_equal(total, distance_matrix(seqs[:2], seqs[2:]))
    assert np.array_equal(norm, distance_matrix(seqs[:2], seqs[2:], normalize=True))


def test_near_degenerate_frames_agree_with_the_naive_loop():
    rng = np.random.default_rng(10)
    base = rng.normal(size=(8, 20, 3))
    line = np.outer(rng.normal(size=20), rng.normal(size=3))  # collinear joints
    collinear = line[None] * rng.uniform(0.5, 2.0, size=(8, 1, 1))
    nearly = collinear + 1e-7 * rng.normal(size=collinear.shape)
    planar = base * [1, 1, 1e-9]
    cases = [(collinear, base), (nearly, base), (base, base * [1, 1, -1]),
             (planar, base), (planar, planar[::-1] * [-1, 1, 1]), (base, base[::-1].copy())]
    for a, b in cases:
        assert np.abs(cost_matrix(a, b) - naive_cost_matrix(a, b)).max() < 1e-10
        assert distance_matrix([a], [b])[0, 0] == pytest.approx(naive_distance(a, b),
                                                                 rel=1e-9, abs=1e-12)
    # identical frames give exactly zero (R* = I exactly)
    assert distance_matrix([base], [base.copy()])[0, 0] == 0.0


def test_normalised_dtw_by_hand():
    # D = [[1, 3, 6], [5, 2, 3]]: path (0,0) → (1,1) → (1,2), 3 cells, cost 1 + 1 + 1
    cost = np.array([[1.0, 2, 3], [4, 1, 1]])
    d, path, D = dtw_path(cost, normalize=True)
    np.testing.assert_array_equal(D, [[1, 3, 6], [5, 2, 3]])
    assert path == [(0, 0), (1, 1), (1, 2)] and d == 3.0 / 3
    assert _kernels.dtw_cost_matrix(cost, True) == 1.0
    assert _kernels.dtw_cost_matrix(cost, False) == dtw_path(cost)[0] == 3.0
    # a path of 4 cells: D = [[1, 3, 12], [10, 10, 6], [19, 19, 10]], total 1 + 2 + 3 + 4
    cost = np.array([[1.0, 2, 9], [9, 9, 3], [9, 9, 4]])
    d, path, _ = dtw_path(cost, normalize=True)
    assert path == [(0, 0), (0, 1), (1, 2), (2, 2)] and d == 10.0 / 4
    assert _kernels.dtw_cost_matrix(cost, True) == 2.5
    # a three-way tie at (1, 1) goes to the diagonal: 2 cells, not 3
    cost = np.array([[1.0, 0], [0, 1]])
    assert dtw_path(cost, normalize=True)[:2] == (1.0, [(0, 0), (1, 1)])
    assert _kernels.dtw_cost_matrix(cost, True) == 1.0


def test_normalised_kernel_takes_the_same_path_as_dtw_path_on_tied_costs():
    rng = np.random.default_rng(11)
    for _ in range(200):  # small integer costs: many exact ties
        cost = rng.integers(0, 3, size=rng.integers(1, 8, size=2)).astype(float)
        d, path, _ = dtw_path(cost, normalize=True)
        assert _kernels.dtw_cost_matrix(cost, True) == d
        assert _kernels.dtw_cost_matrix(cost, False) == dtw_path(cost)[0] == d * len(path)


def test_normalised_distance_is_the_path_cost_over_the_path_length():
    rng = np.random.default_rng(12)
    a, b = _moving_skeleton(rng, 13), _moving_skeleton(rng, 21)
    total, path, _ = dtw_path(cost_matrix(a, b))
    d = distance_matrix([a, b], normalize=True)[0, 1]
    assert d == pytest.approx(total / len(path), rel=1e-12)
    assert total / (13 + 21 - 1) <= d <= total / 21


def test_distances_do_not_depend_on_the_thread_count():
    import numba

    rng = np.random.default_rng(13)
    seqs = [_moving_skeleton(rng, int(rng.integers(5, 30))) for _ in range(12)]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = distance_matrix(seqs, chunk=7), distance_matrix(seqs, normalize=True)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = distance_matrix(seqs, chunk=7), distance_matrix(seqs, normalize=True)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])

"""kdkit.geometry: Procrustes frame costs, DTW and the fast distance matrices."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from kdkit.geometry.distance import distance_matrix, naive_distance
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
    from kdkit.geometry import _kernels
    rng = np.random.default_rng(6)
    mats = list(rng.normal(size=(300, 3, 3))) + [-np.eye(3), np.diag([1.0, 1.0, -1.0]),
                                                 np.zeros((3, 3))]
    out, x, cof = np.empty((3, 3)), np.empty((3, 3)), np.empty((3, 3))
    for m in mats:
        _kernels._rotation(m, out, x, cof)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-9)
        expected = optimal_rotations(m[None])[0]
        assert np.einsum("ij,ij", out, m) == pytest.approx(np.einsum("ij,ij", expected, m),
                                                           abs=1e-9)

"""kdkit.data.skeleton: the synthetic generator and the UTD-MHAD loader."""

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from kdkit.data import DataError
from kdkit.data.skeleton import (
    ACTIONS,
    GROUPS,
    OFFSETS,
    PARENTS,
    J,
    _rot,
    forward_kinematics,
    load_utd_mhad,
    synthetic_skeletons,
)


def test_rest_pose_bone_lengths_follow_the_offsets_and_scale():
    scale = np.full(20, 1.1)
    pos = forward_kinematics(scale, {}, 1)[0]
    for j, p in enumerate(PARENTS[1:], start=1):
        assert np.linalg.norm(pos[j] - pos[p]) == pytest.approx(1.1 * np.linalg.norm(OFFSETS[j]))


def test_rotating_a_joint_moves_only_its_subtree():
    rest = forward_kinematics(np.ones(20), {}, 1)[0]
    bent = forward_kinematics(np.ones(20), {J["elbow_right"]: _rot("x", np.array([1.0]))}, 1)[0]
    moved = np.flatnonzero(np.abs(bent - rest).sum(axis=1) > 1e-9)
    assert set(moved) == {J["wrist_right"], J["hand_right"]}
    # rigid: the forearm keeps its length
    assert np.linalg.norm(bent[10] - bent[9]) == pytest.approx(np.linalg.norm(rest[10] - rest[9]))


def test_synthetic_set_is_seeded_and_varied():
    a = synthetic_skeletons(n_subjects=2, n_trials=2, seed=3)
    b = synthetic_skeletons(n_subjects=2, n_trials=2, seed=3)
    assert len(a.sequences) == 2 * 2 * len(ACTIONS) and len(ACTIONS) >= 8
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    lengths = {len(s) for s in a.sequences}
    assert len(lengths) > 5 and min(lengths) >= 30 and max(lengths) <= 60
    assert a.sequences[0].shape[1:] == (20, 3)
    (tr, ytr), (te, yte) = a.split_by_subject([1])
    assert len(tr) == len(te) == 2 * len(ACTIONS)
    with pytest.raises(ValueError, match="unknown actions"):
        synthetic_skeletons(actions=["moonwalk"])


def _facing(seq):
    """The yaw of a sequence's mean hip vector (degrees; 0 at rest)."""
    h = (seq[:, J["hip_left"]] - seq[:, J["hip_right"]]).mean(axis=0)
    return np.degrees(np.arctan2(-h[2], h[0]))


def test_yaw_range_bounds_the_facing():
    # without joint noise the hips turn only with the trial's yaw (the idle sway moves the
    # legs below them, not the hip joints)
    kw = dict(n_subjects=3, n_trials=2, noise=0.0, seed=1)
    narrow = [_facing(s) for s in synthetic_skeletons(yaw_range=30, **kw).sequences]
    wide = [_facing(s) for s in synthetic_skeletons(yaw_range=180, **kw).sequences]
    still = [_facing(s) for s in synthetic_skeletons(yaw_range=0, **kw).sequences]
    assert max(map(abs, narrow)) <= 30 and min(narrow) < -15 and max(narrow) > 15
    assert max(map(abs, wide)) > 90
    np.testing.assert_allclose(still, 0, atol=1e-9)
    with pytest.raises(ValueError, match="yaw_range"):
        synthetic_skeletons(yaw_range=200)


def test_utd_mhad_loader_reads_the_original_format(tmp_path):
    rng = np.random.default_rng(0)
    for a, s, t, T in [(1, 1, 1, 5), (2, 1, 1, 7), (27, 8, 4, 3)]:
        savemat(tmp_path / f"a{a}_s{s}_t{t}_skeleton.mat", {"d_skel": rng.normal(size=(20, 3, T))})
    (tmp_path / "readme.txt").write_text("ignored")
    data = load_utd_mhad(tmp_path)
    assert [len(x) for x in data.sequences] == [5, 7, 3]
    assert data.y.tolist() == [0, 1, 26] and data.subject.tolist() == [1, 1, 8]
    assert data.trial.tolist() == [1, 1, 4] and len(data.actions) == 27
    raw = loadmat(tmp_path / "a2_s1_t1_skeleton.mat")["d_skel"]
    np.testing.assert_array_equal(data.sequences[1][4], raw[:, :, 4])  # frame 4: 20 × 3


def test_utd_mhad_loader_errors(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        load_utd_mhad(tmp_path / "nope")
    with pytest.raises(DataError, match="no a\\*_s\\*_t\\*_skeleton.mat"):
        load_utd_mhad(tmp_path)
    savemat(tmp_path / "a1_s1_t1_skeleton.mat", {"skel": np.zeros((20, 3, 2))})
    with pytest.raises(DataError, match="no variable d_skel"):
        load_utd_mhad(tmp_path)
    savemat(tmp_path / "a1_s1_t1_skeleton.mat", {"d_skel": np.zeros((25, 3, 2))})
    with pytest.raises(DataError, match="expected \\(20, 3, T\\)"):
        load_utd_mhad(tmp_path)


def test_hard_skeletons_have_confusable_twins_turning_and_tracking_loss():
    """kdkit issue 37: the harder generator — 22 actions in confusable pairs, turning within a
    trial, tracking loss — and the default generator unchanged by it."""
    from kdkit.data.skeleton import HARD_ACTIONS, _mirror, _track

    assert len(HARD_ACTIONS) >= 20 and set(ACTIONS) < set(HARD_ACTIONS)
    # a mirrored twin moves the other side: punch_left turns the left shoulder, not the right
    p = np.linspace(0, 1, 5)
    assert set(HARD_ACTIONS["punch_left"](p)) == {"shoulder_left", "elbow_left"}
    assert set(_mirror(ACTIONS["wave_right"])(p)) == {"shoulder_left", "elbow_left"}
    d = synthetic_skeletons(3, 1, hard=True, seed=5, noise=0.0, drop=0.0, pelvis=0.0,
                            sway=0.0, turn=90.0, yaw_range=0)
    assert len(d.actions) == len(HARD_ACTIONS) and len(d.sequences) == 3 * len(HARD_ACTIONS)
    # turning: the hips' direction changes between the first and the last frame
    hips = [s[:, J["hip_left"]] - s[:, J["hip_right"]] for s in d.sequences]
    turn = [np.degrees(np.arccos(np.clip(h[0] @ h[-1] / np.linalg.norm(h[0]) /
                                         np.linalg.norm(h[-1]), -1, 1))) for h in hips]
    assert max(turn) > 30
    # tracking loss freezes a limb at its last tracked position
    x = np.random.default_rng(0).normal(size=(50, 20, 3))
    frozen = _track(x, np.random.default_rng(1), drop=1.0)
    arm = list(GROUPS["arm_left"])
    still = np.all(frozen[1:, arm] == frozen[:-1, arm], axis=(1, 2))
    assert still.sum() >= 9 and np.all(frozen[:, [0, 1]] == x[:, [0, 1]])
    # same seed, same data; hard=False is the generator as before (no extra draws)
    a = synthetic_skeletons(2, 1, hard=True, seed=9)
    b = synthetic_skeletons(2, 1, hard=True, seed=9)
    assert all(np.array_equal(u, v) for u, v in zip(a.sequences, b.sequences))
    with pytest.raises(ValueError, match="noise_corr"):
        synthetic_skeletons(2, 1, hard=True, noise_corr=1.0)
    # the default generator's first sequence, as computed before the harder setting existed
    old = synthetic_skeletons(n_subjects=2, n_trials=2, seed=3).sequences[0]
    assert np.abs(old).sum() == pytest.approx(1323.2041593190277, rel=1e-12)

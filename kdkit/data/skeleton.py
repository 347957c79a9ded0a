"""Skeleton motion data: a seeded synthetic generator and a UTD-MHAD loader.

**Synthetic** (the default of geometric_kd): a 20-joint Kinect-v1 skeleton driven by forward
kinematics. Each action is a set of joint rotations over a phase φ ∈ [0, 1]. The nuisances
Procrustes-DTW is meant to absorb all vary, each from its own seeded draw:
* subjects: bone lengths (per limb group) and height;
* trials: tempo (a time warp φ = (t/T)^γ), length, amplitude;
* rotation about the vertical axis (a yaw drawn uniformly within ±``yaw_range`` degrees: 180,
  the default, is the full circle; 30 is a subject roughly facing a depth camera), scale and
  translation;
* joint noise.

**The harder setting** (``hard=True``; geometric_kd's design of 2026-12-04) adds what makes real
skeleton data hard and what neither Procrustes nor a per-sequence view normalisation removes:
* 22 actions (:data:`HARD_ACTIONS`) in confusable pairs — the same movement slower, smaller,
  mirrored, reversed or with one arm instead of two;
* turning within a trial (the yaw drifts by up to ±``turn`` degrees from first to last frame)
  and a pelvis that rocks (about the two horizontal axes, up to ``pelvis`` radians);
* temporally correlated noise (AR(1) with coefficient ``noise_corr``: drift, not jitter);
* tracking loss: with probability ``drop`` per limb and trial, the limb's joints freeze at their
  last tracked position for a stretch of 20–40 % of the trial (Kinect's inferred joints).

**UTD-MHAD** (Chen, Jafari & Kehtarnavaz, ICIP 2015): files
``a{action}_s{subject}_t{trial}_skeleton.mat`` holding ``d_skel`` (20 × 3 × T, Kinect v1).
The dataset is not shipped; pass its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import DataError

JOINTS = ("hip_center", "spine", "shoulder_center", "head", "shoulder_left", "elbow_left",
          "wrist_left", "hand_left", "shoulder_right", "elbow_right", "wrist_right",
          "hand_right", "hip_left", "knee_left", "ankle_left", "foot_left", "hip_right",
          "knee_right", "ankle_right", "foot_right")
PARENTS = (-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18)
# bone offsets from the parent at rest (metres; y up, x to the subject's left, z forward)
OFFSETS = np.array([
    [0, 0, 0], [0, .25, 0], [0, .25, 0], [0, .2, 0],
    [.18, 0, 0], [0, -.28, 0], [0, -.25, 0], [0, -.08, 0],
    [-.18, 0, 0], [0, -.28, 0], [0, -.25, 0], [0, -.08, 0],
    [.1, -.05, 0], [0, -.42, 0], [0, -.42, 0], [0, 0, .1],
    [-.1, -.05, 0], [0, -.42, 0], [0, -.42, 0], [0, 0, .1]], dtype=float)
# which bones share a length factor within a subject
GROUPS = {"spine": (1, 2, 3), "arm_left": (5, 6, 7), "arm_right": (9, 10, 11),
          "leg_left": (13, 14, 15), "leg_right": (17, 18, 19), "shoulders": (4, 8),
          "hips": (12, 16)}
J = {name: i for i, name in enumerate(JOINTS)}


def _rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about a body axis by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    m = {"x": [[o, z, z], [z, c, -s], [z, s, c]],
         "y": [[c, z, s], [z, o, z], [-s, z, c]],
         "z": [[c, -s, z], [s, c, z], [z, z, o]]}[axis]
    return np.moveaxis(np.array(m), (0, 1), (-2, -1))


def _bump(p):  # 0 → 1 → 0 over the phase
    return np.sin(np.pi * p)


ACTIONS = {  # name -> phase -> {joint: (axis, angle)}
    "wave_right": lambda p: {"shoulder_right": ("z", -2.6 * np.minimum(1, 3 * _bump(p))),
                             "elbow_right": ("z", 0.6 * np.sin(6 * np.pi * p))},
    "wave_left": lambda p: {"shoulder_left": ("z", 2.6 * np.minimum(1, 3 * _bump(p))),
                            "elbow_left": ("z", -0.6 * np.sin(6 * np.pi * p))},
    "punch_right": lambda p: {"shoulder_right": ("x", -1.5 * np.ones_like(p)),
                              "elbow_right": ("x", -1.4 * np.abs(np.cos(2 * np.pi * p)))},
    "clap": lambda p: {"shoulder_left": ("y", -0.6 * np.abs(np.sin(4 * np.pi * p))),
                       "shoulder_right": ("y", 0.6 * np.abs(np.sin(4 * np.pi * p))),
                       "spine": ("x", 0 * p), "elbow_left": ("x", -1.4 + 0 * p),
                       "elbow_right": ("x", -1.4 + 0 * p)},
    "kick_right": lambda p: {"hip_right": ("x", -1.2 * _bump(p)),
                             "knee_right": ("x", 0.8 * _bump(2 * p % 1))},
    "squat": lambda p: {"hip_left": ("x", -1.4 * _bump(p)), "hip_right": ("x", -1.4 * _bump(p)),
                        "knee_left": ("x", 2.2 * _bump(p)), "knee_right": ("x", 2.2 * _bump(p)),
                        "shoulder_left": ("x", -1.2 * _bump(p)),
                        "shoulder_right": ("x", -1.2 * _bump(p))},
    "raise_both_arms": lambda p: {"shoulder_left": ("z", 2.9 * _bump(p)),
                                  "shoulder_right": ("z", -2.9 * _bump(p))},
    "bow": lambda p: {"spine": ("x", 1.0 * _bump(p)), "shoulder_center": ("x", 0.4 * _bump(p))},
    "arm_circle_right": lambda p: {"shoulder_right": ("x", 2 * np.pi * p)},
}


def _mirror(action):
    """The same action with the other side of the body (left ↔ right; z and y rotations
    change sign under the mirror)."""
    swap = lambda j: j.replace("right", "@").replace("left", "right").replace("@", "left")  # noqa: E731

    def f(p):
        return {swap(j): (axis, ang if axis == "x" else -ang)
                for j, (axis, ang) in action(p).items()}
    return f


def _scaled(action, amp: float = 1.0, tempo: float = 1.0, reverse: bool = False):
    """The same action ``amp`` times as large, ``tempo`` times as fast in its oscillations
    (the phase wraps), or played backwards."""
    def f(p):
        q = 1 - p if reverse else p
        q = (tempo * q) % 1.0 if tempo != 1.0 else q
        return {j: (axis, amp * ang) for j, (axis, ang) in action(q).items()}
    return f


HARD_ACTIONS = {  # the 9 actions above and 13 confusable twins
    **ACTIONS,
    "wave_right_slow": lambda p: {"shoulder_right": ("z", -2.6 * np.minimum(1, 3 * _bump(p))),
                                  "elbow_right": ("z", 0.6 * np.sin(3 * np.pi * p))},
    "wave_left_slow": lambda p: {"shoulder_left": ("z", 2.6 * np.minimum(1, 3 * _bump(p))),
                                 "elbow_left": ("z", -0.6 * np.sin(3 * np.pi * p))},
    "punch_left": _mirror(ACTIONS["punch_right"]),
    "punch_right_twice": lambda p: {"shoulder_right": ("x", -1.5 * np.ones_like(p)),
                                    "elbow_right": ("x", -1.4 * np.abs(np.cos(4 * np.pi * p)))},
    "kick_left": _mirror(ACTIONS["kick_right"]),
    "kick_right_high": _scaled(ACTIONS["kick_right"], amp=1.35),
    "half_squat": _scaled(ACTIONS["squat"], amp=0.6),
    "raise_right_arm": lambda p: {"shoulder_right": ("z", -2.9 * _bump(p))},
    "raise_left_arm": lambda p: {"shoulder_left": ("z", 2.9 * _bump(p))},
    "bow_deep": _scaled(ACTIONS["bow"], amp=1.4),
    "arm_circle_left": _mirror(ACTIONS["arm_circle_right"]),
    "arm_circle_right_back": _scaled(ACTIONS["arm_circle_right"], reverse=True),
    "clap_fast": lambda p: {"shoulder_left": ("y", -0.6 * np.abs(np.sin(6 * np.pi * p))),
                            "shoulder_right": ("y", 0.6 * np.abs(np.sin(6 * np.pi * p))),
                            "elbow_left": ("x", -1.4 + 0 * p),
                            "elbow_right": ("x", -1.4 + 0 * p)},
}
LIMBS = ("arm_left", "arm_right", "leg_left", "leg_right")


@dataclass
class SkeletonSet:
    """Sequences (T_i, J, 3), labels, subjects and trials; ``actions`` names the labels."""

    sequences: list
    y: np.ndarray
    subject: np.ndarray
    trial: np.ndarray
    actions: tuple
    name: str

    def split_by_subject(self, train_subjects):
        train = np.isin(self.subject, list(train_subjects))
        pick = lambda m: [s for s, k in zip(self.sequences, m) if k]  # noqa: E731
        return (pick(train), self.y[train]), (pick(~train), self.y[~train])


def forward_kinematics(bone_scale: np.ndarray, rotations: dict, T: int) -> np.ndarray:
    """Joint positions (T, 20, 3) for per-bone length factors and local joint rotations
    {joint index: (T, 3, 3)} that turn everything below that joint."""
    glob = np.empty((T, len(JOINTS), 3, 3))
    pos = np.zeros((T, len(JOINTS), 3))
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j, parent in enumerate(PARENTS):
        local = rotations.get(j, eye)
        if parent < 0:
            glob[:, j] = local
            continue
        pos[:, j] = pos[:, parent] + np.einsum("tij,j->ti", glob[:, parent],
                                               OFFSETS[j] * bone_scale[j])
        glob[:, j] = glob[:, parent] @ local
    return pos


def synthetic_skeletons(n_subjects: int = 8, n_trials: int = 3, actions=None, *,
                        length=(30, 60), noise: float = 0.08, sway: float = 1.0,
                        yaw_range: float = 180.0, hard: bool = False, turn: float = 60.0,
                        pelvis: float = 0.25, noise_corr: float = 0.9, drop: float = 0.15,
                        seed: int = 0) -> SkeletonSet:
    """One sequence per action × subject × trial, seeded. ``sway`` (radians) adds a random
    slow idle motion of the spine, shoulders and hips to every trial, so that actions
    overlap; ``noise`` is the joint jitter (metres); every trial is turned about the vertical
    axis by a yaw uniform in [−``yaw_range``, +``yaw_range``] degrees (180: the full circle).
    ``hard``: the harder setting of the module docstring (:data:`HARD_ACTIONS`, ``turn``,
    ``pelvis``, ``noise_corr``, ``drop``); those four are unused otherwise."""
    if not 0 <= yaw_range <= 180:
        raise ValueError(f"yaw_range must be in [0, 180] degrees, got {yaw_range}")
    if hard and not (0 <= noise_corr < 1 and 0 <= drop <= 1 and turn >= 0 and pelvis >= 0):
        raise ValueError("hard skeletons need 0 ≤ noise_corr < 1, 0 ≤ drop ≤ 1, turn ≥ 0 and "
                         f"pelvis ≥ 0; got {noise_corr}, {drop}, {turn}, {pelvis}")
    table = HARD_ACTIONS if hard else ACTIONS
    names = tuple(actions or table)
    unknown = [a for a in names if a not in table]
    if unknown:
        raise ValueError(f"unknown actions {unknown}; allowed: {', '.join(table)}")
    rng = np.random.default_rng(seed)
    seqs, ys, subs, trials = [], [], [], []
    for s in range(n_subjects):
        scale = np.ones(len(JOINTS)) * rng.uniform(0.85, 1.15)  # height
        for bones in GROUPS.values():
            scale[list(bones)] *= rng.uniform(0.88, 1.12)
        for a, name in enumerate(names):
            for t in range(n_trials):
                T = int(rng.integers(length[0], length[1] + 1))
                phase = np.linspace(0, 1, T) ** rng.uniform(0.7, 1.4)
                amp = rng.uniform(0.7, 1.2)
                rots = {J[j]: _rot(axis, amp * ang)
                        for j, (axis, ang) in table[name](phase).items()}
                for j in ("spine", "shoulder_left", "shoulder_right", "hip_left", "hip_right"):
                    axis = "xyz"[int(rng.integers(3))]
                    idle = _rot(axis, sway * rng.uniform(-1, 1) * np.sin(
                        2 * np.pi * rng.uniform(0.3, 1.5) * phase + rng.uniform(0, 6.3)))
                    rots[J[j]] = rots[J[j]] @ idle if J[j] in rots else idle
                if hard:  # the pelvis rocks about both horizontal axes
                    rock = [_rot(a, pelvis * rng.uniform(-1, 1) * np.sin(
                        2 * np.pi * rng.uniform(0.5, 2.0) * phase + rng.uniform(0, 6.3)))
                        for a in "xz"]
                    rots[0] = rock[0] @ rock[1]
                x = forward_kinematics(scale, rots, T)
                half = np.deg2rad(yaw_range)
                yaw = _rot("y", np.array(rng.uniform(-half, half)))
                if hard:  # and the subject turns during the trial
                    drift = _rot("y", np.deg2rad(turn * rng.uniform(-1, 1)) * phase)
                    x = np.einsum("tij,tkj->tki", drift, x)
                x = rng.uniform(0.8, 1.25) * x @ yaw.T + rng.normal(0, 0.5, size=3)
                if hard:
                    seqs.append(_track(x + _ar_noise(rng, x.shape, noise, noise_corr), rng,
                                       drop))
                else:
                    seqs.append(x + rng.normal(0, noise, size=x.shape))
                ys.append(a)
                subs.append(s + 1)
                trials.append(t + 1)
    return SkeletonSet(seqs, np.array(ys), np.array(subs), np.array(trials), names,
                       "synthetic")


def _ar_noise(rng, shape, sd: float, rho: float) -> np.ndarray:
    """Joint noise with SD ``sd`` that drifts: AR(1) over frames with coefficient ``rho``."""
    e = rng.normal(0, sd, size=shape)
    for t in range(1, shape[0]):
        e[t] = rho * e[t - 1] + np.sqrt(1 - rho ** 2) * e[t]
    return e


def _track(x: np.ndarray, rng, drop: float) -> np.ndarray:
    """Tracking loss: each limb, with probability ``drop``, freezes at its last tracked
    position for a stretch of 20–40 % of the trial."""
    x = x.copy()
    T = len(x)
    for limb in LIMBS:
        if rng.uniform() < drop:
            n = max(1, int(T * rng.uniform(0.2, 0.4)))
            start = int(rng.integers(1, max(2, T - n)))
            joints = list(GROUPS[limb])
            x[start:start + n, joints] = x[start - 1, joints]
    return x


_UTD = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat$")


def load_utd_mhad(folder) -> SkeletonSet:
    """All ``a*_s*_t*_skeleton.mat`` files of ``folder`` (variable ``d_skel``, 20 × 3 × T)."""
    from scipy.io import loadmat

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"UTD-MHAD folder not found: {folder} (expected files named "
                        "a{action}_s{subject}_t{trial}_skeleton.mat)")
    files = sorted((p for p in folder.iterdir() if _UTD.search(p.name)),
                   key=lambda p: tuple(map(int, _UTD.search(p.name).groups())))
    if not files:
        raise DataError(f"no a*_s*_t*_skeleton.mat files in {folder}")
    seqs, ys, subs, trials = [], [], [], []
    for f in files:
        a, s, t = map(int, _UTD.search(f.name).groups())
        try:
            d = loadmat(f)["d_skel"]
        except KeyError:
            raise DataError(f"{f.name}: no variable d_skel") from None
        except Exception as e:  # scipy raises several types for broken files
            raise DataError(f"{f.name}: not a readable .mat file ({e})") from None
        if d.ndim != 3 or d.shape[:2] != (20, 3) or d.shape[2] < 1:
            raise DataError(f"{f.name}: d_skel has shape {d.shape}, expected (20, 3, T)")
        seqs.append(np.transpose(d, (2, 0, 1)).astype(float))
        ys.append(a - 1)
        subs.append(s)
        trials.append(t)
    n_actions = max(ys) + 1
    return SkeletonSet(seqs, np.array(ys), np.array(subs), np.array(trials),
                       tuple(f"a{i + 1}" for i in range(n_actions)), "utd-mhad")

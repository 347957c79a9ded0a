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
                        yaw_range: float = 180.0, seed: int = 0) -> SkeletonSet:
    """One sequence per action × subject × trial, seeded. ``sway`` (radians) adds a random
    slow idle motion of the spine, shoulders and hips to every trial, so that actions
    overlap; ``noise`` is the joint jitter (metres); every trial is turned about the vertical
    axis by a yaw uniform in [−``yaw_range``, +``yaw_range``] degrees (180: the full circle)."""
    if not 0 <= yaw_range <= 180:
        raise ValueError(f"yaw_range must be in [0, 180] degrees, got {yaw_range}")
    names = tuple(actions or ACTIONS)
    unknown = [a for a in names if a not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown actions {unknown}; allowed: {', '.join(ACTIONS)}")
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
                        for j, (axis, ang) in ACTIONS[name](phase).items()}
                for j in ("spine", "shoulder_left", "shoulder_right", "hip_left", "hip_right"):
                    axis = "xyz"[int(rng.integers(3))]
                    idle = _rot(axis, sway * rng.uniform(-1, 1) * np.sin(
                        2 * np.pi * rng.uniform(0.3, 1.5) * phase + rng.uniform(0, 6.3)))
                    rots[J[j]] = rots[J[j]] @ idle if J[j] in rots else idle
                x = forward_kinematics(scale, rots, T)
                half = np.deg2rad(yaw_range)
                yaw = _rot("y", np.array(rng.uniform(-half, half)))
                x = rng.uniform(0.8, 1.25) * x @ yaw.T + rng.normal(0, 0.5, size=3)
                seqs.append(x + rng.normal(0, noise, size=x.shape))
                ys.append(a)
                subs.append(s + 1)
                trials.append(t + 1)
    return SkeletonSet(seqs, np.array(ys), np.array(subs), np.array(trials), names,
                       "synthetic")


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

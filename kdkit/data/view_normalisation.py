"""View normalisation of a skeleton sequence: the body-centred frame most skeleton action
recognisers feed their networks.

For a sequence X (T, J, 3) with y the vertical axis:

1. **centre** on the mean hip-centre position, X ← X − mean_t X_t[hip_center];
2. **rotate** about the vertical axis so that the mean hip vector h = mean_t (X_t[hip_left] −
   X_t[hip_right]), projected on the floor (x, z), lies on +x: X ← X R_y(φ)ᵀ with
   φ = atan2(h_z, h_x) (R_y as in ``data.skeleton._rot``), so the subject faces the same way in
   every sequence;
3. **scale** by the torso length τ = mean_t |X_t[shoulder_center] − X_t[hip_center]|,
   X ← X / τ, so body size drops out.

One rotation and one scale per *sequence* (not per frame): the motion itself, turning included,
is kept. This is the usual preprocessing of skeleton action recognition — NTU RGB+D (Shahroudy,
Liu, Ng & Wang, CVPR 2016, https://arxiv.org/abs/1604.02808, §4: a body-centred frame with the
x axis along the body's left-right direction) and the view-invariant transforms of Vemulapalli,
Arrate & Chellappa (CVPR 2014) — applied with the hips, which move less than the shoulders in
arm actions. It removes exactly the nuisances a Procrustes-DTW teacher removes frame by frame
(facing, position, size), so a student that gets it has the same preprocessing as the teacher.
Joint indices are Kinect v1's (``data.skeleton.JOINTS``; UTD-MHAD uses the same order).
"""

from __future__ import annotations

import numpy as np

from .skeleton import J


def view_normalise(seq: np.ndarray, *, hip_center: int = J["hip_center"],
                   hip_left: int = J["hip_left"], hip_right: int = J["hip_right"],
                   shoulder_center: int = J["shoulder_center"]) -> np.ndarray:
    """The sequence (T, J, 3) centred, turned so its mean hip vector lies on +x, and divided by
    its torso length (module docstring). A sequence whose hips coincide (no hip vector) is
    not turned; one of zero torso length is not scaled."""
    x = np.asarray(seq, dtype=float)
    x = x - x[:, hip_center].mean(axis=0)
    h = (x[:, hip_left] - x[:, hip_right]).mean(axis=0)
    if np.hypot(h[0], h[2]) > 1e-12:
        phi = np.arctan2(h[2], h[0])
        c, s = np.cos(phi), np.sin(phi)
        rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        x = x @ rot.T
    torso = float(np.linalg.norm(x[:, shoulder_center] - x[:, hip_center], axis=1).mean())
    return x / torso if torso > 1e-12 else x

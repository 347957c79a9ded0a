"""MUNGE-style synthetic rows: unlabeled points near the training data for the teacher to label
(Buciluǎ, Caruana & Niculescu-Mizil, 2006, "Model compression", whose MUNGE generator this
simplifies). The transfer-set *design* (splits, gates, claims) is :mod:`kdkit.transfer_set`;
this module only makes rows. Each new point interpolates two random training rows and adds
Gaussian noise:

    x' = x_i + λ (x_j − x_i) + ε,   λ ~ U(0, 1),  ε ~ N(0, (σ · s)²)

with s the per-feature standard deviation. The teacher's probabilities on x' are soft targets
it did not fit to, unlike its (over-confident) probabilities on its own training rows.
"""

from __future__ import annotations

import numpy as np


def transfer_set(X: np.ndarray, n: int, *, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(X), size=(2, n))
    lam = rng.uniform(size=(n, 1))
    scale = X.std(axis=0)
    return X[i] + lam * (X[j] - X[i]) + rng.normal(size=(n, X.shape[1])) * noise * scale

"""Uniform negative sampling for BPR: for each observed (u, i), an item j ∉ train(u)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def sample_negatives(users: np.ndarray, train: sp.csr_matrix, rng: np.random.Generator,
                     n_neg: int = 1) -> np.ndarray:
    """Items drawn uniformly among each user's unobserved items, shape ``(len(users), n_neg)``.

    Rejection sampling: redraw only the entries that hit a training item.
    """
    n_items = train.shape[1]
    neg = rng.integers(0, n_items, size=(len(users), n_neg))
    u = np.repeat(users, n_neg).reshape(neg.shape)
    bad = np.asarray(train[u.ravel(), neg.ravel()]).reshape(neg.shape) > 0
    while bad.any():
        neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        bad[bad] = np.asarray(train[u[bad], neg[bad]]).ravel() > 0
    return neg

"""Soft targets from a distance-based (k-NN) teacher, and the KD loss that uses them
(seed 002, geometric_kd).

**Seed's targets** (``seed_soft_targets``, read from its notebooks): min-max normalise the whole
train × train matrix, d̃ = (d − min) / (max − min), then for every training sample i

    q_ij = exp(−d̃_ij / T) / Σ_j' exp(−d̃_ij' / T)   over *all* training samples j (i included),
    p_T(c | i) = Σ_{j : y_j = c} q_ij.

With d̃ ∈ [0, 1] and T = 3 this is almost uniform, and because d_ii = 0 a small T leaks
sample i's own label.

**Sound targets** (``class_soft_targets``): per class, the distance to its nearest member
(leave-one-out on the training set), in units of s = the median over rows of the nearest
distance, then a softmax over classes:

    p_T(c | i) = softmax_c(−min_{j ≠ i, y_j = c} d_ij / (T · s)).

T is chosen by ``choose_temperature``: the leave-one-out log-loss of the true label on the
training set. The student's loss is Hinton's, as in the seed,

    L = α · CE(z, y) + β · T² · KL(p_T ‖ softmax(z / T)).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def seed_soft_targets(D_train: np.ndarray, y: np.ndarray, temperature: float,
                      n_classes: int | None = None) -> np.ndarray:
    """The seed's class probabilities (n, C) for the training rows."""
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    lo, hi = D_train.min(), D_train.max()
    d = (D_train - lo) / (hi - lo if hi > lo else 1.0)
    q = _softmax(-d / temperature)
    return q @ np.eye(n_classes)[y]


def class_distances(D: np.ndarray, y_ref: np.ndarray, n_classes: int, *,
                    exclude_self: bool = False) -> np.ndarray:
    """(n, C): the distance from each row to the nearest reference sample of each class;
    ``exclude_self`` ignores the diagonal (D is train × train)."""
    D = np.array(D, dtype=float)
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    out = np.full((len(D), n_classes), np.inf)
    for c in range(n_classes):
        cols = y_ref == c
        if cols.any():
            out[:, c] = D[:, cols].min(axis=1)
    return out


def class_soft_targets(D: np.ndarray, y_ref: np.ndarray, temperature: float, n_classes: int, *,
                       exclude_self: bool = False, scale: float | None = None) -> np.ndarray:
    """Sound soft targets (n, C); ``scale`` defaults to the median nearest distance."""
    dc = class_distances(D, y_ref, n_classes, exclude_self=exclude_self)
    s = float(np.median(dc.min(axis=1))) if scale is None else scale
    return _softmax(-dc / (temperature * (s if s > 0 else 1.0)))


def choose_temperature(D_train: np.ndarray, y: np.ndarray, n_classes: int,
                       grid=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
                       ) -> tuple[float, dict]:
    """The T of ``grid`` with the lowest leave-one-out log-loss of the true label on the
    training set (each row scored against the other rows)."""
    losses = {}
    for t in grid:
        p = class_soft_targets(D_train, y, t, n_classes, exclude_self=True)
        losses[t] = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean())
    return min(losses, key=losses.get), losses


def knn_predict(D: np.ndarray, y_ref: np.ndarray, k: int, *, exclude_self: bool = False
                ) -> np.ndarray:
    """Majority vote of the k nearest (ties to the smallest label, as the seed)."""
    D = np.array(D, dtype=float)
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    nearest = np.argsort(D, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(D), int(y_ref.max()) + 1), dtype=int)
    np.add.at(votes, (np.repeat(np.arange(len(D)), k), y_ref[nearest].ravel()), 1)
    return votes.argmax(axis=1)


def kd_loss(logits: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor, temperature: float,
            alpha: float = 0.5, beta: float = 0.5) -> torch.Tensor:
    """α · CE + β · T² · KL(p_T ‖ softmax(z / T)), batch mean."""
    kl = F.kl_div(F.log_softmax(logits / temperature, dim=1), teacher, reduction="batchmean")
    return alpha * F.cross_entropy(logits, y) + beta * temperature ** 2 * kl

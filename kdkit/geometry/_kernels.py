"""numba kernels behind ``distance``: the Procrustes frame cost and DTW fused, one sequence
pair per parallel task, the cost matrix never stored (O(n) memory per pair)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _rotation(m, out):
    """Proper rotation maximising tr(Rᵀ m) (3 × 3): scaled Newton polar iteration, SVD when
    det m ≤ 0 or the iteration does not converge."""
    det = (m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
           - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
           + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]))
    s = 0.0
    for i in range(3):
        for j in range(3):
            s += abs(m[i, j])
    if det > 1e-9 * s * s * s:
        x = m.copy()
        cof = np.empty((3, 3))
        for _ in range(30):
            cof[0, 0] = x[1, 1] * x[2, 2] - x[1, 2] * x[2, 1]
            cof[0, 1] = x[1, 2] * x[2, 0] - x[1, 0] * x[2, 2]
            cof[0, 2] = x[1, 0] * x[2, 1] - x[1, 1] * x[2, 0]
            cof[1, 0] = x[0, 2] * x[2, 1] - x[0, 1] * x[2, 2]
            cof[1, 1] = x[0, 0] * x[2, 2] - x[0, 2] * x[2, 0]
            cof[1, 2] = x[0, 1] * x[2, 0] - x[0, 0] * x[2, 1]
            cof[2, 0] = x[0, 1] * x[1, 2] - x[0, 2] * x[1, 1]
            cof[2, 1] = x[0, 2] * x[1, 0] - x[0, 0] * x[1, 2]
            cof[2, 2] = x[0, 0] * x[1, 1] - x[0, 1] * x[1, 0]
            d = x[0, 0] * cof[0, 0] + x[0, 1] * cof[0, 1] + x[0, 2] * cof[0, 2]
            nx = 0.0
            ni = 0.0
            for i in range(3):
                for j in range(3):
                    nx += x[i, j] * x[i, j]
                    ni += cof[i, j] * cof[i, j]
            g = np.sqrt(np.sqrt(ni / (d * d) / nx))
            change = 0.0
            for i in range(3):
                for j in range(3):
                    v = 0.5 * (g * x[i, j] + cof[i, j] / (d * g))
                    change += abs(v - x[i, j])
                    x[i, j] = v
            if change < 1e-13:
                out[:, :] = x
                return
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    dr = (r[0, 0] * (r[1, 1] * r[2, 2] - r[1, 2] * r[2, 1])
          - r[0, 1] * (r[1, 0] * r[2, 2] - r[1, 2] * r[2, 0])
          + r[0, 2] * (r[1, 0] * r[2, 1] - r[1, 1] * r[2, 0]))
    if dr < 0:
        for i in range(3):
            u[i, 2] = -u[i, 2]
        r = u @ vt
    out[:, :] = r


@njit(cache=True)
def frame_cost(a, b, m, r):
    """Σ_k ‖(a R*)_k − b_k‖ for normalised frames a, b (J × 3); m, r are 3 × 3 scratch."""
    J = a.shape[0]
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(J):
                acc += a[k, i] * b[k, j]
            m[i, j] = acc
    _rotation(m, r)
    cost = 0.0
    for k in range(J):
        s = 0.0
        for j in range(3):
            v = a[k, 0] * r[0, j] + a[k, 1] * r[1, j] + a[k, 2] * r[2, j] - b[k, j]
            s += v * v
        cost += np.sqrt(s)
    return cost


@njit(cache=True)
def pair_dtw(fa, fb):
    """Plain DTW (steps ↓, →, ↘; no window, no normalisation) over Procrustes frame costs."""
    n = fb.shape[0]
    prev = np.full(n + 1, np.inf)
    cur = np.full(n + 1, np.inf)
    prev[0] = 0.0
    m = np.empty((3, 3))
    r = np.empty((3, 3))
    for i in range(fa.shape[0]):
        cur[0] = np.inf
        for j in range(n):
            best = min(prev[j], prev[j + 1], cur[j])
            cur[j + 1] = frame_cost(fa[i], fb[j], m, r) + best
        prev, cur = cur, prev
    return prev[n]


@njit(parallel=True, cache=True)
def distance_pairs(frames_a, offs_a, frames_b, offs_b, pairs):
    """DTW distance for each (i, j) row of ``pairs``; sequences are slices of the frame
    arrays given by the offsets."""
    out = np.empty(pairs.shape[0])
    for p in prange(pairs.shape[0]):
        i, j = pairs[p, 0], pairs[p, 1]
        out[p] = pair_dtw(frames_a[offs_a[i]:offs_a[i + 1]], frames_b[offs_b[j]:offs_b[j + 1]])
    return out

"""numba kernels behind ``distance``: the Procrustes frame cost and DTW fused, one sequence
pair per parallel task, the cost matrix never stored (O(n) memory per pair)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# fast-math without "no NaNs / no infs": the DTW recursion relies on inf
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _cof(x, cof):
    """Cofactor matrix of a 3 × 3 (inv(x)ᵀ = cof / det); returns det."""
    cof[0, 0] = x[1, 1] * x[2, 2] - x[1, 2] * x[2, 1]
    cof[0, 1] = x[1, 2] * x[2, 0] - x[1, 0] * x[2, 2]
    cof[0, 2] = x[1, 0] * x[2, 1] - x[1, 1] * x[2, 0]
    cof[1, 0] = x[0, 2] * x[2, 1] - x[0, 1] * x[2, 2]
    cof[1, 1] = x[0, 0] * x[2, 2] - x[0, 2] * x[2, 0]
    cof[1, 2] = x[0, 1] * x[2, 0] - x[0, 0] * x[2, 1]
    cof[2, 0] = x[0, 1] * x[1, 2] - x[0, 2] * x[1, 1]
    cof[2, 1] = x[0, 2] * x[1, 0] - x[0, 0] * x[1, 2]
    cof[2, 2] = x[0, 0] * x[1, 1] - x[0, 1] * x[1, 0]
    return x[0, 0] * cof[0, 0] + x[0, 1] * cof[0, 1] + x[0, 2] * cof[0, 2]


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _svd_rotation(m, out):
    u, _, vt = np.linalg.svd(m)
    r = u @ vt
    if np.linalg.det(r) < 0:
        for i in range(3):
            u[i, 2] = -u[i, 2]
        r = u @ vt
    out[:, :] = r


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _rotation(m, out, x, cof):
    """Proper rotation maximising tr(Rᵀ m) (3 × 3), without an SVD in the common case.

    The orthogonal polar factor Q = U Vᵀ of m comes from scaled Newton iterations
    Q ← ½(γQ + (γQ)^{-T}). If det m < 0, Q is a reflection and the answer is
    U diag(1, 1, −1) Vᵀ = Q (I − 2 v vᵀ), v the eigenvector of H = Qᵀ m = V Σ Vᵀ with the
    smallest eigenvalue (closed form). Near-singular m, or a Newton iteration that does not
    converge, falls back to LAPACK's SVD.
    """
    d = _cof(m, cof)
    s = 0.0
    for i in range(3):
        for j in range(3):
            s += abs(m[i, j])
    if abs(d) <= 1e-9 * s * s * s:
        _svd_rotation(m, out)
        return
    x[:, :] = m
    converged = False
    for _ in range(40):
        d = _cof(x, cof)
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
            converged = True
            break
    if not converged:
        _svd_rotation(m, out)
        return
    if _cof(x, cof) > 0:
        out[:, :] = x
        return
    h = x.T @ m  # symmetric positive definite: V Σ Vᵀ
    v = np.empty(3)
    if not _smallest_eigenvector(0.5 * (h + h.T), v):  # repeated eigenvalues
        _svd_rotation(m, out)
        return
    qv = x @ v
    for i in range(3):
        for j in range(3):
            out[i, j] = x[i, j] - 2.0 * qv[i] * v[j]


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _smallest_eigenvector(a, v):
    """Write into v the unit eigenvector of the smallest eigenvalue of a symmetric 3 × 3
    (closed-form eigenvalue, Smith 1961; the vector from cross products of the rows of
    a − λI). Returns False when it is not unique (repeated eigenvalues)."""
    p1 = a[0, 1] ** 2 + a[0, 2] ** 2 + a[1, 2] ** 2
    q = (a[0, 0] + a[1, 1] + a[2, 2]) / 3.0
    p2 = (a[0, 0] - q) ** 2 + (a[1, 1] - q) ** 2 + (a[2, 2] - q) ** 2 + 2.0 * p1
    p = np.sqrt(p2 / 6.0)
    if p < 1e-12:
        return False
    b = (a - q * np.eye(3)) / p
    r = (b[0, 0] * (b[1, 1] * b[2, 2] - b[1, 2] * b[2, 1])
         - b[0, 1] * (b[1, 0] * b[2, 2] - b[1, 2] * b[2, 0])
         + b[0, 2] * (b[1, 0] * b[2, 1] - b[1, 1] * b[2, 0])) / 2.0
    r = min(1.0, max(-1.0, r))
    lam = q + 2.0 * p * np.cos(np.arccos(r) / 3.0 + 2.0 * np.pi / 3.0)
    c = a - lam * np.eye(3)
    best = np.zeros(3)
    bn = -1.0
    for i, j in ((0, 1), (0, 2), (1, 2)):
        w = np.cross(c[i], c[j])
        n = w[0] * w[0] + w[1] * w[1] + w[2] * w[2]
        if n > bn:
            bn, best = n, w
    if bn < 1e-20:
        return False
    v[:] = best / np.sqrt(bn)
    return True


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def frame_cost(a, b, m, r, x, cof):
    """Σ_k ‖(a R*)_k − b_k‖ for normalised frames a, b (J × 3); m, r, x, cof: 3 × 3 scratch."""
    J = a.shape[0]
    for i in range(3):
        for j in range(3):
            acc = 0.0
            for k in range(J):
                acc += a[k, i] * b[k, j]
            m[i, j] = acc
    _rotation(m, r, x, cof)
    cost = 0.0
    for k in range(J):
        s = 0.0
        for j in range(3):
            v = a[k, 0] * r[0, j] + a[k, 1] * r[1, j] + a[k, 2] * r[2, j] - b[k, j]
            s += v * v
        cost += np.sqrt(s)
    return cost


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def pair_dtw(fa, fb):
    """Plain DTW (steps ↓, →, ↘; no window, no normalisation) over Procrustes frame costs."""
    n = fb.shape[0]
    prev = np.full(n + 1, np.inf)
    cur = np.full(n + 1, np.inf)
    prev[0] = 0.0
    m = np.empty((3, 3))
    r = np.empty((3, 3))
    x = np.empty((3, 3))
    cof = np.empty((3, 3))
    for i in range(fa.shape[0]):
        cur[0] = np.inf
        for j in range(n):
            best = min(prev[j], prev[j + 1], cur[j])
            cur[j + 1] = frame_cost(fa[i], fb[j], m, r, x, cof) + best
        prev, cur = cur, prev
    return prev[n]


@njit(parallel=True, cache=True, error_model="numpy")
def distance_pairs(frames_a, offs_a, frames_b, offs_b, pairs):
    """DTW distance for each (i, j) row of ``pairs``; sequences are slices of the frame
    arrays given by the offsets."""
    out = np.empty(pairs.shape[0])
    for p in prange(pairs.shape[0]):
        i, j = pairs[p, 0], pairs[p, 1]
        out[p] = pair_dtw(frames_a[offs_a[i]:offs_a[i + 1]], frames_b[offs_b[j]:offs_b[j + 1]])
    return out

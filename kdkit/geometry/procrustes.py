"""Procrustes alignment of skeleton frames (seed 002; Gower, 1975; Kabsch, 1976).

A frame is J joints × 3. Each frame is centred on its centroid and scaled to unit Frobenius
norm, X₀ = (X − x̄) / ‖X − x̄‖_F. For two frames the optimal rotation is

    R* = argmin_{R ∈ SO(3)} ‖X₀ R − Y₀‖_F = U diag(1, 1, d) Vᵀ,   X₀ᵀ Y₀ = U Σ Vᵀ,
    d = sign det(U Vᵀ)   (the reflection fix),

and the seed's frame cost is the sum of per-joint Euclidean residuals (not squared)

    c(X, Y) = Σ_k ‖(X₀ R*)_k − Y₀,k‖₂ .

It is invariant to translation, scale and rotation of either frame, and symmetric.

``frame_costs`` computes it for every pair of two frame stacks at once. The rotation is the
orthogonal polar factor of M = X₀ᵀ Y₀, found by scaled Newton iterations
X ← ½(γX + (γX)^{-T}) on all pairs in parallel (Higham, 1986), with an SVD fallback for the
pairs where det M ≤ 0 (a reflection) or the iteration has not converged.
"""

from __future__ import annotations

import numpy as np


def normalize_frames(frames: np.ndarray) -> np.ndarray:
    """Centre each frame (…, J, 3) on its centroid and scale it to unit Frobenius norm."""
    x = frames - frames.mean(axis=-2, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=(-2, -1), keepdims=True))
    return x / np.where(norm > 0, norm, 1.0)


def _cofactor(m: np.ndarray) -> np.ndarray:
    """Cofactor matrices of a stack (K, 3, 3): inv(m)ᵀ = cof(m) / det(m)."""
    r0, r1, r2 = m[:, 0], m[:, 1], m[:, 2]
    return np.stack([np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)], axis=1)


def _svd_rotation(m: np.ndarray) -> np.ndarray:
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, 2] *= np.where(d == 0, 1.0, d)[:, None]
    return u @ vt


def optimal_rotations(m: np.ndarray, iterations: int = 12, tol: float = 1e-10) -> np.ndarray:
    """R* (K, 3, 3) maximising tr(Rᵀ M) over proper rotations, for each M of a stack."""
    m = np.asarray(m, dtype=float)
    out = np.empty_like(m)
    det = np.linalg.det(m)
    scale = np.abs(m).sum(axis=(1, 2)) + 1e-300
    ok = det > 1e-9 * scale ** 3
    x = m[ok]
    for _ in range(iterations):
        cof = _cofactor(x)
        d = np.einsum("kij,kij->k", x, cof) / 3.0  # det via cofactor expansion
        inv_t = cof / d[:, None, None]
        gamma = np.sqrt(np.sqrt((inv_t ** 2).sum(axis=(1, 2)) / (x ** 2).sum(axis=(1, 2))))
        x = 0.5 * (gamma[:, None, None] * x + inv_t / gamma[:, None, None])
    err = np.abs(np.einsum("kji,kjl->kil", x, x) - np.eye(3)).max(axis=(1, 2))
    good = err < 1e-8 if tol is None else err < max(tol, 1e-8)
    idx = np.flatnonzero(ok)
    out[idx[good]] = x[good]
    redo = np.concatenate([np.flatnonzero(~ok), idx[~good]])
    if redo.size:
        out[redo] = _svd_rotation(m[redo])
    return out


def frame_costs(a: np.ndarray, b: np.ndarray, *, normalized: bool = False) -> np.ndarray:
    """Cost matrix (m, n) between frame stacks a (m, J, 3) and b (n, J, 3)."""
    if not normalized:
        a, b = normalize_frames(a), normalize_frames(b)
    m, n = len(a), len(b)
    cross = np.einsum("mjk,njl->mnkl", a, b).reshape(m * n, 3, 3)
    rot = optimal_rotations(cross).reshape(m, n, 3, 3)
    resid = np.einsum("mjk,mnkl->mnjl", a, rot) - b[None]
    return np.sqrt((resid ** 2).sum(axis=-1)).sum(axis=-1)


def align(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised x rotated onto normalised y, and normalised y (for pictures)."""
    x0, y0 = normalize_frames(x), normalize_frames(y)
    r = optimal_rotations((x0.T @ y0)[None])[0]
    return x0 @ r, y0

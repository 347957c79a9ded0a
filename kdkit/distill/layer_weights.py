"""Per-layer weights for layerwise distillation (seed 003, fisher_layerwise).

Every scheme returns w ∈ ℝ^L normalised to mean 1 (Σ w = L), so γ in
L = task + γ Σ_l w_l · MSE(proj(h_S^l), h_T^{m(l)}) keeps its scale across schemes:

* ``uniform``: w_l = 1;
* ``linear``: w_l ∝ l + 1;
* ``exponential``: w_l ∝ e^{l/(L−1)} − 1 (the first layer gets 0);
* ``fisher``: w_l ∝ F_l, the layer's diagonal empirical Fisher (``fisher.layer_fisher``);
* ``fisher_semantic``: w_l ∝ F_l · (1 + β · l/(L−1));
* ``seed_heuristic``: the seed's default "Fisher" weights, which are a closed form of depth
  (read from the project's code), *not* normalised to mean 1 but clipped as
  it does: base_l = ((l+1)/L)^0.8, boost_l = 0.5 / 1.0 / min(1 + (r − 0.6)·1.5, 3) for
  r = l/(L−1) < 0.3 / < 0.6 / else, relevance_l = 0.1 / 0.3 / 0.6 / 1.0 by quartile of l/L,
  f_l = base_l · boost_l · (1 + relevance_l), f_l ×= 1 + (r − 0.5)·2β when r > 0.5 (β = 1.5),
  w = clip(2 f / mean f, 0.1, 5).
"""

from __future__ import annotations

import numpy as np

SCHEMES = ("uniform", "linear", "exponential", "seed_heuristic", "fisher", "fisher_semantic")


def _mean_one(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    if w.sum() <= 0:
        raise ValueError("layer weights must have a positive sum")
    return w * len(w) / w.sum()


def seed_heuristic(n_layers: int, beta: float = 1.5) -> np.ndarray:
    """The seed's depth formula, exactly (for L = 12: 0.10, 0.12, 0.17, 0.25, 0.59, 0.69,
    1.09, 1.58, 2.34, 4.13, 5.00, 5.00)."""
    L = n_layers
    f = np.empty(L)
    for i in range(L):
        r = i / (L - 1) if L > 1 else 0.0
        q = i / L
        base = ((i + 1) / L) ** 0.8
        boost = 0.5 if r < 0.3 else 1.0 if r < 0.6 else min(1 + (r - 0.6) * 1.5, 3.0)
        relevance = 0.1 if q < 0.25 else 0.3 if q < 0.5 else 0.6 if q < 0.75 else 1.0
        f[i] = base * boost * (1 + relevance)
        if r > 0.5:
            f[i] *= 1 + (r - 0.5) * 2 * beta
    return np.clip(2 * f / f.mean(), 0.1, 5.0)


def layer_weights(scheme: str, n_layers: int, *, fisher=None, beta: float = 1.5) -> np.ndarray:
    """Weights of ``scheme`` for ``n_layers`` student layers (see the module docstring)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    L = n_layers
    depth = np.arange(L) / (L - 1) if L > 1 else np.zeros(1)
    if scheme == "uniform":
        return np.ones(L)
    if scheme == "linear":
        return _mean_one(np.arange(1, L + 1))
    if scheme == "exponential":
        return _mean_one(np.exp(depth) - 1) if L > 1 else np.ones(1)
    if scheme == "seed_heuristic":
        return seed_heuristic(L, beta)
    if fisher is None or len(fisher) != L:
        raise ValueError(f"scheme {scheme} needs one Fisher value per layer ({L})")
    f = np.asarray(fisher, dtype=float)
    return _mean_one(f if scheme == "fisher" else f * (1 + beta * depth))

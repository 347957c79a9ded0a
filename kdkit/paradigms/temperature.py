"""Temperature-scaled teacher probabilities (Hinton, Vinyals & Dean, 2015).

    q_c(x; T) = p_c(x)^{1/T} / Σ_k p_k(x)^{1/T}  =  softmax(log p(x) / T)_c

is the teacher's softmax at temperature T when only its probabilities are known.

Dynamic temperature (seed 000's "adaptive temperature", never called in its code):

    T = T0 · (1 + 0.1 · mean_i H(p(x_i)) / log C)

so T grows by at most 10 % when the teacher is maximally uncertain.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def temper(p: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of ``p`` (n, C) sharpened (T < 1) or softened (T > 1)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = np.log(np.clip(p, EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    q = np.exp(logits)
    return q / q.sum(axis=1, keepdims=True)


def normalized_entropy(p: np.ndarray) -> np.ndarray:
    """H(p(x)) / log C for every row, in [0, 1]."""
    c = p.shape[1]
    h = -(p * np.log(np.clip(p, EPS, 1.0))).sum(axis=1)
    return h / np.log(c) if c > 1 else np.zeros(len(p))


def dynamic_temperature(p: np.ndarray, t0: float = 3.0, gain: float = 0.1) -> float:
    """The seed's T = T0 · (1 + gain · mean normalised entropy of the teacher)."""
    return float(t0 * (1.0 + gain * normalized_entropy(p).mean()))

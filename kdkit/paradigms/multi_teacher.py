"""Attention-weighted multi-teacher soft targets (the seed's claim; its code drew random
fixed weights). For teachers t = 1..M with probabilities p_t(x):

    a_t       = mean_x 1[argmax p_t(x) = argmax p̄_{−t}(x)]   (agreement with the others)
    c_t(x)    = 1 − H(p_t(x)) / log C                        (confidence)
    w_t(x)    = softmax_t((a_t + c_t(x)) / τ)
    p(x)      = Σ_t w_t(x) p_t(x)

so a teacher that agrees with the rest and is confident on x gets most of the weight there.
"""

from __future__ import annotations

import numpy as np

from .temperature import normalized_entropy


def agreement(probs: list[np.ndarray]) -> np.ndarray:
    """a_t: how often teacher t's argmax matches that of the mean of the other teachers."""
    out = []
    for t, p in enumerate(probs):
        others = np.mean([q for s, q in enumerate(probs) if s != t], axis=0)
        out.append(float((p.argmax(axis=1) == others.argmax(axis=1)).mean()))
    return np.array(out)


def attention_weights(probs: list[np.ndarray], tau: float = 0.1) -> np.ndarray:
    """w (M, n): per-teacher, per-sample weights summing to 1 over teachers."""
    a = agreement(probs)
    score = np.stack([a[t] + 1 - normalized_entropy(p) for t, p in enumerate(probs)]) / tau
    score -= score.max(axis=0, keepdims=True)
    w = np.exp(score)
    return w / w.sum(axis=0, keepdims=True)


def combine(probs: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Σ_t w_t p_t for weights of shape (M,) or (M, n)."""
    w = np.asarray(weights, dtype=float)
    w = w[:, :, None] if w.ndim == 2 else w[:, None, None]
    return (w * np.stack(probs)).sum(axis=0)

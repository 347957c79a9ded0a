"""Stream distillation: a student learns online, one mini-batch at a time, from a teacher's
labels on a stream it never stores (the source's ``StreamDistillationProcessor`` was never
instantiated).

The student is a multinomial logistic regression trained by plain SGD with a **constant**
learning rate η on the soft log-loss of each mini-batch B,

    ℓ_B(W, b) = −(1/|B|) Σ_{x ∈ B} Σ_c q_c(x) log softmax(W x + b)_c + (λ/2)‖W‖²,

one step per mini-batch whatever the targets are: the true labels (one-hot q), the teacher's
hard labels (one-hot of its argmax) or its tempered soft labels. So the three arms take exactly
the same steps on the same rows; only q differs. (Before, soft labels were expanded into up to
C weighted rows for ``SGDClassifier``, whose "optimal" learning rate decays with every row it
sees: soft targets then decayed the rate faster, which alone made them look worse.)
"""

from __future__ import annotations

import numpy as np

from .temperature import temper

TARGETS = ("labels", "hard", "soft")


class OnlineSoftmax:
    """Multinomial logistic regression updated by ``step(X, Q)`` (Q: target distributions)."""

    def __init__(self, n_features: int, n_classes: int, *, lr: float = 0.05,
                 l2: float = 1e-4):
        self.W = np.zeros((n_features, n_classes))
        self.b = np.zeros(n_classes)
        self.lr, self.l2 = lr, l2

    def proba(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.W + self.b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def step(self, X: np.ndarray, Q: np.ndarray) -> None:
        """One SGD step on the mini-batch's soft log-loss."""
        G = (self.proba(X) - Q) / len(X)
        self.W -= self.lr * (X.T @ G + self.l2 * self.W)
        self.b -= self.lr * G.sum(axis=0)


def stream_targets(targets: str, y_idx: np.ndarray, teacher_probs, temperature: float,
                   n_classes: int) -> np.ndarray:
    """Q for every row: one-hot labels, the teacher's one-hot argmax, or its tempered
    probabilities."""
    if targets == "labels":
        return np.eye(n_classes)[y_idx]
    if targets == "hard":
        return np.eye(n_classes)[np.asarray(teacher_probs).argmax(axis=1)]
    if targets == "soft":
        return temper(np.asarray(teacher_probs, dtype=float), temperature)
    raise ValueError(f"targets must be one of {', '.join(TARGETS)}, got {targets!r}")


def stream_distill(X, y, X_test, y_test, *, targets: str, teacher_probs=None,
                   batch_size: int = 64, passes: int = 1, temperature: float = 2.0,
                   lr: float = 0.05, seed: int = 0):
    """Train online over a shuffled stream; return (model, accuracy after each batch).

    The standardisation is fitted on the first batch only, as a stream would.
    """
    classes = np.unique(y)
    y_idx = np.searchsorted(classes, y)
    Q = stream_targets(targets, y_idx, teacher_probs, temperature, len(classes))
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(X)) for _ in range(passes)])
    first = X[order[:batch_size]]
    mu, sd = first.mean(axis=0), first.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Xs, Xt = (X - mu) / sd, (X_test - mu) / sd
    model = OnlineSoftmax(X.shape[1], len(classes), lr=lr)
    curve = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        model.step(Xs[idx], Q[idx])
        curve.append(float((classes[model.proba(Xt).argmax(axis=1)] == y_test).mean()))
    return model, curve

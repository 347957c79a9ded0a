"""Stream distillation: a student learns online, one mini-batch at a time, from a teacher's
labels on a stream it never stores (the seed's ``StreamDistillationProcessor`` was never
instantiated). The student is a linear model trained by SGD (``SGDClassifier.partial_fit``,
log loss); soft targets enter through soft-label sample weighting
(``soft_weighting.expand_soft_rows``).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from .soft_weighting import expand_soft_rows
from .temperature import temper


def stream_distill(X, y, X_test, y_test, *, targets: str, teacher_probs=None,
                   batch_size: int = 64, passes: int = 1, temperature: float = 2.0,
                   seed: int = 0):
    """Train online over a shuffled stream; return (model, accuracy after each batch).

    ``targets``: ``"labels"`` (true labels, no teacher), ``"hard"`` (teacher argmax) or
    ``"soft"`` (teacher probabilities at ``temperature``). The scaler is fitted on the first
    batch only, as a stream would.
    """
    if targets not in ("labels", "hard", "soft"):
        raise ValueError(f"targets must be labels, hard or soft, got {targets!r}")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    model = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=seed)
    order = np.concatenate([rng.permutation(len(X)) for _ in range(passes)])
    scaler = StandardScaler().fit(X[order[:batch_size]])
    curve = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        xb = scaler.transform(X[idx])
        if targets == "labels":
            model.partial_fit(xb, y[idx], classes=classes)
        elif targets == "hard":
            model.partial_fit(xb, classes[teacher_probs[idx].argmax(axis=1)], classes=classes)
        else:
            xe, ce, we = expand_soft_rows(xb, temper(teacher_probs[idx], temperature))
            model.partial_fit(xe, classes[ce], classes=classes, sample_weight=we)
        curve.append(float((model.predict(scaler.transform(X_test)) == y_test).mean()))
    return model, curve

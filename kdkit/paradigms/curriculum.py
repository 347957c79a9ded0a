"""Progressive (curriculum) distillation, really staged (Bengio et al., 2009, curriculum
learning; the seed computed this curriculum and then trained on all data). Rows are sorted
by the teacher's normalised entropy, easiest first; stage k of K trains a warm-started student
on the easiest k/K of the rows with their soft targets, for 2·epochs/(K + 1) epochs, so that
the whole curriculum makes as many passes over rows as ``epochs`` epochs on all of them.
Classes and input scaling are set from all rows first (an easy stage may miss a class).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from .temperature import normalized_entropy


def stages(teacher_probs: np.ndarray, n_stages: int = 3) -> list[np.ndarray]:
    """Row indices of each cumulative stage, easiest (lowest teacher entropy) first."""
    order = np.argsort(normalized_entropy(teacher_probs), kind="stable")
    n = len(order)
    return [order[: int(round(n * (k + 1) / n_stages))] for k in range(n_stages)]


def fit_curriculum(student, X, y, teacher_probs, n_stages: int = 3):
    """Fit a clone of ``student`` (a ``SoftTargetMLP``) stage by stage; return it."""
    total = student.epochs
    model = clone(student).set_params(warm_start=True, epochs=0).fit(X, y)  # classes, scaling
    model.set_params(epochs=max(1, round(2 * total / (n_stages + 1))))
    for idx in stages(teacher_probs, n_stages):
        model.fit(X[idx], y[idx], soft_targets=teacher_probs[idx])
    return model

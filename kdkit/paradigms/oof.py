"""Out-of-fold (cross-fitted) teacher outputs: a student or a stacker never learns from a
teacher's predictions on rows that teacher was trained on.

With K stratified folds of the training rows, row i's output comes from the teacher fitted on
the other K − 1 folds:

    p̂(x_i) = f^{(−k(i))}(x_i),

so a teacher that reproduces its training labels (a random forest, an RBF SVM) gives the
student what it would say on new data, not the labels back (Wolpert, 1992, stacked
generalization; the cross-fitting of double machine learning, Chernozhukov et al., 2018).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold


def oof_proba(model, X: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0,
              fold_hook=None) -> np.ndarray:
    """(n, C) probabilities of every training row from a clone of ``model`` fitted without
    that row's fold; classes in the order of ``np.unique(y)``. ``fold_hook(model, test_idx)``
    is called with each fitted fold model (e.g. to read hidden layers out of fold)."""
    classes = np.unique(y)
    out = np.zeros((len(X), len(classes)))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in cv.split(X, y):
        m = clone(model).fit(X[train_idx], y[train_idx])
        out[np.ix_(test_idx, np.searchsorted(classes, m.classes_))] = m.predict_proba(
            X[test_idx])
        if fold_hook is not None:
            fold_hook(m, test_idx)
    return out

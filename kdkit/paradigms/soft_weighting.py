"""Soft targets for any scikit-learn classifier that accepts ``sample_weight``: soft-label
sample weighting. Each training row x is repeated once per class c with weight

    w_c(x) = α · 1[y = c] + (1 − α) · q_c(x; T)

(q the teacher's tempered probabilities), so the weighted empirical risk equals the expected
loss under the soft label. Every weight is kept (``min_weight = 0``: dropping the small ones
would move the targets toward the teacher's argmax). This is how tree ensembles, SVMs and
linear models learn from soft targets here; it is the classification counterpart of regressing
on the teacher's outputs (Buciluǎ, Caruana & Niculescu-Mizil, 2006) without changing the
student's model class.

**The same tree size.** An expanded set has m ≈ C·n rows, so a count-based stopping rule
(``min_samples_split``, ``min_samples_leaf``) would let the trees grow deeper than on the n
original rows. Those counts are multiplied by the expansion factor m / n before fitting, so a
node needs as much of the original data to split as without soft targets.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .temperature import temper


def expand_soft_rows(X, weights: np.ndarray, min_weight: float = 0.0):
    """(X repeated per class, class index per row, weight per row) for weights > 0 and
    ≥ min_weight.

    ``weights`` is (n, C); each row's kept weights are renormalised to sum to 1, so every
    original row keeps total weight 1.
    """
    w = np.where((weights >= min_weight) & (weights > 0), weights, 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    rows, cls = np.nonzero(w)
    return np.asarray(X)[rows], cls, w[rows, cls]


class SoftLabelWeighting(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Wrap ``estimator`` so ``fit(X, y, soft_targets=P)`` trains it on soft labels."""

    def __init__(self, estimator=None, alpha=0.5, temperature=2.0, min_weight=0.0):
        self.estimator = estimator
        self.alpha = alpha
        self.temperature = temperature
        self.min_weight = min_weight

    def fit(self, X, y, soft_targets=None, reference_rows: int | None = None):
        """Fit on soft labels. ``reference_rows``: the row count the tree-size rule refers to
        (default ``len(X)``; a transfer set's extra rows should not grow the trees)."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        yi = np.searchsorted(self.classes_, y)
        onehot = np.eye(len(self.classes_))[yi]
        if soft_targets is None:
            weights = onehot
        else:
            if np.shape(soft_targets) != onehot.shape:
                raise ValueError(f"soft_targets must have shape {onehot.shape}, "
                                 f"got {np.shape(soft_targets)}")
            weights = self.alpha * onehot + (1 - self.alpha) * temper(
                np.asarray(soft_targets, dtype=float), self.temperature)
        Xe, ce, we = expand_soft_rows(X, weights, self.min_weight)
        est = clone(self.estimator)
        factor = len(Xe) / (reference_rows or len(X))
        params = est.get_params()
        scaled = {k: max(int(round(params[k] * factor)), 2 if k == "min_samples_split" else 1)
                  for k in ("min_samples_split", "min_samples_leaf")
                  if isinstance(params.get(k), int)}
        self.estimator_ = est.set_params(**scaled).fit(Xe, ce,
                                                       sample_weight=we * len(X) / we.sum())
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False)
        p = np.zeros((len(X), len(self.classes_)))
        p[:, self.estimator_.classes_] = self.estimator_.predict_proba(X)
        return p

    def predict(self, X):
        proba = self.predict_proba(X)  # raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

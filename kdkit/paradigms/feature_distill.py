"""Feature-level distillation (FitNets hints; Romero et al., 2015): the student's last hidden
layer h_S(x), through a learned linear map W, regresses the teacher's last hidden layer
h_T(x) (standardised): loss term β · ‖W h_S(x) − h_T(x)‖² / d_T (``SoftTargetMLP``'s
``hints``). Only families with a hidden representation take part: the sklearn MLP teachers
here, whose hidden layers are recomputed from ``coefs_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline


def mlp_hidden(model, X) -> np.ndarray:
    """Last hidden layer (ReLU) of a fitted sklearn ``MLPClassifier`` or a pipeline ending in
    one (earlier steps transform X)."""
    if isinstance(model, Pipeline):
        X = model[:-1].transform(X)
        model = model[-1]
    if not isinstance(model, MLPClassifier):
        raise TypeError(f"{type(model).__name__} has no hidden layer")
    h = np.asarray(X, dtype=float)
    for w, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0.0)
    return h


def hint_targets(model, X) -> np.ndarray:
    """The teacher's hidden layer on X, standardised per unit (dead units stay 0)."""
    h = mlp_hidden(model, X)
    sd = h.std(axis=0)
    return (h - h.mean(axis=0)) / np.where(sd > 0, sd, 1.0)

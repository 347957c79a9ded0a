"""A torch MLP (or, with no hidden layer, multinomial logistic regression) that trains on
soft targets: the classic distillation loss of Hinton, Vinyals & Dean (2015),

    L = α · CE(y, softmax(z)) + (1 − α) · T² · KL(q_T ‖ softmax(z / T))
        + β · ‖W h(x) − t(x)‖² / d_t                      (optional hint, FitNets 2015)

with q_T the teacher's probabilities at temperature T (``temperature.temper``), h(x) the
student's last hidden layer, t(x) a teacher representation (``feature_distill``) and W a
learned projection. Without soft targets it is a plain classifier trained on labels.
Inputs are standardised inside ``fit``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from .temperature import temper


class SoftTargetMLP(ClassifierMixin, BaseEstimator):
    """Classifier trained by ``fit(X, y, soft_targets=None, hints=None)``.

    Parameters: ``hidden_layer_sizes`` (``()`` = linear model), ``alpha`` (weight of the
    hard-label term; 1.0 ignores soft targets), ``temperature``, ``hint_weight`` β,
    ``weight_decay``, ``lr``, ``epochs``, ``batch_size``, ``warm_start`` (keep training the
    fitted network; used by the curriculum), ``random_state``, ``classes`` (every class label,
    for a student whose ``y`` — a teacher's argmax on unlabelled rows — may miss some; default:
    the labels in ``y``).
    """

    def __init__(self, hidden_layer_sizes=(32,), alpha=0.5, temperature=2.0, hint_weight=1.0,
                 weight_decay=1e-4, lr=1e-2, epochs=40, batch_size=256, warm_start=False,
                 random_state=0, classes=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.temperature = temperature
        self.hint_weight = hint_weight
        self.weight_decay = weight_decay
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.warm_start = warm_start
        self.random_state = random_state
        self.classes = classes

    def _build(self, n_in: int, n_out: int, n_hint: int | None):
        layers, width = [], n_in
        for h in self.hidden_layer_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body_ = nn.Sequential(*layers)
        self.head_ = nn.Linear(width, n_out)
        self.hint_proj_ = nn.Linear(width, n_hint) if n_hint else None

    def fit(self, X, y, soft_targets=None, hints=None):
        fitted = self.warm_start and hasattr(self, "head_")
        X, y = validate_data(self, X, y, reset=not fitted)
        check_classification_targets(y)
        if not fitted:
            self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
            if not np.isin(y, self.classes_).all():
                raise ValueError("y holds labels outside classes")
            self.mean_ = X.mean(axis=0)
            self.scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        yi = np.searchsorted(self.classes_, y)
        if soft_targets is not None and np.shape(soft_targets) != (len(X), len(self.classes_)):
            raise ValueError(f"soft_targets must have shape {(len(X), len(self.classes_))}, "
                             f"got {np.shape(soft_targets)}")
        g = torch.Generator().manual_seed(int(self.random_state))
        torch.manual_seed(int(self.random_state))
        if not fitted:
            self._build(X.shape[1], len(self.classes_),
                        None if hints is None else np.shape(hints)[1])
        params = [*self.body_.parameters(), *self.head_.parameters()]
        if self.hint_proj_ is not None:
            params += list(self.hint_proj_.parameters())
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        xt = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        yt = torch.as_tensor(yi)
        qt = None if soft_targets is None else torch.as_tensor(
            temper(np.asarray(soft_targets, dtype=float), self.temperature), dtype=torch.float32)
        ht = None if hints is None or self.hint_proj_ is None else torch.as_tensor(
            np.asarray(hints), dtype=torch.float32)
        T, a = float(self.temperature), float(self.alpha)
        for _ in range(self.epochs):
            for idx in torch.randperm(len(xt), generator=g).split(self.batch_size):
                h = self.body_(xt[idx])
                z = self.head_(h)
                loss = nn.functional.cross_entropy(z, yt[idx])
                if qt is not None:
                    kd = nn.functional.kl_div(nn.functional.log_softmax(z / T, dim=1), qt[idx],
                                              reduction="batchmean")
                    loss = a * loss + (1 - a) * T * T * kd
                if ht is not None:
                    loss = loss + self.hint_weight * nn.functional.mse_loss(
                        self.hint_proj_(h), ht[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    def _forward(self, X):
        check_is_fitted(self, "head_")
        X = validate_data(self, X, reset=False)
        with torch.no_grad():
            h = self.body_(torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32))
            return h, self.head_(h)

    def hidden(self, X) -> np.ndarray:
        """The last hidden layer (the logits for a linear model), as the representation."""
        h, z = self._forward(X)
        return (h if self.hidden_layer_sizes else z).numpy()

    def predict_proba(self, X):
        return torch.softmax(self._forward(X)[1], dim=1).numpy().astype(float)

    def predict(self, X):
        proba = self.predict_proba(X)  # raises NotFittedError before classes_ is read
        return self.classes_[proba.argmax(axis=1)]

    def n_parameters(self) -> int:
        check_is_fitted(self, "head_")
        return sum(p.numel() for p in [*self.body_.parameters(), *self.head_.parameters()])

"""Federated distillation with non-IID clients (in the spirit of FedMD, Li & Wang 2019, and
ensemble distillation for federated learning, Lin et al. 2020).

Training rows are split over K clients by a Dirichlet(β) draw per class (small β = very
non-IID). Each client fits its own model on its rows; the server sees no labels, only every
client's probabilities on shared unlabeled inputs, and averages them by client size (the
source's aggregation, FedAvg's weights: McMahan et al. 2017):

    p(c | x) = Σ_k (n_k / n) · p_k(c | x)

An earlier kdkit weighted each client per class by its share of that class (n_kc / Σ_j n_jc);
a client's p_k already carries its own class prior, so that counted the prior twice (on the
transfer rows of cross_paradigm the labelling accuracy fell from 0.494 to 0.369; kdkit issue 37).
The student then trains on these aggregated soft targets (the source's code computed a size-
weighted average and discarded it). ``iid_split`` deals the rows out uniformly at random
instead, the control for how much the non-IID split costs.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier


def dirichlet_split(y: np.ndarray, n_clients: int, beta: float = 0.5, seed: int = 0):
    """Row indices per client; every client gets at least one row."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(n_clients)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = (np.cumsum(rng.dirichlet(np.full(n_clients, beta))) * len(idx)).astype(int)[:-1]
        for k, chunk in enumerate(np.split(idx, cuts)):
            parts[k].extend(chunk.tolist())
    for k in range(n_clients):  # no empty client
        if not parts[k]:
            donor = max(range(n_clients), key=lambda j: len(parts[j]))
            parts[k].append(parts[donor].pop())
    return [np.sort(np.array(p, dtype=int)) for p in parts]


def iid_split(y: np.ndarray, n_clients: int, seed: int = 0):
    """Row indices per client, dealt out uniformly at random (about n / K each)."""
    idx = np.random.default_rng(seed).permutation(len(y))
    return [np.sort(part) for part in np.array_split(idx, n_clients)]


def client_probabilities(model, X, classes: np.ndarray) -> np.ndarray:
    """A client's probabilities mapped onto all ``classes`` (0 for classes it never saw)."""
    out = np.zeros((len(X), len(classes)))
    out[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X)
    return out


def aggregate(client_probs: list[np.ndarray], sizes) -> np.ndarray:
    """Size-weighted average of the clients' probabilities; ``sizes``: each client's row
    count (K,)."""
    w = np.asarray(sizes, dtype=float)
    if w.ndim != 1 or len(w) != len(client_probs) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("sizes must give one non-negative row count per client")
    p = np.einsum("k,knc->nc", w / w.sum(), np.stack(client_probs))
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)


def source_client(seed: int = 0) -> RandomForestClassifier:
    """The source's federated client: a 100-tree random forest (its ``RF(100)``)."""
    return RandomForestClassifier(n_estimators=100, random_state=seed)


def federated_soft_targets(make_client, X, y, X_shared, *, n_clients: int = 5,
                           beta: float = 0.5, seed: int = 0, split: str = "dirichlet"
                           ) -> np.ndarray:
    """Fit one ``make_client()`` per client (a Dirichlet(β) non-IID split, or ``split="iid"``);
    return aggregated probabilities on ``X_shared``."""
    if split not in ("dirichlet", "iid"):
        raise ValueError(f"split must be dirichlet or iid, got {split!r}")
    classes = np.unique(y)
    probs, sizes = [], []
    parts = dirichlet_split(y, n_clients, beta, seed) if split == "dirichlet" \
        else iid_split(y, n_clients, seed)
    for idx in parts:
        model = clone(make_client()).fit(X[idx], y[idx])
        probs.append(client_probabilities(model, X_shared, classes))
        sizes.append(len(idx))
    return aggregate(probs, sizes)

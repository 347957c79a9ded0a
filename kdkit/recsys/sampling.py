"""Uniform negative sampling for BPR: for each observed (u, i), an item j ∉ train(u)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def train_bits(train: sp.csr_matrix) -> np.ndarray:
    """The training matrix as a bitset, (n_users, ⌈n_items / 64⌉) uint64: an O(1) test of
    "is item j one of user u's training items" (vectorised here, compiled in
    ``recsys.bpr_sgd``)."""
    train = train.tocsr()
    words = (train.shape[1] + 63) // 64
    bits = np.zeros((train.shape[0], words), dtype=np.uint64)
    rows = np.repeat(np.arange(train.shape[0]), np.diff(train.indptr))
    cols = train.indices.astype(np.int64)
    np.bitwise_or.at(bits, (rows, cols >> 6),
                     np.left_shift(np.uint64(1), (cols & 63).astype(np.uint64)))
    return bits


def data_train_bits(data) -> np.ndarray:
    """:func:`train_bits` of ``data``'s training matrix, built once and kept in ``data``."""
    cache = data.__dict__.setdefault("_cache", {})
    if "train_bits" not in cache:
        cache["train_bits"] = train_bits(data.matrix("train"))
    return cache["train_bits"]


def is_train(bits: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether each (user, item) is a training pair, from :func:`train_bits`."""
    items = np.asarray(items, dtype=np.int64)
    word = bits[users, items >> 6]
    return ((word >> (items & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)


def sample_negatives(users: np.ndarray, train: sp.csr_matrix, rng: np.random.Generator,
                     n_neg: int = 1, bits: np.ndarray | None = None) -> np.ndarray:
    """Items drawn uniformly among each user's unobserved items, shape ``(len(users), n_neg)``.

    Rejection sampling: redraw only the entries that hit a training item (``bits``, the
    training bitset, is built from ``train`` when not given).
    """
    bits = train_bits(train) if bits is None else bits
    n_items = train.shape[1]
    neg = rng.integers(0, n_items, size=(len(users), n_neg))
    u = np.repeat(users, n_neg).reshape(neg.shape)
    bad = is_train(bits, u, neg)
    while bad.any():
        neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
        bad[bad] = is_train(bits, u[bad], neg[bad])
    return neg

"""Implicit-feedback interactions: a container with train / valid / test pairs.

Users and items are contiguous integer ids ``0..n_users-1`` and ``0..n_items-1``. Each split is
an ``(n, 2)`` int64 array of ``(user, item)`` pairs; ``matrix(split)`` gives a CSR matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

SPLITS = ("train", "valid", "test")


@dataclass
class Interactions:
    name: str
    n_users: int
    n_items: int
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    item_titles: dict[int, str] = field(default_factory=dict)
    repairs: dict = field(default_factory=dict, compare=False)  # what loading repaired
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def matrix(self, split: str) -> sp.csr_matrix:
        """The split as a binary CSR matrix (built once, then cached; do not modify it)."""
        if split not in self._cache:
            pairs = getattr(self, split)
            data = np.ones(len(pairs), dtype=np.float32)
            m = sp.csr_matrix((data, (pairs[:, 0], pairs[:, 1])),
                              shape=(self.n_users, self.n_items))
            m.data[:] = 1.0
            self._cache[split] = m
        return self._cache[split]

    def summary(self) -> dict:
        n = len(self.train) + len(self.valid) + len(self.test)
        return {"dataset": self.name, "users": self.n_users, "items": self.n_items,
                "interactions": n, "density": n / (self.n_users * self.n_items),
                "train": len(self.train), "valid": len(self.valid), "test": len(self.test),
                **self.repairs}


def index_log(log: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Map raw ``user``/``item`` ids to contiguous ints; drop duplicate pairs (keep first).

    Returns the re-indexed log and the raw ids of users and items (position = new id).
    """
    log = log.drop_duplicates(subset=["user", "item"], keep="first")
    users, uidx = np.unique(log["user"].to_numpy(), return_inverse=True)
    items, iidx = np.unique(log["item"].to_numpy(), return_inverse=True)
    out = log.assign(user=uidx.astype(np.int64), item=iidx.astype(np.int64))
    return out.reset_index(drop=True), users, items


def pairs(df: pd.DataFrame) -> np.ndarray:
    return df[["user", "item"]].to_numpy(dtype=np.int64).reshape(-1, 2)

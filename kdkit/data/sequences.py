"""Interaction logs as per-user sequences for next-item prediction (SASRec's protocol; Kang &
McAuley, ICDM 2018): each user's items ordered by timestamp, leave-last-out — the last item
is the test target, the second-to-last the validation target, the rest train. Interactions of
one user with the same timestamp are put in a seeded random order (``seed``), so which of
them is the test item is drawn, not decided by the raw item id; ``ties`` counts how often that
matters. Items are re-indexed 1..n_items; 0 is padding. Users with fewer than 3 interactions
are dropped.

The ranked splits (:meth:`SequenceData.evaluation`) follow ``kdkit.recsys.metrics``: ``test``
(every user, training and validation items masked); ``valid``, the *select* half of the users
with a validation target (early stopping and tuning), and ``gate``, the other half (held out:
data that chose neither a checkpoint nor a hyperparameter, for teacher and control gates), both
masking only the training items (the test item is never masked on validation); ``valid-all``
every user with a validation target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SPLITS = ("valid", "gate", "valid-all", "test")


@dataclass
class SequenceData:
    train: list          # per user: item ids for training (all but the last two)
    valid_target: np.ndarray
    test_target: np.ndarray
    n_items: int
    item_titles: dict    # new id -> title (may be empty)
    name: str
    ties: dict = None    # same-timestamp counts (see ``to_sequences``)

    def summary(self) -> dict:
        """One row for a data-set table: sizes and the same-timestamp ties."""
        n = sum(len(s) for s in self.train) + 2 * len(self.train)
        return {"dataset": self.name, "users": len(self.train), "items": self.n_items,
                "interactions": n, **(self.ties or {})}

    def inputs(self, split: str, max_len: int) -> np.ndarray:
        """Every user's left-padded history (n_users, max_len): train for ``valid`` (any
        validation split); train + the validation item for ``test``."""
        out = np.zeros((len(self.train), max_len), dtype=np.int64)
        for u, seq in enumerate(self.train):
            hist = list(seq) + ([int(self.valid_target[u])] if split == "test" else [])
            hist = hist[-max_len:]
            if hist:
                out[u, -len(hist):] = hist
        return out

    def users(self, split: str) -> np.ndarray:
        """The users ranked on ``split`` (module docstring): every user on ``test``; on
        ``valid``/``gate`` the select/held-out half of the users with a validation target
        (``kdkit.recsys.metrics.validation_halves``: fixed halves for a fixed user set);
        ``valid-all`` all of them."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if split == "test":
            return np.arange(len(self.train))
        users = np.flatnonzero(np.asarray(self.valid_target) > 0)
        if split == "valid-all":
            return users
        from ..recsys.metrics import validation_halves

        return validation_halves(users)[0 if split == "valid" else 1]

    def evaluation(self, split: str, max_len: int) -> tuple:
        """(inputs, targets, seen) for ranking ``split`` over :meth:`users`: the model's last
        ``max_len`` items, the targets, and every item the user has seen before the target (the
        whole history, left-padded), which the ranking excludes — on validation the training
        items only, on test the training items and the validation item."""
        users = self.users(split)
        kind = "test" if split == "test" else "valid"
        longest = max((len(s) for s in self.train), default=0) + 1
        return (self.inputs(kind, max_len)[users], self.targets(kind)[users],
                self.inputs(kind, longest)[users])

    def windows(self, max_len: int, owners: bool = False):
        """Every user's training items cut into left-padded windows of ``max_len + 1`` (inputs
        and next-item targets), the last ending at the last training item; consecutive windows
        share one item, so every training transition appears exactly once. ``owners``: also
        return each window's user index."""
        out, who = [], []
        for u, seq in enumerate(self.train):
            end = len(seq)
            while end > 1:
                w = seq[max(0, end - max_len - 1):end]
                row = np.zeros(max_len + 1, dtype=np.int64)
                row[-len(w):] = w
                out.append(row)
                who.append(u)
                end -= max_len
        rows = np.stack(out) if out else np.zeros((0, max_len + 1), dtype=np.int64)
        return (rows, np.asarray(who, dtype=np.int64)) if owners else rows

    def labelled(self, max_len: int, fraction: float, seed: int) -> np.ndarray:
        """A transfer-set split of the training windows: True for the windows of a seeded
        ``fraction`` of the users (whose next items a student may learn from), False for the
        others (a transfer set: their inputs are there for a teacher's targets, their next
        items are not); all True when ``fraction`` is 1."""
        _, who = self.windows(max_len, owners=True)
        n = len(self.train)
        k = n if fraction >= 1 else max(1, int(round(fraction * n)))
        keep = np.zeros(n, dtype=bool)
        keep[np.random.default_rng(seed).permutation(n)[:k]] = True
        return keep[who]

    def targets(self, split: str) -> np.ndarray:
        """Every user's target: the test item on ``test``, else the validation item."""
        return np.asarray(self.test_target if split == "test" else self.valid_target)


def to_sequences(log: pd.DataFrame, titles: dict | None = None, name: str = "",
                 seed: int = 0) -> SequenceData:
    """``log`` has columns user, item, timestamp; ``seed`` orders same-timestamp
    interactions. ``ties`` holds the number of interactions that share their user's timestamp
    with another one, and of users whose validation and test items have the same timestamp."""
    rng = np.random.default_rng(seed)
    log = log.assign(_r=rng.random(len(log)))
    log = log.sort_values(["user", "timestamp", "_r"], kind="stable").drop(columns="_r")
    counts = log.groupby("user")["item"].transform("size")
    log = log[counts >= 3]
    same = log.duplicated(["user", "timestamp"], keep=False)
    last2 = log.groupby("user").tail(2)
    tied_users = int((last2.groupby("user")["timestamp"].nunique() == 1).sum())
    ties = {"same-timestamp interactions": int(same.sum()),
            "users whose valid/test order is a tie": tied_users}
    ids = {raw: i + 1 for i, raw in enumerate(sorted(log["item"].unique()))}
    train, valid, test = [], [], []
    for _, g in log.groupby("user", sort=True):
        items = [ids[i] for i in g["item"]]
        train.append(items[:-2])
        valid.append(items[-2])
        test.append(items[-1])
    titles = {ids[k]: v for k, v in (titles or {}).items() if k in ids}
    return SequenceData(train, np.array(valid), np.array(test), len(ids), titles, name, ties)

"""Train / valid / test splits of an interaction log, per user.

* ``split_ratio`` — RecBole's "RS" protocol with ``group_by=user``: each user's interactions are
  shuffled (seeded) and cut 8:1:1; the counts follow RecBole's rounding (validation and test get
  ``int(ratio·n)``, bumped to 1 while the training part keeps more than one interaction).
* ``split_leave_one_out`` — the last interaction (by timestamp, else a seeded random order) is
  the test item, the one before it the validation item; users with < 3 interactions keep all in
  train.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .interactions import Interactions, index_log, pairs


def ratio_counts(n: int, ratios=(0.8, 0.1, 0.1)) -> list[int]:
    """How many of a user's ``n`` interactions go to each part (RecBole's rounding rule)."""
    cnt = [int(r * n) for r in ratios]
    cnt[0] = n - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * n < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def _order(log: pd.DataFrame, seed: int, by_time: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    log = log.assign(_r=rng.random(len(log)))
    keys = ["user", "timestamp", "_r"] if by_time and "timestamp" in log else ["user", "_r"]
    return log.sort_values(keys, kind="mergesort").drop(columns="_r")


def _build(name, log, parts_of, titles, shape) -> Interactions:
    if shape is None:  # raw ids: map to 0..n-1 over the ids that occur
        log, _, raw_items = index_log(log)
        shape = (int(log["user"].max()) + 1, int(log["item"].max()) + 1)
    else:  # ids already 0..n-1 over a known universe (items nobody chose stay rankable)
        log = log.drop_duplicates(subset=["user", "item"]).reset_index(drop=True)
        raw_items = np.arange(shape[1])
    parts = parts_of(log)
    item_titles = {i: titles[r] for i, r in enumerate(raw_items) if r in titles} if titles else {}
    return Interactions(name, *shape, *(pairs(log[parts == k]) for k in range(3)),
                        item_titles=item_titles)


def split_ratio(log: pd.DataFrame, *, name: str, seed: int, ratios=(0.8, 0.1, 0.1),
                titles: dict | None = None, shape: tuple | None = None) -> Interactions:
    def parts_of(log):
        ordered = _order(log, seed, by_time=False)
        part = np.empty(len(ordered), dtype=np.int64)
        pos = ordered.groupby("user").cumcount().to_numpy()
        sizes = ordered.groupby("user")["item"].transform("size").to_numpy()
        for n in np.unique(sizes):
            c = np.cumsum(ratio_counts(int(n), ratios))
            sel = sizes == n
            part[sel] = np.searchsorted(c, pos[sel], side="right")
        return pd.Series(part, index=ordered.index).reindex(log.index).to_numpy()

    return _build(name, log, parts_of, titles, shape)


def split_leave_one_out(log: pd.DataFrame, *, name: str, seed: int,
                        titles: dict | None = None, shape: tuple | None = None) -> Interactions:
    def parts_of(log):
        ordered = _order(log, seed, by_time=True)
        from_end = ordered.groupby("user").cumcount(ascending=False).to_numpy()
        sizes = ordered.groupby("user")["item"].transform("size").to_numpy()
        part = np.where(sizes < 3, 0, np.select([from_end == 0, from_end == 1], [2, 1], 0))
        return pd.Series(part, index=ordered.index).reindex(log.index).to_numpy()

    return _build(name, log, parts_of, titles, shape)


SPLITTERS = {"ratio": split_ratio, "loo": split_leave_one_out}


def split(log: pd.DataFrame, how: str, *, name: str, seed: int, titles=None,
          shape=None) -> Interactions:
    """Split ``log`` by ``how`` ('ratio' or 'loo'); ``shape=(n_users, n_items)`` keeps ids."""
    if how not in SPLITTERS:
        from . import DataError
        raise DataError(f"unknown split '{how}'; allowed: {', '.join(SPLITTERS)}")
    return SPLITTERS[how](log, name=name, seed=seed, titles=titles, shape=shape)

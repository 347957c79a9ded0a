"""One interaction file that kdkit splits: a CSV (or Parquet) table ``user,item[,timestamp]``.

Each row is one implicit-feedback interaction. Ids may be any strings or integers (they are
mapped to ``0..n-1`` when the log is split); ``timestamp``, if present, is a number (e.g. Unix
seconds) and orders a user's interactions for the leave-one-out split. The log is split by
:func:`kdkit.data.splits.split` (``ratio``: 8:1:1 per user, seeded; ``loo``: the latest
interaction is the test item), as for MovieLens-100k. Every row is a positive: keep only the
rows that count as feedback (e.g. ratings ≥ 4) before writing the file.

What is checked, and what is repaired (each problem is one :class:`DataError` naming the file,
and the line or column where that makes sense):

* a missing or empty file, a header without rows (Parquet needs ``pyarrow``);
* a missing column, or any column besides ``user``, ``item``, ``timestamp``;
* a missing value, a non-numeric or infinite timestamp (the first offending line is named);
* a user with fewer than 3 distinct items, who cannot be split into train, valid and test (the
  number of such users and one of them are named);
* **repaired**: a (user, item) pair repeated in the file is kept once (its first row); the
  number dropped is in ``log.attrs["repairs"]`` and, after :func:`load_interaction_file`, in
  ``Interactions.repairs`` and ``Interactions.summary()``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import DataError
from .interactions import Interactions
from .splits import split
from .table import check_columns, check_filled, numbers, read_table

MIN_PER_USER = 3


def read_interaction_file(path) -> pd.DataFrame:
    """The checked log (``user``, ``item`` as strings, ``timestamp`` as float if given), in
    the shape :func:`kdkit.data.splits.split` takes; ``attrs["repairs"]`` counts what was
    dropped."""
    df = read_table(path, "interaction")
    p = df.attrs["path"]
    check_columns(df, ("user", "item"), ("timestamp",))
    check_filled(df, list(df.columns))
    if "timestamp" in df:
        df["timestamp"] = numbers(df, "timestamp", "timestamps must be numbers (e.g. Unix "
                                  "seconds)")
    log = df.drop_duplicates(subset=["user", "item"], keep="first").reset_index(drop=True)
    sizes = log.groupby("user", sort=False).size()
    few = sizes[sizes < MIN_PER_USER]
    if len(few):
        raise DataError(f"{p}: {len(few)} user(s) have fewer than {MIN_PER_USER} distinct "
                        f"items (e.g. user '{few.index[0]}' has {few.iloc[0]}); splitting needs "
                        f"at least {MIN_PER_USER} per user, one each for train, valid and test: "
                        "drop those users, or give a split folder")
    log.attrs = {"repairs": {f"duplicates dropped from {p.name}": len(df) - len(log)}
                 if len(df) > len(log) else {}}
    return log


def load_interaction_file(path, *, split_how: str = "ratio", seed: int = 0,
                          name: str | None = None) -> Interactions:
    """Read the file at ``path``, split it by ``split_how`` ('ratio' or 'loo') with ``seed``."""
    log = read_interaction_file(path)
    repairs = log.attrs["repairs"]
    data = split(log, split_how, name=name or Path(path).stem, seed=seed)
    data.repairs = repairs
    return data

"""A pre-split interaction set: a folder with ``train.csv``, ``valid.csv``, ``test.csv``.

Each file has a header ``user,item`` and one interaction per row, ids being non-negative
integers already shared across the three files (e.g. the CiteULike split of Kang et al., KDD
2021). ``n_users``/``n_items`` are one more than the largest id seen.

What is checked, and what is repaired (each problem is one :class:`DataError` naming the file,
and the line or column where that makes sense):

* a missing file, an empty file, a header other than ``user,item``;
* a missing value, a non-integer or negative id (the first offending line is named);
* the same (user, item) in two of the files (the splits must be disjoint);
* a held-out user that never occurs in train.csv (the id ranges do not match, e.g. one file
  counts from 1: the model has nothing to score that user with). A held-out item missing from
  train.csv is allowed — a cold item stays rankable, as in the CiteULike split, where 274 test
  items never occur in training;
* **repaired**: a (user, item) repeated within one file is kept once; the number dropped is in
  :func:`load_split_dir`'s ``repairs`` and in ``Interactions.summary()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import DataError
from .interactions import SPLITS, Interactions


def _read(path: Path) -> tuple[np.ndarray, int]:
    """(unique pairs, duplicates dropped) of one split file."""
    if not path.exists():
        raise DataError(f"{path} is missing; a split folder needs train.csv, valid.csv, test.csv")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; expected a header 'user,item' and one interaction "
                        "per line") from None
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: not a readable CSV ({e})") from None
    if list(df.columns[:2]) != ["user", "item"]:
        got = ",".join(map(str, df.columns))
        raise DataError(f"{path}: expected header 'user,item', got {got}")
    if df.empty:
        raise DataError(f"{path} has a header but no interactions")
    for col in ("user", "item"):
        values = df[col].str.strip()
        bad = ~values.str.fullmatch(r"\d+")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            shown = values.iloc[i] or "(empty)"
            raise DataError(f"{path}, line {i + 2}, column '{col}': {shown!r} is not a "
                            "non-negative integer id (missing values, negative or non-numeric "
                            "ids are not allowed)")
    pairs = df[["user", "item"]].astype(np.int64).to_numpy()
    unique = np.unique(pairs, axis=0)
    order = np.sort(np.unique(pairs, axis=0, return_index=True)[1])  # keep the file's order
    return pairs[order], len(pairs) - len(unique)


def load_split_dir(path: str | Path, name: str | None = None) -> Interactions:
    d = Path(path).expanduser()
    if not d.is_dir():
        raise DataError(f"split folder not found: {d} (expected a folder with train.csv, "
                        "valid.csv, test.csv)")
    parts, repairs = {}, {}
    for s in SPLITS:
        parts[s], repairs[s] = _read(d / f"{s}.csv")
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = {tuple(x) for x in parts[a]} & {tuple(x) for x in parts[b]}
        if shared:
            u, i = next(iter(sorted(shared)))
            raise DataError(f"{d}: {len(shared)} (user, item) pairs are in both {a}.csv and "
                            f"{b}.csv (e.g. {u},{i}); the splits must be disjoint")
    known_users = set(parts["train"][:, 0])
    for s in ("valid", "test"):
        unseen = sorted(set(parts[s][:, 0]) - known_users)
        if unseen:
            raise DataError(f"{d / (s + '.csv')}: {len(unseen)} user id(s) never occur in "
                            f"train.csv (e.g. {unseen[0]}); the user ids of the three files "
                            "must match")
    allp = np.concatenate(list(parts.values()))
    data = Interactions(name or d.name, int(allp[:, 0].max()) + 1, int(allp[:, 1].max()) + 1,
                        **parts)
    data.repairs = {f"duplicates dropped from {s}.csv": n for s, n in repairs.items() if n}
    return data

"""A pre-split interaction set: a folder with ``train.csv``, ``valid.csv``, ``test.csv``.

Each file has a header ``user,item`` and one interaction per row, ids being non-negative
integers already shared across the three files (e.g. the CiteULike split of Kang et al., KDD
2021). ``n_users``/``n_items`` are one more than the largest id seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import DataError
from .interactions import SPLITS, Interactions


def _read(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"{path} is missing; a split folder needs train.csv, valid.csv, test.csv")
    try:
        df = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{path}: not a readable CSV ({e})") from None
    if list(df.columns[:2]) != ["user", "item"]:
        got = ",".join(map(str, df.columns))
        raise DataError(f"{path}: expected header 'user,item', got {got}")
    if not all(pd.api.types.is_integer_dtype(df[c]) for c in ("user", "item")) or \
            (df[["user", "item"]] < 0).any().any():
        raise DataError(f"{path}: user and item must be non-negative integers")
    return df[["user", "item"]].drop_duplicates().to_numpy(dtype=np.int64)


def load_split_dir(path: str | Path, name: str | None = None) -> Interactions:
    d = Path(path).expanduser()
    if not d.is_dir():
        raise DataError(f"split folder not found: {d} (expected a folder with train.csv, "
                        "valid.csv, test.csv)")
    parts = {s: _read(d / f"{s}.csv") for s in SPLITS}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = {tuple(x) for x in parts[a]} & {tuple(x) for x in parts[b]}
        if shared:
            u, i = next(iter(sorted(shared)))
            raise DataError(f"{d}: {len(shared)} (user, item) pairs are in both {a}.csv and "
                            f"{b}.csv (e.g. {u},{i}); the splits must be disjoint")
    allp = np.concatenate(list(parts.values()))
    return Interactions(name or d.name, int(allp[:, 0].max()) + 1, int(allp[:, 1].max()) + 1,
                        **parts)

"""A tabular set from one file: a CSV (or Parquet) table with a named label column.

Every column but ``label`` is a feature and must hold numbers; the label may hold anything
(strings or numbers) and is coded 0..k-1 in the order of :attr:`TabularSet.classes` (numeric
order when every label is a number, else string order). ``load_tabular_file`` returns
``TabularSet(X, y, features, classes)``, a named tuple: ``X`` float64 ``(n, d)``, ``y`` int64
``(n,)``.

What is checked (each problem is one :class:`DataError` naming the file, and the line or column):

* a missing or empty file, a header without rows, a row longer than the header;
* the label column absent (the columns present are listed), no feature column;
* a missing value (empty, ``NA``, ``NaN``, ``null``, ``None``): column and line named;
* a feature column that is not numeric, or holds ``inf``: column, first bad line and value
  named (encode categories as numbers, e.g. one-hot, or drop the column);
* fewer than 2 classes, or a class with fewer than :data:`MIN_PER_CLASS` rows (stratified
  splits and cross-validation need them).

Nothing is repaired. The table readers (``kdkit.data.table``) are shared with
``interaction_file`` and ``sequence_file``. Parquet needs ``pyarrow``; without it a Parquet
file is a :class:`DataError` saying so. In messages a CSV row is named by its line in the file
(the header is line 1), a Parquet row by its row number (from 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import DataError
from .table import check_filled, numbers, read_table

MIN_PER_CLASS = 10


class TabularSet(NamedTuple):
    X: np.ndarray
    y: np.ndarray
    features: list
    classes: list


# ------------------------------------------------------------------ reading a table


def _classes(labels: pd.Series) -> list:
    values = labels.unique().tolist()
    as_num = pd.to_numeric(pd.Series(values), errors="coerce")
    if as_num.notna().all():
        return [v for _, v in sorted(zip(as_num, values))]
    return sorted(values)


def load_tabular_file(path, label: str) -> TabularSet:
    """``(X, y, features, classes)`` of the table at ``path`` (module docstring)."""
    df = read_table(path, "tabular")
    p = df.attrs["path"]
    if label not in df.columns:
        raise DataError(f"{p}: no label column '{label}'; the columns are "
                        f"{', '.join(df.columns)}")
    features = [c for c in df.columns if c != label]
    if not features:
        raise DataError(f"{p}: only the label column '{label}'; no feature columns")
    check_filled(df, df.columns)
    X = np.column_stack([numbers(df, c, "encode the column as numbers (e.g. one-hot or "
                                 "ordinal codes) or drop it") for c in features])
    classes = _classes(df[label])
    if len(classes) < 2:
        raise DataError(f"{p}: label column '{label}' has one class ({classes[0]!r}); a "
                        "classifier needs at least 2")
    counts = df[label].value_counts()
    small = [c for c in classes if counts[c] < MIN_PER_CLASS]
    if small:
        raise DataError(f"{p}: class {small[0]!r} of '{label}' has {counts[small[0]]} rows; "
                        f"every class needs at least {MIN_PER_CLASS} ({len(small)} of "
                        f"{len(classes)} classes have fewer)")
    y = df[label].map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    return TabularSet(X, y, features, classes)

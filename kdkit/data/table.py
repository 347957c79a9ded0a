"""Reading a user's table (CSV, or Parquet with pyarrow) with one clear error per problem —
the shared part of kdkit's data contracts (``interaction_file``, ``sequence_file``,
``tabular_file``): a missing or unreadable file, missing columns, missing values and
non-numeric entries, each named by file, column and line (CSV: the file's own line number,
header = line 1; Parquet: the row)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import DataError

PARQUET = (".parquet", ".pq")
MISSING = ("", "na", "n/a", "nan", "null", "none")


def _has_pyarrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def read_table(path, what: str = "table") -> pd.DataFrame:
    """Every cell of a CSV or Parquet file as a stripped string (missing ones as ``""``);
    the index is the row's position in the file (blank CSV lines are dropped, not counted
    away), ``attrs["path"]`` the file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{what} file not found: {p}")
    if p.suffix.lower() in PARQUET:
        if not _has_pyarrow():
            raise DataError(f"{p}: reading Parquet needs pyarrow, which is not installed; "
                            "`pip install pyarrow`, or save the table as CSV")
        try:
            df = pd.read_parquet(p)
        except Exception as e:  # pyarrow raises several types for broken files
            raise DataError(f"{p}: not a readable Parquet file ({e})") from None
        df = df.astype(object).where(df.notna(), "").map(str).reset_index(drop=True)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                df = pd.read_csv(p, dtype=str, keep_default_na=False, skip_blank_lines=False,
                                 encoding="utf-8-sig",
                                 index_col=False)
        except pd.errors.EmptyDataError:
            raise DataError(f"{p} is empty; expected a header line naming the columns and "
                            "one row per line") from None
        except pd.errors.ParserWarning:
            raise DataError(f"{p}: the first row has more fields than the header") from None
        except (ValueError, pd.errors.ParserError) as e:
            raise DataError(f"{p}: not a readable CSV ({str(e).strip()})") from None
        df = df[~(df == "").all(axis=1)]
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise DataError(f"{p} has a header but no rows")
    df = df.apply(lambda c: c.str.strip())
    df.attrs["path"] = p
    return df


def where(df: pd.DataFrame, i) -> str:
    """'line N' (CSV) or 'row N' (Parquet) of the row with index ``i``."""
    parquet = df.attrs["path"].suffix.lower() in PARQUET
    return f"row {i + 1}" if parquet else f"line {i + 2}"


def check_columns(df: pd.DataFrame, required, optional=()) -> None:
    """Exactly the ``required`` columns, plus any of ``optional``, in any order."""
    expected = ",".join(required) + "".join(f"[,{c}]" for c in optional)
    got = ",".join(df.columns)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{df.attrs['path']}: no column '{missing[0]}'; expected columns "
                        f"{expected}, got {got}")
    extra = [c for c in df.columns if c not in (*required, *optional)]
    if extra:
        raise DataError(f"{df.attrs['path']}: unexpected column '{extra[0]}'; expected columns "
                        f"{expected}, got {got} (drop the others)")


def check_filled(df: pd.DataFrame, columns) -> None:
    """No missing value in ``columns``; the first one (by line, then column) is named."""
    miss = df[list(columns)].apply(lambda c: c.str.lower().isin(MISSING)).to_numpy()
    if miss.any():
        r, c = np.argwhere(miss)[0]
        raise DataError(f"{df.attrs['path']}, {where(df, df.index[r])}, column "
                        f"'{columns[c]}': missing value (fill it or drop the row)")


def numbers(df: pd.DataFrame, column: str, hint: str) -> np.ndarray:
    """``column`` as finite floats; the first value that is not one is named, with ``hint``."""
    x = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{df.attrs['path']}, {where(df, df.index[i])}, column '{column}': "
                        f"{df[column].iloc[i]!r} is not a finite number; {hint}")
    return x


# ------------------------------------------------------------------ the tabular contract

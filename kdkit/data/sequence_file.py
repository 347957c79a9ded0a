"""Sequences for next-item studies from one CSV (or Parquet) table ``user,item,timestamp``.

Each row is one event. Ids may be any strings or integers; ``timestamp`` is a number (e.g. Unix
seconds). Each user's events are ordered by timestamp, events with the same timestamp in the
order of the file (not in a seeded random order, as ``to_sequences`` does for MovieLens: the
file's order is taken to be the true one), then cut by :func:`kdkit.data.sequences.to_sequences`
(SASRec's leave-last-out: the last event is the test target, the one before it the validation
target). A user may repeat an item; every event is kept. ``SequenceData.ties`` counts the
same-timestamp events as ``to_sequences`` defines them.

What is checked (each problem is one :class:`DataError` naming the file, and the line or column
where that makes sense); nothing is repaired:

* a missing or empty file, a header without rows (Parquet needs ``pyarrow``);
* a missing column, or any column besides ``user``, ``item``, ``timestamp``;
* a missing value, a non-numeric or infinite timestamp (the first offending line is named);
* a user with fewer than 3 events (one each for train, valid and test are needed; the number
  of such users and one of them are named).
"""

from __future__ import annotations

from pathlib import Path

from . import DataError
from .sequences import SequenceData, to_sequences
from .table import check_columns, check_filled, numbers, read_table

MIN_EVENTS = 3


def load_sequence_file(path, *, name: str | None = None) -> SequenceData:
    """The checked sequences of the file at ``path`` (module docstring)."""
    df = read_table(path, "sequence")
    p = df.attrs["path"]
    check_columns(df, ("user", "item", "timestamp"))
    check_filled(df, ["user", "item", "timestamp"])
    df["timestamp"] = numbers(df, "timestamp", "timestamps must be numbers (e.g. Unix seconds)")
    sizes = df.groupby("user", sort=False).size()
    few = sizes[sizes < MIN_EVENTS]
    if len(few):
        raise DataError(f"{p}: {len(few)} user(s) have fewer than {MIN_EVENTS} events (e.g. "
                        f"user '{few.index[0]}' has {few.iloc[0]}); a sequence needs at least "
                        f"{MIN_EVENTS}, one each for train, valid and test: drop those users")
    log = df.reset_index(drop=True).sort_values(["user", "timestamp"], kind="stable")
    same = int(log.duplicated(["user", "timestamp"], keep=False).sum())
    tied = int((log.groupby("user").tail(2).groupby("user")["timestamp"].nunique() == 1).sum())
    # the file's order breaks ties: each event's position in its user's sequence is its time
    data = to_sequences(log.assign(timestamp=log.groupby("user").cumcount()),
                        name=name or Path(path).stem)
    data.ties = {"same-timestamp interactions": same,
                 "users whose valid/test order is a tie": tied}
    return data

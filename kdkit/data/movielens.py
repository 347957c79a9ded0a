"""MovieLens-100k (GroupLens; 943 users, 1,682 movies, 100,000 ratings), every rating a positive.

The files are not shipped with kdkit (the licence forbids redistribution). They are looked up in
this order: an explicit ``path`` (a folder with GroupLens' ``u.data`` + ``u.item`` or RecBole's
``ml-100k.inter`` + ``ml-100k.item``); then the copy inside the ``recbole==1.2.1`` wheel, found
without importing recbole (``make`` installs it with ``--no-deps``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from . import DataError


def recbole_ml100k_dir() -> Path | None:
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k"
    return d if d.is_dir() else None


def find_ml100k(path: str | Path | None = None) -> Path:
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise DataError(f"ml-100k folder not found: {p} (give a folder holding u.data + "
                            "u.item or ml-100k.inter + ml-100k.item)")
        if not ((p / "u.data").exists() or (p / "ml-100k.inter").exists()):
            raise DataError(f"{p} holds neither u.data nor ml-100k.inter; give the MovieLens-100k "
                            "folder itself")
        return p
    p = recbole_ml100k_dir()
    if p is None:
        raise DataError("MovieLens-100k not found: pass ml100k_path=<folder with u.data> or "
                        "install its offline copy with `pip install --no-deps recbole==1.2.1`")
    return p


def load_ml100k(path: str | Path | None = None) -> tuple[pd.DataFrame, dict[int, str]]:
    """Return the log (``user, item, rating, timestamp``) and ``{raw item id: title}``."""
    d = find_ml100k(path)
    grouplens = (d / "u.data").exists()
    ratings, titles = ("u.data", "u.item") if grouplens else ("ml-100k.inter", "ml-100k.item")
    if not (d / titles).exists():
        raise DataError(f"{d / titles} is missing; a MovieLens-100k folder needs {ratings} and "
                        f"{titles} (the item titles)")
    try:
        if grouplens:
            log = pd.read_csv(d / "u.data", sep="\t", header=None,
                              names=["user", "item", "rating", "timestamp"])
            items = pd.read_csv(d / "u.item", sep="|", header=None, encoding="latin-1",
                                usecols=[0, 1], names=["item", "title"])
        else:
            log = pd.read_csv(d / "ml-100k.inter", sep="\t")
            log.columns = ["user", "item", "rating", "timestamp"]
            items = pd.read_csv(d / "ml-100k.item", sep="\t", usecols=[0, 1])
            items.columns = ["item", "title"]
    except (ValueError, OSError, pd.errors.ParserError) as e:
        raise DataError(f"{d}: not a readable MovieLens-100k folder ({e})") from None
    for col in ("user", "item"):
        if not pd.api.types.is_integer_dtype(log[col]):
            raise DataError(f"{d / ratings}: column '{col}' must hold integer ids")
    return log, dict(zip(items["item"].astype(int), items["title"].astype(str)))

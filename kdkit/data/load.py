"""One entry point for the interaction data sets a study names."""

from __future__ import annotations

from pathlib import Path

from . import DataError
from .interaction_file import load_interaction_file
from .interactions import Interactions
from .movielens import load_ml100k
from .split_dir import load_split_dir
from .splits import split
from .synthetic_interactions import synthetic_interactions
from .table import PARQUET

DATASETS = ("synthetic", "ml-100k", "<folder with train.csv/valid.csv/test.csv>",
            "<file with columns user,item[,timestamp] (.csv or .parquet)>")


def load_interactions(dataset: str, *, split_how: str = "ratio", seed: int = 0,
                      ml100k_path: str | None = None, synthetic: dict | None = None
                      ) -> Interactions:
    """Load ``dataset`` and split it (a split folder keeps its own split; an interaction
    file, ``kdkit.data.interaction_file``, is split like ml-100k).

    ``seed`` fixes the synthetic generator and the split; ``synthetic`` holds the generator's
    keyword arguments (``n_users``, ``n_items``, ``density``, ...).
    """
    if dataset == "synthetic":
        log = synthetic_interactions(seed=seed, **(synthetic or {}))
        return split(log, split_how, name="synthetic", seed=seed, shape=log.attrs["shape"])
    if dataset == "ml-100k":
        log, titles = load_ml100k(ml100k_path)
        return split(log, split_how, name="ml-100k", seed=seed, titles=titles)
    path = Path(dataset).expanduser()
    if path.is_dir():
        return load_split_dir(dataset)
    if path.is_file() or path.suffix.lower() in (".csv", *PARQUET):
        return load_interaction_file(path, split_how=split_how, seed=seed)
    raise DataError(f"unknown dataset '{dataset}'; allowed: {', '.join(DATASETS)}")

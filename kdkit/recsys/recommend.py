"""Top-K recommendations for one user, with item titles when the data set has them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


@torch.no_grad()
def recommend(model, data, user: int, k: int = 10) -> pd.DataFrame:
    """The user's k best-scored items among those not in their training set."""
    model.eval()
    s = model.score_all(torch.tensor([user]))[0].numpy().copy()
    s[data.matrix("train")[user].indices] = -np.inf
    top = np.argsort(-s, kind="stable")[:k]
    return pd.DataFrame({"rank": np.arange(1, k + 1), "item": top,
                         "title": [data.item_titles.get(int(i), "") for i in top]})


def side_by_side(models: dict, data, user: int, k: int = 10) -> pd.DataFrame:
    """One column of recommended titles (or item ids) per model, rank as the index."""
    cols = {}
    for name, model in models.items():
        rec = recommend(model, data, user, k)
        cols[name] = [t or str(i) for t, i in zip(rec["title"], rec["item"])]
    return pd.DataFrame(cols, index=pd.RangeIndex(1, k + 1, name="rank"))

"""Full-ranking top-K metrics: every item is ranked for every user, training items masked.

For a user with held-out items G and rank r_g of each g ∈ G among the unmasked items
(1 + the number of unmasked items scored strictly higher):

* Recall@K = |{g : r_g ≤ K}| / |G|
* HR@K     = 1 if any r_g ≤ K else 0
* NDCG@K   = Σ_{g: r_g ≤ K} 1/log2(r_g + 1)  /  Σ_{r=1}^{min(K, |G|)} 1/log2(r + 1)
* MRR      = 1 / min_g r_g   (over the full ranking, not cut at K)

each averaged over the users that have at least one held-out item.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch


@torch.no_grad()
def ranks_of_held_out(score_all: Callable[[torch.Tensor], torch.Tensor], held_out: sp.csr_matrix,
                      exclude: Sequence[sp.csr_matrix] = (), batch_size: int = 512):
    """Yield ``(user, ranks of that user's held-out items)`` for every user with any."""
    held_out = held_out.tocsr()
    users = np.flatnonzero(np.diff(held_out.indptr))
    masks = [m.tocsr() for m in exclude]
    for start in range(0, len(users), batch_size):
        ub = users[start:start + batch_size]
        s = score_all(torch.as_tensor(ub, dtype=torch.long)).float().numpy().copy()
        for m in masks:
            r, c = m[ub].nonzero()
            s[r, c] = -np.inf
        g = held_out[ub]
        rows, cols = g.nonzero()
        target = s[rows, cols]
        ranks = 1 + (s[rows] > target[:, None]).sum(1)
        split_at = np.cumsum(np.bincount(rows, minlength=len(ub)))[:-1]
        for u, r in zip(ub, np.split(ranks, split_at)):
            yield int(u), r


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """Per-user metrics from the ranks of one user's held-out items."""
    out = {"MRR": 1.0 / ranks.min()}
    for k in ks:
        hit = ranks <= k
        idcg = (1.0 / np.log2(np.arange(2, min(k, len(ranks)) + 2))).sum()
        out[f"Recall@{k}"] = hit.sum() / len(ranks)
        out[f"HR@{k}"] = float(hit.any())
        out[f"NDCG@{k}"] = (1.0 / np.log2(ranks[hit] + 1)).sum() / idcg
    return out


def full_ranking_metrics(score_all, held_out: sp.csr_matrix, exclude=(), ks=(10,),
                         batch_size: int = 512) -> dict[str, float]:
    """Mean of :func:`metrics_from_ranks` over users with held-out items."""
    per_user = [metrics_from_ranks(r, ks)
                for _, r in ranks_of_held_out(score_all, held_out, exclude, batch_size)]
    if not per_user:
        raise ValueError("no user has a held-out item")
    return {k: float(np.mean([m[k] for m in per_user])) for k in per_user[0]}


def evaluate(model, data, split: str = "test", ks=(10,)) -> dict[str, float]:
    """Full-ranking metrics of ``model.score_all`` on ``data``'s ``split``.

    Training items are masked; when evaluating on test the validation items are masked too
    (and vice versa), as in the reference protocols.
    """
    other = {"test": "valid", "valid": "test"}[split]
    model.eval()
    return full_ranking_metrics(model.score_all, data.matrix(split),
                                exclude=(data.matrix("train"), data.matrix(other)), ks=ks)

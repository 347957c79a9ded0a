"""Ranking Distillation (Tang & Wang, "Ranking Distillation", KDD 2018), for a BPR student.

The teacher's top-K unobserved items π_u = (π_1 … π_K) of each user become extra, weighted
positives. Weights combine position importance and, optionally, the student's disagreement:

    w^a_r = exp(−r/λ)                          (r = 1 … K; higher for the teacher's top)
    w^b_r = tanh(max(μ·(r̂_r − r), 0))         (r̂_r: the student's rank of π_r)
    w_r   = w^a_r / Σ w^a          ("position")  or  w^a_r·w^b_r / Σ w^a·w^b  ("hybrid")

RD's student loss is pointwise, −Σ_r w_r log σ(ŝ_{uπ_r}); our student is trained with BPR, so
we use the pairwise form against one uniform negative j_r per extra positive (our adaptation):

    L_RD = −mean_u Σ_r w_r log σ(ŝ_{uπ_r} − ŝ_{uj_r}),    L = (1 − α)·L_BPR + α·L_RD.

As in the paper, the student's rank r̂ of each π_r is estimated from ``rank_samples`` random
items rather than a full sort. The negatives j_r are drawn uniformly from all items without
rejection, so one is occasionally a training positive or a teacher top-K item (about 3 % of
draws on the synthetic set, 6 % on ml-100k).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..recsys.bpr_mf import bpr_loss

WEIGHTINGS = ("position", "hybrid")


def position_weights(k: int, lam: float) -> torch.Tensor:
    """w^a normalised to sum 1: exp(−r/λ) for r = 1 … k."""
    w = torch.exp(-torch.arange(1, k + 1, dtype=torch.float32) / lam)
    return w / w.sum()


def hybrid_weights(w_pos: torch.Tensor, student_ranks: torch.Tensor, mu: float) -> torch.Tensor:
    """w^a·w^b, renormalised per user; ``student_ranks``: (B, K), 1-based."""
    r = torch.arange(1, w_pos.numel() + 1, dtype=torch.float32)
    w_dyn = torch.tanh(torch.clamp(mu * (student_ranks.float() - r), min=0))
    w = w_pos * w_dyn
    return w / w.sum(1, keepdim=True).clamp_min(1e-12)


def estimated_ranks(s_sample: torch.Tensor, s: torch.Tensor, n_items: int) -> torch.Tensor:
    """RD's sampled rank estimate: r̂ = 1 + ⌊n_items · P(a random item scores above s)⌋.

    ``s_sample``: (B, m) student scores of m random items per user; ``s``: (B, K).
    """
    above = (s_sample[:, None, :] > s[:, :, None]).float().mean(-1)
    return 1 + torch.floor(above * n_items)


def rd_loss(s_top: torch.Tensor, s_neg: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """−mean_u Σ_r w_r log σ(ŝ_{uπ_r} − ŝ_{uj_r}); all arguments (B, K) (weights may be (K,))."""
    return -(weights * F.logsigmoid(s_top - s_neg)).sum(-1).mean()


@torch.no_grad()
def teacher_top_k(teacher, train, k: int, batch_size: int = 1024) -> torch.Tensor:
    """The teacher's top-k items per user among the user's unobserved items, (n_users, k)."""
    teacher.eval()
    out = []
    for start in range(0, train.shape[0], batch_size):
        users = torch.arange(start, min(start + batch_size, train.shape[0]))
        s = teacher.score_all(users)
        r, c = train[users.numpy()].nonzero()
        s[torch.as_tensor(r), torch.as_tensor(c)] = -torch.inf
        out.append(torch.topk(s, k, dim=1).indices)
    return torch.cat(out)


def make_ranking_distillation(teacher, train, *, k: int = 10, lam: float = 5.0, mu: float = 0.1,
                              alpha: float = 0.5, weighting: str = "hybrid",
                              rank_samples: int = 100, seed: int = 0):
    """A ``loss_fn(model, users, pos, neg)`` for :func:`kdkit.recsys.train.train_bpr`."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting '{weighting}'; allowed: {', '.join(WEIGHTINGS)}")
    top = teacher_top_k(teacher, train, k)
    w_pos = position_weights(k, lam)
    gen = torch.Generator().manual_seed(seed)
    n_items = train.shape[1]

    def loss_fn(model, users, pos, neg):
        ub = torch.unique(users)
        items = top[ub]
        negs = torch.randint(0, n_items, items.shape, generator=gen)
        s_top = model.score(ub[:, None].expand_as(items), items)
        s_neg = model.score(ub[:, None].expand_as(negs), negs)
        if weighting == "hybrid":
            with torch.no_grad():
                sample = torch.randint(0, n_items, (len(ub), rank_samples), generator=gen)
                s_sample = model.score(ub[:, None].expand_as(sample), sample)
                ranks = estimated_ranks(s_sample, s_top.detach(), n_items)
            w = hybrid_weights(w_pos, ranks, mu)
        else:
            w = w_pos
        rd = rd_loss(s_top, s_neg, w)
        return (1 - alpha) * bpr_loss(*model(users, pos, neg)) + alpha * rd

    return loss_fn



"""Ranking Distillation (Tang & Wang, "Ranking Distillation: Learning Compact Ranking Models
With High Performance for Recommender System", KDD 2018), as in the paper and its public code
(graytowne/rank_distill), for a BPR-MF student.

The teacher's top-K unobserved items π_u = (π_1 … π_K) of each user become extra positives.
The student's loss adds, per training sample of user u, the weighted pointwise term

    L_RD = α · Σ_r w_r · (−log σ(ŝ_{uπ_r}))

to its own (BPR) loss. The weights are the position importance

    w^a_r = exp(−r/λ) / Σ_{r'} exp(−r'/λ)         (r = 1 … K)

alone until the warm-up epoch, then the hybrid w_r = w^a_r · w^b_r with the ranking
discrepancy

    w^b_r = max(tanh(μ · (r̂_r − (r − 1))), 0),   r̂_r = ⌊n_items · #{sampled j: ŝ_uj > ŝ_uπ_r} / m⌋,

the student's rank of π_r estimated from m random items (the public code's 0-based ranks; the
hybrid weights are not renormalised there, nor here). The public code refreshes w^b for every
mini-batch; with per-sample SGD (``recsys.bpr_sgd``) they are refreshed once per epoch for
every user, and each sample takes one step on one candidate drawn ∝ w_r (an unbiased estimate
of the sum over r at the cost of one extra item update).
"""

from __future__ import annotations

import numpy as np
import torch

from ..recsys.bpr_mf import BPRMF
from ..recsys.bpr_sgd import CandidateKD


def position_weights(k: int, lam: float) -> np.ndarray:
    """w^a normalised to sum 1: exp(−r/λ) for r = 1 … k."""
    w = np.exp(-np.arange(1, k + 1) / lam)
    return w / w.sum()


def discrepancy_weights(student_ranks: np.ndarray, mu: float) -> np.ndarray:
    """w^b = max(tanh(μ(r̂_r − (r − 1))), 0) for ranks (n, K), column r − 1 = position r."""
    r = np.arange(student_ranks.shape[1])
    return np.clip(np.tanh(mu * (student_ranks - r)), 0.0, None)


def estimated_ranks(s_sample: np.ndarray, s: np.ndarray, n_items: int) -> np.ndarray:
    """RD's sampled rank estimate ⌊n_items · P(a sampled item scores above s)⌋ (0-based).

    ``s_sample``: (n, m) scores of m random items per user; ``s``: (n, K).
    """
    above = (s_sample[:, None, :] > s[:, :, None]).mean(-1)
    return np.floor(above * n_items)


@torch.no_grad()
def teacher_top_k(teacher: BPRMF, train, k: int, batch_size: int = 1024,
                  shuffle: np.ndarray | None = None) -> np.ndarray:
    """The teacher's top-k items per user among the user's unobserved items, (n_users, k);
    with ``shuffle``, user u gets the ranking of user π(u) (its own training items still
    excluded): the shuffled-teacher control."""
    teacher.eval()
    order = np.arange(train.shape[0]) if shuffle is None else np.asarray(shuffle)
    out = []
    for start in range(0, train.shape[0], batch_size):
        users = np.arange(start, min(start + batch_size, train.shape[0]))
        s = teacher.score_all(torch.as_tensor(order[users])).clone()
        r, c = train[users].nonzero()
        s[torch.as_tensor(r), torch.as_tensor(c)] = -torch.inf
        out.append(torch.topk(s, k, dim=1).indices.numpy())
    return np.concatenate(out)


def candidate_kd(teacher: BPRMF, train, *, k: int = 10, lam: float = 1.0, mu: float = 0.1,
                 alpha: float = 1.0, warmup: int = 10, samples: int = 100,
                 shuffle: np.ndarray | None = None) -> CandidateKD:
    """RD for ``recsys.bpr_sgd.train_bpr_sgd`` (defaults: the public code's, but α, which the
    study tunes)."""
    top = teacher_top_k(teacher, train, k, shuffle=shuffle)
    w_pos = position_weights(k, lam)
    n_items = train.shape[1]

    def weights(model: BPRMF, epoch: int, rng: np.random.Generator) -> np.ndarray:
        if epoch <= warmup:
            return np.broadcast_to(w_pos, top.shape)
        with torch.no_grad():
            users = torch.arange(top.shape[0])
            sample = torch.as_tensor(rng.integers(0, n_items, size=(top.shape[0], samples)))
            u = users[:, None]
            s_sample = model.score(u.expand_as(sample), sample).numpy()
            top_t = torch.as_tensor(top)
            s_top = model.score(u.expand_as(top_t), top_t).numpy()
        return w_pos * discrepancy_weights(estimated_ranks(s_sample, s_top, n_items), mu)

    return CandidateKD(top, float(alpha), weights)

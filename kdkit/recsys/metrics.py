"""Full-ranking top-K metrics that cannot flatter a model: ties are broken fairly.

Every rankable item (all items but the user's masked ones) is ranked for every user by
descending score. Where scores tie, the order inside the tie is taken to be **uniformly
random**, and every metric is its **exact expectation** over that random order, computed in
closed form (no sampling, no seed). For one held-out item g with

    h_g = #{rankable j : s_j > s_g}      (items strictly above it)
    t_g = #{rankable j : s_j = s_g}      (its tie group, g included)

its position is uniform on {h_g + 1, …, h_g + t_g}, so with D(n) = Σ_{p=1}^{n} 1/log2(p + 1):

* hit_g@K = P(pos_g ≤ K)                = clip(K − h_g, 0, t_g) / t_g
* dcg_g@K = E[1(pos_g ≤ K) / log2(pos_g + 1)] = (D(min(h_g + t_g, K)) − D(min(h_g, K))) / t_g

and, for a user with held-out items G,

* Recall@K = Σ_g hit_g@K / |G|
* NDCG@K   = Σ_g dcg_g@K / D(min(K, |G|))
* HR@K and MRR depend on the best-placed held-out item. With s* the highest held-out score,
  h*, t* its counts as above and m the number of held-out items scoring s*, the first hit sits
  at h* + the smallest of m positions drawn without replacement from {1, …, t*}:
  HR@K = 1 − C(t* − c, m) / C(t*, m) with c = clip(K − h*, 0, t*), and
  MRR  = Σ_{j=1}^{t*−m+1} [C(t* − j, m − 1) / C(t*, m)] / (h* + j)   (not cut at K).

each averaged over the users that have at least one held-out item. Without ties (t = 1) these
are the usual definitions. Because each one is an average over valid rankings, NDCG ≤ 1 always,
and a scorer that gives every item the same score gets exactly chance: Recall@K = K / n for n
rankable items. Non-finite scores (NaN, ±inf) raise :class:`NonFiniteScores` naming the model
and the split; they never become a metric.

Speed: per batch of users, one ``score_all``, one ``topk`` and three row comparisons (no
per-user Python loop, no per-held-out-item row); the masks and held-out indices are built once
per split (:class:`RankingTask`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.special import gammaln


class NonFiniteScores(ValueError):
    """A model produced NaN or infinite scores where a ranking was asked for."""


def _dcg_prefix(n: int) -> np.ndarray:
    """D(0..n): D(p) = Σ_{q ≤ p} 1/log2(q + 1)."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, n + 2)))])


def expected_hits(higher: np.ndarray, tied: np.ndarray, k: int) -> np.ndarray:
    """P(position ≤ k) for items with ``higher`` items above and a tie group of ``tied``."""
    higher, tied = np.asarray(higher, dtype=float), np.asarray(tied, dtype=float)
    return np.clip(k - higher, 0, tied) / tied


def expected_dcg(higher: np.ndarray, tied: np.ndarray, k: int) -> np.ndarray:
    """E[1(pos ≤ k) / log2(pos + 1)] for a position uniform on higher + 1 … higher + tied."""
    higher, tied = np.asarray(higher, dtype=np.int64), np.asarray(tied, dtype=np.int64)
    d = _dcg_prefix(k)
    return (d[np.minimum(higher + tied, k)] - d[np.minimum(higher, k)]) / tied


def _log_choose(n, r):
    return gammaln(np.asarray(n, dtype=float) + 1) - gammaln(np.asarray(r, dtype=float) + 1) \
        - gammaln(np.asarray(n, dtype=float) - r + 1)


def first_hit_rate(higher, tied, n_best, k: int) -> np.ndarray:
    """HR@k: P(the best-placed of ``n_best`` tied held-out items lands at or above k)."""
    higher, tied, n_best = (np.asarray(x, dtype=np.int64) for x in (higher, tied, n_best))
    c = np.clip(k - higher, 0, tied)
    miss = np.where(tied - c >= n_best,
                    np.exp(_log_choose(np.maximum(tied - c, n_best), n_best)
                           - _log_choose(tied, n_best)), 0.0)
    return 1.0 - miss


def expected_reciprocal_rank(higher, tied, n_best) -> np.ndarray:
    """E[1 / position of the first hit] (see the module docstring)."""
    higher, tied, n_best = (np.asarray(x, dtype=np.int64) for x in (higher, tied, n_best))
    out = 1.0 / (higher + 1.0)
    for i in np.flatnonzero(tied > 1):  # rare: only users whose best held-out item is tied
        t, m, h = int(tied[i]), int(n_best[i]), int(higher[i])
        j = np.arange(1, t - m + 2)
        p_min = np.exp(_log_choose(t - j, m - 1) - _log_choose(t, m))
        out[i] = float((p_min / (h + j)).sum())
    return out


def user_metrics(target_higher, target_tied, n_targets, best_higher=None, best_tied=None,
                 n_best=None, ks: Sequence[int] = (10,)) -> dict[str, np.ndarray]:
    """Per-user metrics from per-target counts.

    ``target_higher``/``target_tied``: (U, G) counts for each user's held-out items, padded
    where ``n_targets`` (U,) says a user has fewer (padding is ignored); ``best_*``: the counts
    of the best-scored held-out item and ``n_best`` how many held-out items share its score.
    """
    n_targets = np.asarray(n_targets)
    valid = np.arange(target_higher.shape[1])[None, :] < n_targets[:, None]
    first = best_higher is not None
    out = {"MRR": expected_reciprocal_rank(best_higher, best_tied, n_best)} if first else {}
    for k in ks:
        hits = np.where(valid, expected_hits(target_higher, target_tied, k), 0.0)
        dcg = np.where(valid, expected_dcg(target_higher, target_tied, k), 0.0)
        out[f"Recall@{k}"] = hits.sum(1) / n_targets
        if first:
            out[f"HR@{k}"] = first_hit_rate(best_higher, best_tied, n_best, k)
        out[f"NDCG@{k}"] = dcg.sum(1) / _dcg_prefix(k)[np.minimum(k, n_targets)]
    return out


def check_finite(scores: torch.Tensor, name: str, split: str) -> None:
    """Raise :class:`NonFiniteScores` unless every score is finite."""
    if bool(torch.isfinite(scores.sum())):  # one pass; a finite sum means no NaN and no inf
        return
    finite = torch.isfinite(scores)
    if not bool(finite.all()):
        rows = int((~finite).any(1).sum()) if scores.ndim == 2 else 1
        raise NonFiniteScores(
            f"{name} gave {int((~finite).sum())} non-finite scores (NaN or inf) for {rows} of "
            f"{len(scores)} users on the {split} split; a metric cannot be computed from them "
            "(check the training loss and learning rate)")


@dataclass
class RankingTask:
    """What ranking one split needs, built once: the users with held-out items, their held-out
    items (padded with -1), and the items masked for each of them."""

    users: np.ndarray
    held_out: np.ndarray        # (U, G) item ids, -1 = padding
    n_held_out: np.ndarray      # (U,)
    exclude: sp.csr_matrix      # (n_users, n_items), nonzero = masked
    n_items: int
    _masked: dict = field(default_factory=dict, repr=False, compare=False)

    def masked(self, start: int, size: int) -> torch.Tensor:
        """Flat indices, into a (size, n_items) score batch of the users from ``start``, of the
        masked items (computed once per batch)."""
        if (start, size) not in self._masked:
            rows, cols = self.exclude[self.users[start:start + size]].nonzero()
            self._masked[(start, size)] = torch.as_tensor(rows.astype(np.int64) * self.n_items
                                                          + cols)
        return self._masked[(start, size)]

    @classmethod
    def build(cls, held_out: sp.csr_matrix, exclude: Sequence[sp.csr_matrix] = ()):
        held_out = held_out.tocsr()
        counts = np.diff(held_out.indptr)
        users = np.flatnonzero(counts)
        if not len(users):
            raise ValueError("no user has a held-out item")
        g = np.full((len(users), counts.max()), -1, dtype=np.int64)
        for row, u in enumerate(users):
            items = held_out.indices[held_out.indptr[u]:held_out.indptr[u + 1]]
            g[row, :len(items)] = items
        mask = sp.csr_matrix(held_out.shape, dtype=np.float32)
        for m in exclude:
            mask = mask + m.tocsr()
        mask.data[:] = 1
        mask.eliminate_zeros()
        return cls(users, g, counts[users], mask.tocsr(), held_out.shape[1])


@torch.no_grad()
def rank_counts(scores: torch.Tensor, targets: torch.Tensor, n_targets: torch.Tensor,
                kmax: int, first_hit: bool = True) -> tuple[np.ndarray, ...]:
    """Counts behind :func:`user_metrics` for a batch whose masked items score −inf.

    ``scores`` (B, N); ``targets`` (B, G) are the held-out items' own scores (padding
    anything); returns (target_higher, target_tied, best_higher, best_tied, n_best). Counts are
    read off the top-k scores wherever they are exact there, so the full rows are compared
    only for the few users that need it: a target scoring below the k-th best needs no exact
    count for @k metrics (it gets higher = kmax); a best held-out item below the k-th best is
    counted over its whole row (for MRR). Without ``first_hit`` only the first two are
    returned (Recall and NDCG need no more).
    """
    B, N = scores.shape
    valid = torch.arange(targets.shape[1])[None, :] < n_targets[:, None]
    k = min(kmax, N)
    top = torch.topk(scores, k, dim=1, sorted=False).values.sort(1).values  # (B, k) ascending
    kth = top[:, :1].contiguous()                                      # (B, 1)
    at_kth = (targets == kth) & valid
    tied_kth = torch.ones(B, 1, dtype=torch.long)
    rows = at_kth.any(1).nonzero().flatten()
    if len(rows):  # a tie at the cut-off may extend beyond the top k: count it in full
        tied_kth[rows] = (scores[rows] == kth[rows]).sum(1, keepdim=True)
    targets = targets.contiguous()
    at_most = torch.searchsorted(top, targets, right=True)            # top scores ≤ target
    above = k - at_most                                                # exact if target ≥ kth
    tied = at_most - torch.searchsorted(top, targets)                  # exact if target > kth
    tied = torch.where(at_kth, tied_kth.expand_as(tied), tied)
    reach = (targets >= kth) & valid
    higher = torch.where(reach, above, torch.full_like(above, kmax))
    tied = torch.where(reach, tied, torch.ones_like(tied))
    if not first_hit:
        return higher.numpy(), tied.numpy()
    best, arg = torch.where(valid, targets, torch.full_like(targets, -torch.inf)).max(1)
    n_best = ((targets == best[:, None]) & valid).sum(1)
    best_higher = above.gather(1, arg[:, None]).squeeze(1)
    best_tied = tied.gather(1, arg[:, None]).squeeze(1)
    low = (best < kth.squeeze(1)).nonzero().flatten()
    if len(low):  # no held-out item in reach: its rank needs the whole row
        row, b = scores[low], best[low, None]
        best_higher[low] = (row > b).sum(1)
        best_tied[low] = (row == b).sum(1)
    return tuple(x.numpy() for x in (higher, tied, best_higher, best_tied, n_best))


def _batches(n: int, n_items: int, batch_size: int | None):
    if batch_size is None:  # about 16 M scores per batch (64 MB of float32)
        batch_size = max(1, (1 << 24) // max(n_items, 1))
    return range(0, n, batch_size), batch_size


@torch.no_grad()
def rank_task(score_all: Callable[[torch.Tensor], torch.Tensor], task: RankingTask,
              ks: Sequence[int] = (10,), *, name: str = "the model", split: str = "held-out",
              batch_size: int | None = None, device=None,
              first_hit: bool = True, per_user: bool = False) -> dict:
    """Mean per-user metrics of ``score_all`` on a prepared :class:`RankingTask`; without
    ``first_hit`` only Recall@K and NDCG@K (what early stopping needs, faster). With
    ``per_user`` each metric is the array of its per-user values instead, in the order of
    ``task.users`` (for an interval that covers users: :mod:`kdkit.user_bootstrap`)."""
    starts, size = _batches(len(task.users), task.n_items, batch_size)
    parts = []
    for start in starts:
        sl = slice(start, start + size)
        users = task.users[sl]
        scores = score_all(torch.as_tensor(users, dtype=torch.long, device=device)).float()
        scores = scores.detach().cpu().contiguous()
        check_finite(scores, name, split)
        idx = torch.as_tensor(task.held_out[sl])
        targets = scores.gather(1, idx.clamp(min=0))
        scores.view(-1)[task.masked(start, size)] = -torch.inf
        counts = rank_counts(scores, targets, torch.as_tensor(task.n_held_out[sl]), max(ks),
                             first_hit)
        parts.append(user_metrics(counts[0], counts[1], task.n_held_out[sl], *counts[2:],
                                  ks=ks))
    if per_user:
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return {k: float(np.concatenate([p[k] for p in parts]).mean()) for k in parts[0]}


def full_ranking_metrics(score_all, held_out: sp.csr_matrix, exclude=(), ks=(10,),
                         batch_size: int | None = None, *, name: str = "the model",
                         split: str = "held-out") -> dict[str, float]:
    """Mean per-user Recall@K, HR@K, NDCG@K and MRR (module docstring) of ``score_all`` over
    the users with held-out items, ``exclude`` masked."""
    return rank_task(score_all, RankingTask.build(held_out, exclude), ks, name=name,
                     split=split, batch_size=batch_size)


GATE_SEED = 20_211_201


def validation_halves(users: np.ndarray, seed: int = GATE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split the validation users in two fixed halves: ``select`` (early stopping and tuning)
    and ``gate`` (held out: the teacher and control gates, judged on data that chose neither a
    checkpoint nor a hyperparameter). Same users ⇒ same halves."""
    users = np.sort(np.asarray(users))
    order = np.random.default_rng(seed).permutation(len(users))
    return np.sort(users[order[::2]]), np.sort(users[order[1::2]])


def ranking_task(data, split: str) -> RankingTask:
    """The :class:`RankingTask` of ranking ``data``'s ``split``, built once and kept in ``data``:

    * ``test``: the test items, with the training and validation items masked;
    * ``valid``: the validation items of the *select* half of the validation users
      (:func:`validation_halves`), only the training items masked (test membership must not
      steer early stopping or tuning);
    * ``gate``: the same for the held-out half of the validation users;
    * ``valid-all``: every validation user, only training items masked.
    """
    if split not in ("test", "valid", "gate", "valid-all"):
        raise ValueError(f"split must be test, valid, gate or valid-all, got {split!r}")
    cache = data.__dict__.setdefault("_cache", {})
    if ("ranking", split) not in cache:
        if split == "test":
            held, exclude = data.matrix("test"), (data.matrix("train"), data.matrix("valid"))
        else:
            held, exclude = data.matrix("valid"), (data.matrix("train"),)
            if split != "valid-all":
                users = np.flatnonzero(np.diff(held.tocsr().indptr))
                keep = validation_halves(users)[0 if split == "valid" else 1]
                rows = np.zeros(held.shape[0], dtype=np.float32)
                rows[keep] = 1
                held = (sp.diags(rows) @ held).tocsr()
                held.eliminate_zeros()
        cache[("ranking", split)] = RankingTask.build(held, exclude)
    return cache[("ranking", split)]


def evaluate(model, data, split: str = "test", ks=(10,), *, name: str | None = None,
             first_hit: bool = True, per_user: bool = False) -> dict:
    """Full-ranking metrics of ``model.score_all`` on ``data``'s ``split``.

    Training items are masked; on test the validation items are masked too; validation
    (``valid``: the select half of its users, ``gate``: the held-out half) masks only training
    items. The masks are built once per data set and split (:func:`ranking_task`).
    """
    model.eval()
    device = next((p.device for p in model.parameters()), None) \
        if hasattr(model, "parameters") else None
    return rank_task(model.score_all, ranking_task(data, split), ks,
                     name=name or type(model).__name__, split=f"{split} split of {data.name}",
                     device=device, first_hit=first_hit, per_user=per_user)


@torch.no_grad()
def single_target_metrics(scores: torch.Tensor, targets, *, ks=(10,), extra_ndcg=(),
                          name: str = "the model", split: str = "held-out") -> dict[str, float]:
    """One held-out item per row (next-item prediction): ``scores`` (n, N) with masked items at
    −inf and the targets' own scores intact; returns NDCG@k for k in ``extra_ndcg`` + ``ks``,
    Recall@k (= HR@k) for k in ``ks``, and MRR, each the tie-aware expectation."""
    tgt = torch.as_tensor(targets).reshape(-1, 1)
    t_score = scores.gather(1, tgt)
    if not bool(torch.isfinite(t_score).all()):
        raise NonFiniteScores(f"{name} gave a non-finite score to a target on the {split}")
    higher = (scores > t_score).sum(1).numpy()
    tied = (scores == t_score).sum(1).numpy()
    out = {}
    for k in (*extra_ndcg, *ks):
        out[f"NDCG@{k}"] = float(expected_dcg(higher, tied, k).mean())
    for k in ks:
        out[f"Recall@{k}"] = float(expected_hits(higher, tied, k).mean())
    out["MRR"] = float(expected_reciprocal_rank(higher, tied, np.ones_like(tied)).mean())
    return out

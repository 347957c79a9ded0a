"""BPR-MF trained by per-sample SGD in a compiled loop: kdkit's fast path (Rendle et al.,
"BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009, LearnBPR).

One epoch visits every training pair (u, i) once in a seeded random order, draws an item
j ∉ train(u) uniformly (rejection sampling inside the loop), and takes one SGD step on

    ℓ(u, i, j) = g(d) + λ/2 · (‖p_u‖² + ‖q_i‖² + ‖q_j‖² + b_i² + b_j²),
    d = ŝ_ui − ŝ_uj = ⟨p_u, q_i − q_j⟩ + b_i − b_j,

so ∂ℓ/∂p_u = g'(d)(q_i − q_j) + λ p_u, ∂ℓ/∂q_i = g'(d) p_u + λ q_i, ∂ℓ/∂q_j = −g'(d) p_u + λ q_j,
∂ℓ/∂b_i = g'(d) + λ b_i, ∂ℓ/∂b_j = −g'(d) + λ b_j (the user bias cancels in d and in every
ranking; it stays at 0). g is BPR's −log σ(d), or a distillation loss of the margin given by a
:class:`MarginKD` (``kdkit.distill.bpr_kd``): with the frozen teacher's margin d_T,

    g(d) = (1 − α)(−log σ(d)) + α · L_soft(d, d_T).

A :class:`CandidateKD` (``kdkit.distill.ranking``, Ranking Distillation) adds, per sample, one
step on α_RD · W_u · (−log σ(ŝ_{uπ})) for a teacher candidate π drawn from the user's K
candidates with probability w_{ur} / W_u (W_u = Σ_r w_{ur}): an unbiased estimate of the
pointwise RD term α_RD Σ_r w_{ur} (−log σ(ŝ_{uπ_r})) at the cost of one extra item update.

The parameters are the ``BPRMF`` module's own tensors, updated in place through NumPy views,
so the model is scored and saved as usual. Single-threaded and deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numba import njit

from .bpr_mf import BPRMF
from .sampling import data_train_bits

MODES = {"bpr": 0, "margin": 1, "sigmoid": 2}


@dataclass
class MarginKD:
    """A margin distillation term for the SGD loop (built by ``kdkit.distill.bpr_kd``)."""

    reading: str           # margin | sigmoid
    alpha: float
    temperature: float
    user: np.ndarray       # the teacher's user factors (n_users, d_T)
    item: np.ndarray       # the teacher's item factors (n_items, d_T)
    item_bias: np.ndarray  # the teacher's item biases (n_items,)


@dataclass
class CandidateKD:
    """Ranking Distillation's extra positives (built by ``kdkit.distill.ranking``);
    ``weights(model, epoch, rng)`` gives the (n_users, K) weights of an epoch."""

    candidates: np.ndarray  # (n_users, K) the teacher's top-K unobserved items
    alpha: float
    weights: object


@njit(cache=True, fastmath=True, error_model="numpy")
def _log1p_exp(x):
    return x + np.log1p(np.exp(-x)) if x > 0 else np.log1p(np.exp(x))


@njit(cache=True, fastmath=True, error_model="numpy")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@njit(cache=True, error_model="numpy")
def _is_train(bits, u, j):
    return (bits[u, j >> 6] >> np.uint64(j & 63)) & np.uint64(1)


@njit(cache=True, fastmath=True, error_model="numpy")
def _epoch(P, Q, B, users, items, bits, seed, lr, reg,
           mode, alpha, temp, TP, TQ, TB, cand, cand_w, cand_alpha):
    """One pass over the pairs in a random order; returns the summed loss. The order, the
    negatives and RD's candidate draws come from NumPy's generator inside the compiled code,
    seeded with ``seed``."""
    np.random.seed(seed)
    n_items, dim = Q.shape
    order = np.random.permutation(users.shape[0])
    total = 0.0
    for step in range(users.shape[0]):
        u, i = users[order[step]], items[order[step]]
        j = np.random.randint(0, n_items)
        while _is_train(bits, u, j):
            j = np.random.randint(0, n_items)
        d = B[i] - B[j]
        for f in range(dim):
            d += P[u, f] * (Q[i, f] - Q[j, f])
        sd = _sigmoid(d)
        grad = -(1.0 - sd)  # d/dd of -log σ(d)
        loss = -np.log(sd) if sd > 1e-30 else -d
        if mode > 0:
            dt = TB[i] - TB[j]
            for f in range(TP.shape[1]):
                dt += TP[u, f] * (TQ[i, f] - TQ[j, f])
            if mode == 1:  # margin: (d_S − d_T)² (τ² · MSE of d/τ is the same)
                g_soft = 2.0 * (d - dt)
                l_soft = (d - dt) * (d - dt)
            else:          # sigmoid: τ² (σ(d_S/τ) − σ(d_T/τ))²
                ss, st = _sigmoid(d / temp), _sigmoid(dt / temp)
                g_soft = 2.0 * temp * (ss - st) * ss * (1.0 - ss)
                l_soft = temp * temp * (ss - st) * (ss - st)
            grad = (1.0 - alpha) * grad + alpha * g_soft
            loss = (1.0 - alpha) * loss + alpha * l_soft
        g = np.float32(grad)
        B[i] -= lr * (g + reg * B[i])
        B[j] -= lr * (-g + reg * B[j])
        lg, lr32 = np.float32(lr) * g, np.float32(lr)
        decay = np.float32(1.0) - lr32 * np.float32(reg)
        for f in range(dim):
            pu, qi, qj = P[u, f], Q[i, f], Q[j, f]
            P[u, f] = decay * pu - lg * (qi - qj)
            Q[i, f] = decay * qi - lg * pu
            Q[j, f] = decay * qj + lg * pu
        if cand_alpha > 0.0:
            K = cand.shape[1]
            w_sum = 0.0
            for r in range(K):
                w_sum += cand_w[u, r]
            if w_sum > 0.0:
                target = np.random.random() * w_sum
                r = 0
                acc = cand_w[u, 0]
                while acc < target and r < K - 1:
                    r += 1
                    acc += cand_w[u, r]
                c = cand[u, r]
                s = B[c]
                for f in range(dim):
                    s += P[u, f] * Q[c, f]
                gc = -cand_alpha * w_sum * (1.0 - _sigmoid(s))
                loss += cand_alpha * w_sum * _log1p_exp(-s)
                B[c] -= lr * gc
                for f in range(dim):
                    pu, qc = P[u, f], Q[c, f]
                    P[u, f] = pu - lr * gc * qc
                    Q[c, f] = qc - lr * gc * pu
        total += loss
    return total


def _views(model: BPRMF):
    if model.user_bias is None:
        raise ValueError("the SGD path trains BPRMF with biases (bias=True)")
    with torch.no_grad():
        return (model.user.weight.detach().numpy(), model.item.weight.detach().numpy(),
                model.item_bias.weight.detach().numpy()[:, 0])


def sgd_epoch(model: BPRMF, data, *, lr: float, reg: float, rng: np.random.Generator,
              kd: MarginKD | None = None, rd: CandidateKD | None = None,
              rd_weights: np.ndarray | None = None) -> float:
    """One epoch of per-sample SGD on ``model`` in place; returns the mean loss."""
    P, Q, B = _views(model)
    cache = data.__dict__.setdefault("_cache", {})
    bits = data_train_bits(data)
    pairs = data.train
    seed = int(rng.integers(2**31 - 1))
    empty2, empty1 = np.zeros((1, 1), dtype=np.float32), np.zeros(1, dtype=np.float32)
    if kd is not None:
        mode, alpha, temp = MODES[kd.reading], kd.alpha, kd.temperature
        TP, TQ, TB = kd.user, kd.item, kd.item_bias
    else:
        mode, alpha, temp, TP, TQ, TB = 0, 0.0, 1.0, empty2, empty2, empty1
    if rd is not None:
        cand, cand_w, cand_alpha = rd.candidates, rd_weights, rd.alpha
    else:
        cand, cand_w, cand_alpha = np.zeros((1, 1), np.int64), np.zeros((1, 1)), 0.0
    if "train_columns" not in cache:
        cache["train_columns"] = (np.ascontiguousarray(pairs[:, 0]),
                                  np.ascontiguousarray(pairs[:, 1]))
    total = _epoch(P, Q, B, *cache["train_columns"], bits, seed, lr, reg, mode, alpha, temp,
                   TP, TQ, TB, cand, np.asarray(cand_w, dtype=np.float64), cand_alpha)
    return total / len(pairs)


def train_bpr_sgd(model: BPRMF, data, *, epochs: int, lr: float, reg: float, seed: int = 0,
                  kd: MarginKD | None = None, rd: CandidateKD | None = None,
                  eval_every: int = 0, patience: int = 0, ks=(10,), metric: str = "NDCG@10",
                  progress=None) -> list[dict]:
    """Train ``model`` in place for up to ``epochs`` epochs; return one row per epoch.

    With ``eval_every`` > 0 the model is scored on validation every that many epochs; with
    ``patience`` > 0 training stops after ``patience`` evaluations without a better ``metric``
    and the best weights are restored (``kdkit.early_stopping``). Test is never touched.
    """
    from .train import EpochLog

    rng = np.random.default_rng(seed)
    log = EpochLog(model, data, name=f"BPR-MF (dim {model.dim})", lr=lr, epochs=epochs,
                   eval_every=eval_every, patience=patience, ks=ks, metric=metric,
                   progress=progress)
    model.eval()
    for epoch in range(1, epochs + 1):
        weights = rd.weights(model, epoch, rng) if rd is not None else None
        loss = sgd_epoch(model, data, lr=lr, reg=reg, rng=rng, kd=kd, rd=rd, rd_weights=weights)
        if log.end(epoch, loss):
            break
    return log.finish()

"""Synthetic next-item sequences with a real order signal: a latent-trajectory process.

Items get latent factors q_i ~ N(0, I_r) and a popularity offset b_i = popularity · log(Zipf
weight of a random rank); one random orthogonal r × r matrix R is the "what comes next"
transition shared by everybody. A user starts in a taste state s_0 ~ N(0, I_r); at step t the
next item is drawn among the items the user has not chosen yet with probabilities

    P(i_t = i) ∝ exp(signal · ⟨s_t, q_i⟩ / √r + b_i),

and the state moves towards the rotated factors of that item,

    u = memory · s_t / ‖s_t‖ + (1 − memory) · R q_{i_t} / ‖q_{i_t}‖,    s_{t+1} = √r · u / ‖u‖.

So the next item depends on the order of the history (recent items weigh (1 − memory) ·
memory^k, k steps back) through R, not only on which items were seen: a model that ignores
order, or cannot hold rank-r item factors, ranks worse. ``memory`` near 1 is a static taste
(order carries little), near 0 a first-order Markov chain over items. Sequence lengths are
log-normal around ``length`` (at least 5, at most n_items // 2). Timestamps are the step
numbers, so no two events of a user tie. Fully determined by ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_sequences(*, n_users: int = 2000, n_items: int = 1000, length: float = 40.0,
                        rank: int = 32, signal: float = 3.0, memory: float = 0.5,
                        popularity: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Return a log with columns ``user, item, timestamp`` (items 0..n_items−1; every user's
    timestamps are 0, 1, …; the module docstring gives the process)."""
    if not 0 <= memory < 1:
        raise ValueError(f"memory must be in [0, 1), got {memory}")
    if rank < 1 or n_items < 10 or n_users < 1:
        raise ValueError("rank, n_users must be ≥ 1 and n_items ≥ 10")
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_items, rank))
    b = popularity * np.log((1.0 / np.arange(1, n_items + 1))[rng.permutation(n_items)])
    rot, _ = np.linalg.qr(rng.standard_normal((rank, rank)))
    nxt = q @ rot.T                                   # R q_i for every item, rows
    nxt /= np.linalg.norm(nxt, axis=1, keepdims=True)
    sizes = np.clip(np.round(rng.lognormal(np.log(length) - 0.125, 0.5, n_users)), 5,
                    n_items // 2).astype(int)
    s = rng.standard_normal((n_users, rank))
    chosen = np.zeros((n_users, n_items), dtype=bool)
    steps = np.empty((n_users, sizes.max()), dtype=np.int64)
    rows = np.arange(n_users)
    for t in range(sizes.max()):
        on = rows[sizes > t]                          # users whose sequence goes on
        s[on] = s[on] / np.linalg.norm(s[on], axis=1, keepdims=True)
        logits = signal * (s[on] @ q.T) + b
        logits[chosen[on]] = -np.inf
        # Gumbel-max: one draw from softmax(logits) per user
        item = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
        steps[on, t] = item
        chosen[on, item] = True
        s[on] = memory * s[on] + (1 - memory) * nxt[item]
    users = np.repeat(rows, sizes)
    t = np.concatenate([np.arange(n) for n in sizes])
    log = pd.DataFrame({"user": users, "item": steps[users, t], "timestamp": t})
    log.attrs["shape"] = (n_users, n_items)
    return log

"""Synthetic implicit feedback in the spirit of seed 001 (whose generator is undisclosed).

Each user u and item i get latent factors p_u, q_i ~ N(0, I_r); items also get a popularity
offset b_i = popularity · log(Zipf weight of a random rank). A user's affinity to an item is

    a_ui = signal · ⟨p_u, q_i⟩ / √r + b_i,

and the user's n_u interactions (n_u ≈ density · n_items, log-normally spread, at least 5) are
drawn without replacement with probabilities softmax_i(a_ui). Larger ``signal`` means more
personal taste, larger ``popularity`` more head-heavy items. Fully determined by ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_interactions(*, n_users: int = 500, n_items: int = 1000, density: float = 0.02,
                           rank: int = 16, signal: float = 2.0, popularity: float = 1.0,
                           seed: int = 0) -> pd.DataFrame:
    """Return a log with columns ``user, item`` (no timestamps); ``log.attrs["shape"]`` is
    ``(n_users, n_items)``, the universe including items nobody chose."""
    if not 0 < density < 1:
        raise ValueError(f"density must be in (0, 1), got {density}")
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((n_users, rank))
    q = rng.standard_normal((n_items, rank))
    zipf = 1.0 / np.arange(1, n_items + 1)
    b = popularity * np.log(zipf[rng.permutation(n_items)])
    mean = density * n_items
    sizes = np.clip(np.round(rng.lognormal(np.log(mean) - 0.125, 0.5, n_users)), 5,
                    n_items // 2).astype(int)
    users, items = [], []
    for u in range(n_users):
        a = signal * (q @ p[u]) / np.sqrt(rank) + b
        w = np.exp(a - a.max())
        # Gumbel top-k = sampling without replacement proportional to w
        keys = np.log(w) + rng.gumbel(size=n_items)
        chosen = np.argpartition(-keys, sizes[u])[: sizes[u]]
        users.append(np.full(sizes[u], u))
        items.append(np.sort(chosen))
    log = pd.DataFrame({"user": np.concatenate(users), "item": np.concatenate(items)})
    log.attrs["shape"] = (n_users, n_items)
    return log

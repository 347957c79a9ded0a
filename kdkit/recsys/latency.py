"""Recommendation latency: time to score every item for a user and take the top K.

Reported two ways: the median over users of a single-user call (what one request costs), and a
whole-batch call divided by the number of users (throughput). Milliseconds per user. Timings
vary from run to run, so they go to tables and claims, never to ``metrics.json``.
"""

from __future__ import annotations

import time

import numpy as np
import torch


@torch.no_grad()
def _single(model, users, k):
    """Nanoseconds of one single-user call per user."""
    out = []
    for u in users:
        t0 = time.perf_counter_ns()
        torch.topk(model.score_all(u[None]), k)
        out.append(time.perf_counter_ns() - t0)
    return out


@torch.no_grad()
def _batched(model, users, k):
    t0 = time.perf_counter_ns()
    torch.topk(model.score_all(users), k, dim=1)
    return (time.perf_counter_ns() - t0) / len(users)


def latency_per_user(models: dict, users, *, k: int = 10, repeats: int = 3, warmup: int = 10,
                     seed: int = 0) -> dict:
    """``{name: {"latency_ms", "latency_batched_ms"}}`` for every model in ``models``.

    Each repeat times every model once, in a fresh seeded random order, so no model is
    always measured first (warm caches, CPU frequency) or last.
    """
    users = torch.as_tensor(np.asarray(users), dtype=torch.long)
    names = list(models)
    for name in names:
        models[name].eval()
        _single(models[name], users[:warmup], k)
    single = {n: [] for n in names}
    batched = {n: [] for n in names}
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        for i in rng.permutation(len(names)):
            name = names[i]
            single[name] += _single(models[name], users, k)
            batched[name].append(_batched(models[name], users, k))
    return {n: {"latency_ms": float(np.median(single[n])) / 1e6,
                "latency_batched_ms": float(np.median(batched[n])) / 1e6} for n in names}

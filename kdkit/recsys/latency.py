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
def latency_per_user(model, users, *, k: int = 10, repeats: int = 3, warmup: int = 10) -> dict:
    model.eval()
    users = torch.as_tensor(np.asarray(users), dtype=torch.long)
    for u in users[:warmup]:
        torch.topk(model.score_all(u[None]), k)
    single = []
    for _ in range(repeats):
        for u in users:
            t0 = time.perf_counter_ns()
            torch.topk(model.score_all(u[None]), k)
            single.append(time.perf_counter_ns() - t0)
    batched = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        torch.topk(model.score_all(users), k, dim=1)
        batched.append((time.perf_counter_ns() - t0) / len(users))
    return {"latency_ms": float(np.median(single)) / 1e6,
            "latency_batched_ms": float(np.median(batched)) / 1e6}

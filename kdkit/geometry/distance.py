"""Procrustes-DTW distance matrices between skeleton sequences (seed 002's teacher metric):
d(A, B) = DTW over the Procrustes frame costs (``procrustes``, ``dtw``).

``distance_matrix(train)`` gives the symmetric train × train matrix (upper triangle computed,
diagonal 0); ``distance_matrix(test, train)`` the test × train one. Pairs run in parallel on
all cores through numba (``_kernels``); a progress bar counts the chunks. ``naive_distance``
is the straightforward Python double loop the fast path is checked and timed against.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from . import _kernels
from .dtw import dtw_path
from .procrustes import frame_costs, normalize_frames


def _stack(seqs) -> tuple[np.ndarray, np.ndarray]:
    lens = [len(s) for s in seqs]
    if min(lens) < 1:
        raise ValueError("every sequence needs at least one frame")
    frames = normalize_frames(np.concatenate([np.asarray(s, dtype=float) for s in seqs]))
    return np.ascontiguousarray(frames), np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)


def distance_matrix(seqs_a, seqs_b=None, *, chunk: int = 2000, progress: bool = False
                    ) -> np.ndarray:
    """Procrustes-DTW distances; sequences are arrays (T_i, J, 3)."""
    fa, oa = _stack(seqs_a)
    sym = seqs_b is None
    fb, ob = (fa, oa) if sym else _stack(seqs_b)
    na, nb = len(oa) - 1, len(ob) - 1
    if sym:
        pairs = np.array([(i, j) for i in range(na) for j in range(i + 1, nb)], dtype=np.int64)
    else:
        pairs = np.array([(i, j) for i in range(na) for j in range(nb)], dtype=np.int64)
    out = np.zeros((na, nb))
    chunks = range(0, len(pairs), chunk)
    for s in tqdm(chunks, disable=not progress, desc="Procrustes-DTW"):
        p = pairs[s:s + chunk]
        out[p[:, 0], p[:, 1]] = _kernels.distance_pairs(fa, oa, fb, ob, p)
    if sym:
        out = out + out.T
    return out


def naive_distance(a, b) -> float:
    """The reference: a Python double loop with one SVD per frame pair, then DTW."""
    cost = np.empty((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            x = a[i] - a[i].mean(axis=0)
            x = x / np.linalg.norm(x)
            y = b[j] - b[j].mean(axis=0)
            y = y / np.linalg.norm(y)
            u, _, vt = np.linalg.svd(x.T @ y)
            if np.linalg.det(u @ vt) < 0:
                u[:, 2] = -u[:, 2]
            cost[i, j] = np.linalg.norm(x @ (u @ vt) - y, axis=1).sum()
    return dtw_path(cost)[0]


def cost_matrix(a, b) -> np.ndarray:
    """The frame-cost matrix of one pair (for plots and the DTW path)."""
    return frame_costs(np.asarray(a, dtype=float), np.asarray(b, dtype=float))

"""Procrustes-DTW distance matrices between skeleton sequences (seed 002's teacher metric):
d(A, B) = DTW over the Procrustes frame costs c(A_i, B_j) (``procrustes``, ``dtw``),

    D[i, j] = c(A_i, B_j) + min(D[i−1, j], D[i, j−1], D[i−1, j−1]),   d(A, B) = D[m−1, n−1],

or, with ``normalize=True``, the same optimal warping path's cost divided by its length,

    d̄(A, B) = D[m−1, n−1] / L[m−1, n−1],   L[i, j] = 1 + L[the predecessor the min chose],

L counting the cells (i, j) on the path (max(m, n) ≤ L ≤ m + n − 1), L[−1, −1] = 0; ties in
the min go to the diagonal, then (i−1, j), then (i, j−1), exactly as ``dtw.dtw_path``
backtracks. (Under exact ties between paths of different lengths d̄(A, B) and d̄(B, A) can
differ; the train × train matrix uses the pair order i < j.)

``distance_matrix(train)`` gives the symmetric train × train matrix (upper triangle computed,
diagonal 0); ``distance_matrix(test, train)`` the test × train one. Pairs run in parallel
through numba (``_kernels``: QCP rotations, no allocation per frame pair); a progress bar
counts the chunks. ``naive_distance`` is the straightforward Python double loop with one SVD
per frame pair that the fast path is checked and timed against.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from . import _kernels
from .dtw import dtw_path
from .procrustes import normalize_frames


def pack_sequences(seqs) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sequences (T_i, J, 3) → the kernels' layout: every sequence normalised frame by frame
    (``procrustes.normalize_frames``) and stored as one contiguous block (3, J, T_pad),
    T_pad = T_i rounded up to a multiple of ``_kernels.LANES`` by repeating the last frame, J
    padded with zero joints (which add nothing to S nor to the cost) to a multiple of
    ``_kernels.JOINTS_STEP``. Returns (all blocks, flattened; block starts; lengths T_i; J_pad).
    """
    seqs = [np.asarray(s, dtype=float) for s in seqs]
    if min(len(s) for s in seqs) < 1:
        raise ValueError("every sequence needs at least one frame")
    joints = seqs[0].shape[1]
    if any(s.ndim != 3 or s.shape[1:] != (joints, 3) for s in seqs):
        raise ValueError(f"sequences must all be (T, {joints}, 3) arrays")
    j_pad = -(-joints // _kernels.JOINTS_STEP) * _kernels.JOINTS_STEP
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    padded = -(-lengths // _kernels.LANES) * _kernels.LANES
    starts = np.concatenate([[0], np.cumsum(3 * j_pad * padded)]).astype(np.int64)
    blocks = np.zeros(starts[-1])
    for s, start, t_pad in zip(seqs, starts, padded):
        frames = normalize_frames(s)
        frames = np.concatenate([frames, np.repeat(frames[-1:], t_pad - len(s), axis=0)])
        block = blocks[start:start + 3 * j_pad * t_pad].reshape(3, j_pad, t_pad)
        block[:, :joints] = frames.transpose(2, 1, 0)
    return blocks, starts[:-1], lengths, j_pad


def distance_matrix(seqs_a, seqs_b=None, *, normalize: bool = False, chunk: int = 2000,
                    progress: bool = False, both: bool = False):
    """Procrustes-DTW distances; sequences are arrays (T_i, J, 3). ``normalize`` divides
    each distance by the length of its optimal warping path (module docstring). ``both``:
    the pair (summed, normalised) from one pass over the frame costs, each exactly what
    ``normalize=False`` / ``True`` give."""
    packed_a = pack_sequences(seqs_a)
    sym = seqs_b is None
    packed_b = packed_a if sym else pack_sequences(seqs_b)
    if packed_a[3] != packed_b[3]:
        raise ValueError(f"{packed_a[3]} joints against {packed_b[3]}")
    na, nb = len(packed_a[2]), len(packed_b[2])
    if sym:
        pairs = np.array([(i, j) for i in range(na) for j in range(i + 1, nb)], dtype=np.int64)
    else:
        pairs = np.array([(i, j) for i in range(na) for j in range(nb)], dtype=np.int64)
    pairs = pairs.reshape(-1, 2)
    outs = [np.zeros((na, nb)) for _ in range(2 if both else 1)]
    chunks = range(0, len(pairs), chunk)
    for s in tqdm(chunks, disable=not progress, desc="Procrustes-DTW"):
        p = pairs[s:s + chunk]
        args = (*packed_a[:3], *packed_b[:3], packed_a[3], p)
        got = _kernels.distance_pairs_both(*args) if both else \
            (_kernels.distance_pairs(*args, normalize),)
        for out, values in zip(outs, got):
            out[p[:, 0], p[:, 1]] = values
    if sym:
        outs = [out + out.T for out in outs]
    return tuple(outs) if both else outs[0]


def naive_cost_matrix(a, b) -> np.ndarray:
    """The reference frame costs: a Python double loop with one SVD per frame pair."""
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
    return cost


def naive_distance(a, b, *, normalize: bool = False) -> float:
    """The reference distance: ``naive_cost_matrix``, then the Python DTW of ``dtw``."""
    return dtw_path(naive_cost_matrix(a, b), normalize=normalize)[0]


def cost_matrix(a, b) -> np.ndarray:
    """The frame-cost matrix of one pair (for plots and the DTW path), from the kernels."""
    blocks, starts, lengths, joints = pack_sequences([a, b])
    first, second = (_kernels.block(blocks, starts, lengths, joints, i) for i in (0, 1))
    return _kernels.frame_cost_matrix(first, lengths[0], second, lengths[1])

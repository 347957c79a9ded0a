"""Procrustes-DTW distance matrix: the fast numba path against the naive Python double loop.

    .venv/bin/python bench/procrustes_dtw.py [N_SEQUENCES]

Builds N synthetic skeleton sequences (30-60 frames, 20 joints), times the symmetric
train x train matrix with ``kdkit.geometry.distance.distance_matrix`` (all cores), times
``naive_distance`` (one SVD per frame pair in Python, Python DTW) on a sample of pairs, checks
that both agree, and prints the speed-up. Not run by `make test`.
"""

import sys
import time

import numpy as np

from kdkit.data.skeleton import synthetic_skeletons
from kdkit.geometry.distance import distance_matrix, naive_distance


def main(n: int = 90, n_naive: int = 6):
    data = synthetic_skeletons(n_subjects=max(1, n // 27), n_trials=3, seed=0)
    seqs = data.sequences[:n]
    distance_matrix(seqs[:2])  # compile (cached after the first run)
    t0 = time.perf_counter()
    D = distance_matrix(seqs)
    fast = time.perf_counter() - t0
    pairs = len(seqs) * (len(seqs) - 1) // 2
    rng = np.random.default_rng(0)
    sample = [tuple(rng.choice(len(seqs), 2, replace=False)) for _ in range(n_naive)]
    t0 = time.perf_counter()
    ref = [naive_distance(seqs[i], seqs[j]) for i, j in sample]
    naive = (time.perf_counter() - t0) / n_naive
    assert np.allclose(ref, [D[i, j] for i, j in sample], rtol=1e-9)
    print(f"{len(seqs)} sequences, {pairs} pairs, mean length "
          f"{np.mean([len(s) for s in seqs]):.1f} frames")
    print(f"fast:  {fast:.2f} s  ({fast / pairs * 1e3:.3f} ms per pair)")
    print(f"naive: {naive * 1e3:.1f} ms per pair  (estimated {naive * pairs:.0f} s for the matrix)")
    print(f"speed-up: {naive * pairs / fast:.0f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 90)

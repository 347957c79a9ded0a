"""Dynamic time warping (Sakoe & Chiba, 1978) over a precomputed cost matrix, as seed 002
uses it: D[i, j] = C[i, j] + min(D[i−1, j], D[i, j−1], D[i−1, j−1]), D[−1, −1] = 0, no window,
no normalisation by path length; the distance is D[m−1, n−1]. ``dtw_path`` also returns the
optimal warping path (for plots). The fast fused version lives in ``_kernels``."""

from __future__ import annotations

import numpy as np


def dtw_path(cost: np.ndarray) -> tuple[float, list[tuple[int, int]], np.ndarray]:
    """(distance, path from (0, 0) to (m−1, n−1), accumulated matrix D)."""
    m, n = cost.shape
    D = np.full((m + 1, n + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            D[i, j] = cost[i - 1, j - 1] + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    i, j, path = m, n, [(m - 1, n - 1)]
    while (i, j) != (1, 1):
        steps = {(i - 1, j - 1): D[i - 1, j - 1], (i - 1, j): D[i - 1, j],
                 (i, j - 1): D[i, j - 1]}
        i, j = min(steps, key=steps.get)
        path.append((i - 1, j - 1))
    return float(D[m, n]), path[::-1], D[1:, 1:]

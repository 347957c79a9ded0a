"""Dynamic time warping (Sakoe & Chiba, 1978) over a precomputed cost matrix C (m × n), as
seed 002 uses it: no window,

    D[i, j] = C[i, j] + min(D[i−1, j], D[i, j−1], D[i−1, j−1]),   D[−1, −1] = 0,

and the distance is D[m−1, n−1]. The optimal warping path is found by backtracking from
(m−1, n−1) to the predecessor with the smallest D, ties going to the diagonal (i−1, j−1), then
(i−1, j), then (i, j−1).

Length-normalised variant (``normalize=True``): the same path's total cost divided by its
number of cells, d̄ = D[m−1, n−1] / L with max(m, n) ≤ L ≤ m + n − 1. The fast kernel
(``_kernels``) carries L in the same forward recursion, L[i, j] = 1 + L[chosen predecessor],
with the same tie order, so both give the same path and the same d̄.

``dtw_path`` is the plain-Python reference that also returns the path (for plots and tests);
the fast fused version lives in ``_kernels``.
"""

from __future__ import annotations

import numpy as np


def dtw_path(cost: np.ndarray, *, normalize: bool = False
             ) -> tuple[float, list[tuple[int, int]], np.ndarray]:
    """(distance, path from (0, 0) to (m−1, n−1), accumulated matrix D). With ``normalize``
    the distance is D[m−1, n−1] / len(path)."""
    m, n = cost.shape
    D = np.full((m + 1, n + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            D[i, j] = cost[i - 1, j - 1] + min(D[i - 1, j - 1], D[i - 1, j], D[i, j - 1])
    i, j, path = m, n, [(m - 1, n - 1)]
    while (i, j) != (1, 1):
        steps = {(i - 1, j - 1): D[i - 1, j - 1], (i - 1, j): D[i - 1, j],
                 (i, j - 1): D[i, j - 1]}
        i, j = min(steps, key=steps.get)  # the first smallest: diagonal, up, left
        path.append((i - 1, j - 1))
    distance = float(D[m, n])
    if normalize:
        distance /= len(path)
    return distance, path[::-1], D[1:, 1:]

"""numba kernels behind ``distance``: the Procrustes frame cost and DTW fused, one sequence
pair per parallel task, the cost matrix never stored (O(n) memory per pair).

Rotation: Horn's quaternion method with the QCP algorithm (Horn, JOSA A 1987; Theobald,
Acta Cryst. A 2005; Liu, Agrafiotis & Theobald, J. Comput. Chem. 2010). For
S = X₀ᵀ Y₀ (3 × 3) and a unit quaternion q = (w, x, y, z), tr(R(q)ᵀ S) = qᵀ K q with the
symmetric, traceless key matrix

    K = [[Sxx+Syy+Szz, Szy−Syz,      Sxz−Szx,      Syx−Sxy    ],
         [Szy−Syz,     Sxx−Syy−Szz,  Sxy+Syx,      Sxz+Szx    ],
         [Sxz−Szx,     Sxy+Syx,      Syy−Sxx−Szz,  Syz+Szy    ],
         [Syx−Sxy,     Sxz+Szx,      Syz+Szy,      Szz−Sxx−Syy]],

so R* = R(q*) with q* the eigenvector of K's largest eigenvalue λ₁ = max_R tr(Rᵀ S) over
proper rotations (no reflection fix needed). λ₁ is the largest root of the characteristic
polynomial P(λ) = λ⁴ + c₂λ² + c₁λ + c₀, c₂ = −2‖S‖²_F, c₁ = −8 det S, c₀ = det K, found by
Newton's method from the upper bound λ₀ = ‖X₀‖_F ‖Y₀‖_F = 1 (Cauchy–Schwarz; from above,
Newton converges monotonically to the largest root). q* is a row of

    adj(K − λ₁I) = −P'(λ₁) q* q*ᵀ,   P'(λ₁) = Π_{j≠1}(λ₁ − λ_j)   (the eigenvalue gaps),

taken where the diagonal is largest in magnitude (|q*_i| ≥ ½). The eigenvector's error grows
like ε / (P'(λ₁) · gap), so a frame pair with P'(λ₁) < 10⁻² ‖S‖³_F (a nearly repeated λ₁:
nearly collinear frames and other degenerate cases), a Newton iteration that has not
converged, or a rotation whose tr(Rᵀ S) misses λ₁ falls back to LAPACK's SVD,
R* = U diag(1, 1, sign det(U Vᵀ)) Vᵀ. On skeleton data that is well under 0.1 % of frame
pairs; the frame costs match the SVD answer to ~1e-12.

Layout and vectorisation: a sequence is one contiguous block (3, J, T_pad), coordinate-major,
its frames padded by repeating the last one to T_pad, a multiple of ``LANES``. One frame of A
against all frames of B is a "row": S, the Newton iterations, the adjugate and the residuals
Σ_k ‖(X₀ R*)_k − Y₀,k‖ all run as loops over B's frames that LLVM turns into SIMD code; only
the DTW recursion itself is sequential. Nothing is allocated per frame pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# fast-math without "no NaNs / no infs": the DTW recursion relies on inf
_FAST = {"reassoc", "contract", "nsz", "arcp"}
_OPTS = {"cache": True, "fastmath": _FAST, "error_model": "numpy"}

LANES = 8  # frames per SIMD vector (AVX-512 float64); B's frames are padded to a multiple
JOINTS_STEP = 4  # joints per step of ``_cross_covariances``; J is padded with zero joints
NEWTON_START = 1.0  # λ₁ ≤ ‖X₀‖_F ‖Y₀‖_F = 1 for normalised frames
NEWTON_TOL = 1e-9  # once every |Newton step| of a row is below this, one more step is at roundoff
NEWTON_MAX = 32
FINAL_STEP_TOL = 1e-11  # that last step is larger: not converged (a repeated root), use the SVD
GAP_TOL = 1e-2  # ... or P'(λ₁) < GAP_TOL ‖S‖³_F
TRACE_TOL = 1e-10  # ... or |tr(Rᵀ S) − λ₁| > TRACE_TOL ‖S‖_F
WORK_ROWS = 4  # Newton's work: λ, c₀, c₁, c₂
SCRATCH_ROWS = 9 + 9 + WORK_ROWS  # per row of a pair: S, R, Newton's work, each (·, T_pad)


# --- the rotation: QCP over a row of frame pairs, LAPACK's SVD where QCP is not trusted ---


@njit(**_OPTS)
def _newton(s, work):
    """λ₁ for every column of s (Newton on P from NEWTON_START) into work[0], NaN where it is
    not to be trusted (not converged, or P'(λ₁) < GAP_TOL ‖S‖³_F); work[1:4] is scratch.
    All columns iterate until the slowest has converged (a vectorised loop over columns)."""
    n = s.shape[1]
    lam, c0, c1, c2 = work[0], work[1], work[2], work[3]
    for j in range(n):
        sxx, sxy, sxz = s[0, j], s[1, j], s[2, j]
        syx, syy, syz = s[3, j], s[4, j], s[5, j]
        szx, szy, szz = s[6, j], s[7, j], s[8, j]
        k00 = sxx + syy + szz
        k01 = szy - syz
        k02 = sxz - szx
        k03 = syx - sxy
        k11 = sxx - syy - szz
        k12 = sxy + syx
        k13 = sxz + szx
        k22 = syy - sxx - szz
        k23 = syz + szy
        k33 = szz - sxx - syy
        c2[j] = -2.0 * (sxx * sxx + sxy * sxy + sxz * sxz + syx * syx + syy * syy
                        + syz * syz + szx * szx + szy * szy + szz * szz)
        c1[j] = -8.0 * (sxx * (syy * szz - syz * szy) - sxy * (syx * szz - syz * szx)
                        + sxz * (syx * szy - syy * szx))
        # det K by Laplace expansion in the 2 × 2 minors of rows (0, 1) and rows (2, 3)
        c0[j] = ((k00 * k11 - k01 * k01) * (k22 * k33 - k23 * k23)
                 - (k00 * k12 - k02 * k01) * (k12 * k33 - k23 * k13)
                 + (k00 * k13 - k03 * k01) * (k12 * k23 - k22 * k13)
                 + (k01 * k12 - k02 * k11) * (k02 * k33 - k23 * k03)
                 - (k01 * k13 - k03 * k11) * (k02 * k23 - k22 * k03)
                 + (k02 * k13 - k03 * k12) * (k02 * k13 - k12 * k03))
        lam[j] = NEWTON_START
    for _ in range(NEWTON_MAX):
        steps2 = 0.0  # Σ step² (a sum, not a max: LLVM vectorises sums under reassoc)
        for j in range(n):
            x = lam[j]
            x2 = x * x
            d = (4.0 * x2 + 2.0 * c2[j]) * x + c1[j]
            step = ((x2 + c2[j]) * x2 + c1[j] * x + c0[j]) / d
            step = step if d > 0.0 else 0.0  # at a repeated root: stop, the gap test fails
            lam[j] = x - step
            steps2 += step * step
        if steps2 <= (NEWTON_TOL * NEWTON_START) ** 2:
            break
    for j in range(n):  # one more step, now at roundoff level, and the trust tests
        x = lam[j]
        x2 = x * x
        d = (4.0 * x2 + 2.0 * c2[j]) * x + c1[j]
        step = ((x2 + c2[j]) * x2 + c1[j] * x + c0[j]) / d
        half_c2 = 0.5 * c2[j]  # −‖S‖²_F
        trusted = ((abs(step) <= FINAL_STEP_TOL * NEWTON_START) & (d > 0.0)
                   & (d * d >= -GAP_TOL * GAP_TOL * half_c2 * half_c2 * half_c2))
        lam[j] = x - step if trusted else np.nan


@njit(**_OPTS)
def _rotations(s, lam, rot):
    """R* (row-major) for every column of s into rot, from λ₁ = lam (``_newton``); rot[0, j]
    is NaN where QCP's answer is not to be trusted (NaN λ₁, or tr(Rᵀ S) ≠ λ₁). (Few arrays
    on purpose: with more, LLVM gives up vectorising the loop.)"""
    for j in range(s.shape[1]):
        sxx, sxy, sxz = s[0, j], s[1, j], s[2, j]
        syx, syy, syz = s[3, j], s[4, j], s[5, j]
        szx, szy, szz = s[6, j], s[7, j], s[8, j]
        lj = lam[j]
        # H = K − λ₁I, its 2 × 2 minors in rows (2, 3) (u) and rows (0, 1) (v)
        h00 = sxx + syy + szz - lj
        h01 = szy - syz
        h02 = sxz - szx
        h03 = syx - sxy
        h11 = sxx - syy - szz - lj
        h12 = sxy + syx
        h13 = sxz + szx
        h22 = syy - sxx - szz - lj
        h23 = syz + szy
        h33 = szz - sxx - syy - lj
        u01 = h02 * h13 - h12 * h03
        u02 = h02 * h23 - h22 * h03
        u03 = h02 * h33 - h23 * h03
        u12 = h12 * h23 - h22 * h13
        u13 = h12 * h33 - h23 * h13
        u23 = h22 * h33 - h23 * h23
        v01 = h00 * h11 - h01 * h01
        v02 = h00 * h12 - h02 * h01
        v03 = h00 * h13 - h03 * h01
        v12 = h01 * h12 - h02 * h11
        v13 = h01 * h13 - h03 * h11
        # the 10 distinct entries of the symmetric adj(H) (cofactor expansions)
        a00 = h11 * u23 - h12 * u13 + h13 * u12
        a01 = h02 * u13 - h01 * u23 - h03 * u12
        a02 = h01 * u13 - h11 * u03 + h13 * u01
        a03 = h11 * u02 - h01 * u12 - h12 * u01
        a11 = h00 * u23 - h02 * u03 + h03 * u02
        a12 = h01 * u03 - h00 * u13 - h03 * u01
        a13 = h00 * u12 - h01 * u02 + h02 * u01
        a22 = h03 * v13 - h13 * v03 + h33 * v01
        a23 = h13 * v02 - h03 * v12 - h23 * v01
        a33 = h02 * v12 - h12 * v02 + h22 * v01
        # the row with the most negative diagonal entry (adj(H) = −P'(λ₁) q qᵀ)
        first = a00 <= a11
        w1 = a00 if first else a01
        x1 = a01 if first else a11
        y1 = a02 if first else a12
        z1 = a03 if first else a13
        d1 = a00 if first else a11
        second = a22 <= a33
        w2 = a02 if second else a03
        x2 = a12 if second else a13
        y2 = a22 if second else a23
        z2 = a23 if second else a33
        d2 = a22 if second else a33
        best = d1 <= d2
        w = w1 if best else w2
        x = x1 if best else x2
        y = y1 if best else y2
        z = z1 if best else z2
        qq = w * w + x * x + y * y + z * z
        inv2 = 2.0 / qq
        xx, yy, zz = x * x, y * y, z * z
        r00 = 1.0 - (yy + zz) * inv2  # this form gives R = I exactly for q = (w, 0, 0, 0)
        r11 = 1.0 - (xx + zz) * inv2
        r22 = 1.0 - (xx + yy) * inv2
        r01 = (x * y - w * z) * inv2
        r10 = (x * y + w * z) * inv2
        r02 = (x * z + w * y) * inv2
        r20 = (x * z - w * y) * inv2
        r12 = (y * z - w * x) * inv2
        r21 = (y * z + w * x) * inv2
        miss = (r00 * sxx + r01 * sxy + r02 * sxz + r10 * syx + r11 * syy + r12 * syz
                + r20 * szx + r21 * szy + r22 * szz) - lj
        norm2 = (sxx * sxx + sxy * sxy + sxz * sxz + syx * syx + syy * syy + syz * syz
                 + szx * szx + szy * szy + szz * szz)
        trusted = (qq > 0.0) & (miss * miss <= TRACE_TOL * TRACE_TOL * norm2)
        rot[0, j] = r00 if trusted else np.nan  # NaN: not trusted, redo by SVD
        rot[1, j] = r01
        rot[2, j] = r02
        rot[3, j] = r10
        rot[4, j] = r11
        rot[5, j] = r12
        rot[6, j] = r20
        rot[7, j] = r21
        rot[8, j] = r22


@njit(**_OPTS)
def _svd_rotation(s, j, rot):
    """R* for S = s[:, j] (row-major) into rot[:9, j], by LAPACK's SVD (allocates)."""
    m = np.empty((3, 3))
    for t in range(9):
        m[t // 3, t % 3] = s[t, j]
    u, _, vt = np.linalg.svd(m)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        for t in range(3):
            u[t, 2] = -u[t, 2]
    r = u @ vt
    for t in range(9):
        rot[t, j] = r[t // 3, t % 3]


@njit(**_OPTS)
def optimal_rotation(m, out):
    """R* maximising tr(Rᵀ m) over proper rotations, into out (3 × 3): QCP with the SVD
    fallback, as for every frame pair of the distance kernel. m (3 × 3) is any matrix (it is
    scaled by 1 / (√3 ‖m‖_F), so that λ₁ ≤ ‖m‖_* / (√3 ‖m‖_F) ≤ 1 = NEWTON_START). Returns
    True where QCP's answer was used, False where the SVD's."""
    norm = 0.0
    for t in range(9):
        norm += m[t // 3, t % 3] ** 2
    scale = 1.0 / np.sqrt(3.0 * norm) if norm > 0.0 else 1.0
    s = np.empty((9, 1))
    for t in range(9):
        s[t, 0] = m[t // 3, t % 3] * scale
    work = np.empty((WORK_ROWS, 1))
    rot = np.empty((9, 1))
    _newton(s, work)
    _rotations(s, work[0], rot)
    used_qcp = not np.isnan(rot[0, 0])
    if not used_qcp:
        _svd_rotation(s, 0, rot)
    for t in range(9):
        out[t // 3, t % 3] = rot[t, 0]
    return used_qcp


# --- frame costs: a row (one frame of A against every frame of B) at a time ---


@njit(**_OPTS)
def _cross_covariances(a, i, b, s):
    """s[:, j] = S = X₀ᵀ Y₀ (row-major) for frame i of block a against every frame j of b.
    One pass per column q of S, four joints at a time (J is a multiple of ``JOINTS_STEP``), so
    each vector of S is loaded and stored once per four joints."""
    s[:, :] = 0.0
    for q in range(3):
        for k in range(0, b.shape[1], JOINTS_STEP):
            x0, x1, x2, x3 = a[0, k, i], a[0, k + 1, i], a[0, k + 2, i], a[0, k + 3, i]
            y0, y1, y2, y3 = a[1, k, i], a[1, k + 1, i], a[1, k + 2, i], a[1, k + 3, i]
            z0, z1, z2, z3 = a[2, k, i], a[2, k + 1, i], a[2, k + 2, i], a[2, k + 3, i]
            for j in range(b.shape[2]):
                b0, b1, b2, b3 = b[q, k, j], b[q, k + 1, j], b[q, k + 2, j], b[q, k + 3, j]
                s[q, j] += x0 * b0 + x1 * b1 + x2 * b2 + x3 * b3
                s[3 + q, j] += y0 * b0 + y1 * b1 + y2 * b2 + y3 * b3
                s[6 + q, j] += z0 * b0 + z1 * b1 + z2 * b2 + z3 * b3


@njit(**_OPTS)
def _residuals(a, i, b, rot, cost):
    """cost[j] = Σ_k ‖(a_i R_j)_k − b_j,k‖ for every frame j of b."""
    cost[:] = 0.0
    for k in range(b.shape[1]):
        a0, a1, a2 = a[0, k, i], a[1, k, i], a[2, k, i]
        for j in range(b.shape[2]):
            e0 = a0 * rot[0, j] + a1 * rot[3, j] + a2 * rot[6, j] - b[0, k, j]
            e1 = a0 * rot[1, j] + a1 * rot[4, j] + a2 * rot[7, j] - b[1, k, j]
            e2 = a0 * rot[2, j] + a1 * rot[5, j] + a2 * rot[8, j] - b[2, k, j]
            cost[j] += np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)


@njit(**_OPTS)
def _row_costs(a, i, b, n, scratch, cost):
    """Frame costs c(a_i, b_j) for j < n into cost (all T_pad entries are written; the padding
    frames' are to be ignored); scratch: (SCRATCH_ROWS, T_pad)."""
    s = scratch[:9]
    rot = scratch[9:18]
    work = scratch[18:]
    _cross_covariances(a, i, b, s)
    _newton(s, work)
    _rotations(s, work[0], rot)
    for j in range(n):
        if np.isnan(rot[0, j]):
            _svd_rotation(s, j, rot)
    _residuals(a, i, b, rot, cost)


@njit(**_OPTS)
def frame_cost_matrix(a, m, b, n):
    """All frame costs (m, n) between blocks a (3, J, ≥ m) and b (3, J, T_pad ≥ n)."""
    out = np.empty((m, n))
    scratch = np.empty((SCRATCH_ROWS, b.shape[2]))
    cost = np.empty(b.shape[2])
    for i in range(m):
        _row_costs(a, i, b, n, scratch, cost)
        out[i] = cost[:n]
    return out


# --- DTW (``dtw``), optionally carrying the optimal path's length ---


@njit(inline="always", **_OPTS)
def _dtw_cell(c, diag, up, left, n_diag, n_up, n_left):
    """One DTW cell: (c + the smallest predecessor, that predecessor's path length + 1).
    Ties go to the diagonal, then to up (i − 1, j), then left (i, j − 1), as in
    ``dtw.dtw_path``."""
    if diag <= up and diag <= left:
        return c + diag, n_diag + 1
    if up <= left:
        return c + up, n_up + 1
    return c + left, n_left + 1


@njit(**_OPTS)
def _dtw_row(cost, n, prev, cur, steps_prev, steps_cur, normalize):
    """Row i of the recursion: prev/cur hold D[i−1, ·] / D[i, ·] shifted by one (index 0 is
    the virtual column −1); with ``normalize`` the path lengths are carried alongside."""
    cur[0] = np.inf
    if normalize:
        for j in range(n):
            cur[j + 1], steps_cur[j + 1] = _dtw_cell(cost[j], prev[j], prev[j + 1], cur[j],
                                                     steps_prev[j], steps_prev[j + 1],
                                                     steps_cur[j])
    else:
        for j in range(n):
            cur[j + 1] = cost[j] + min(prev[j], prev[j + 1], cur[j])


@njit(**_OPTS)
def dtw_cost_matrix(cost, normalize=False):
    """The DTW recursion over a given cost matrix (m, n) (tests, hand-worked examples)."""
    m, n = cost.shape
    prev = np.full(n + 1, np.inf)
    cur = np.full(n + 1, np.inf)
    prev[0] = 0.0
    steps_prev = np.zeros(n + 1, dtype=np.int64)
    steps_cur = np.zeros(n + 1, dtype=np.int64)
    for i in range(m):
        _dtw_row(cost[i], n, prev, cur, steps_prev, steps_cur, normalize)
        prev, cur = cur, prev
        steps_prev, steps_cur = steps_cur, steps_prev
    return prev[n] / steps_prev[n] if normalize else prev[n]


@njit(**_OPTS)
def pair_dtw(a, m, b, n, normalize=False):
    """DTW (steps ↓, →, ↘; no window) over the Procrustes frame costs of the first m frames
    of block a and n frames of block b; with ``normalize`` the optimal path's total cost over
    its number of cells."""
    total, steps = pair_dtw_parts(a, m, b, n, normalize)
    return total / steps if normalize else total


@njit(**_OPTS)
def pair_dtw_parts(a, m, b, n, normalize=False):
    """(the optimal path's total cost, its number of cells — counted only with
    ``normalize``): :func:`pair_dtw` before its last division. The total is the same float
    either way (the same additions; only the path length is carried alongside)."""
    t_pad = b.shape[2]
    scratch = np.empty((SCRATCH_ROWS, t_pad))
    cost = np.empty(t_pad)
    prev = np.full(n + 1, np.inf)
    cur = np.full(n + 1, np.inf)
    prev[0] = 0.0
    steps_prev = np.zeros(n + 1, dtype=np.int64)
    steps_cur = np.zeros(n + 1, dtype=np.int64)
    for i in range(m):
        _row_costs(a, i, b, n, scratch, cost)
        _dtw_row(cost, n, prev, cur, steps_prev, steps_cur, normalize)
        prev, cur = cur, prev
        steps_prev, steps_cur = steps_cur, steps_prev
    return prev[n], steps_prev[n]


# --- the parallel drivers ---


@njit(inline="always", **_OPTS)
def block(blocks, starts, lengths, joints, i):
    """Sequence i's block (3, J, T_pad) of the packed array."""
    t_pad = (lengths[i] + LANES - 1) // LANES * LANES
    return blocks[starts[i]:starts[i] + 3 * joints * t_pad].reshape((3, joints, t_pad))


@njit(parallel=True, **_OPTS)
def distance_pairs(blocks_a, starts_a, lengths_a, blocks_b, starts_b, lengths_b, joints,
                   pairs, normalize=False):
    """DTW distance for each (i, j) row of ``pairs``; sequences are blocks of the packed
    arrays (``distance.pack_sequences``). One thread computes one pair, so the result does
    not depend on the thread count."""
    out = np.empty(pairs.shape[0])
    for p in prange(pairs.shape[0]):
        i, j = pairs[p, 0], pairs[p, 1]
        out[p] = pair_dtw(block(blocks_a, starts_a, lengths_a, joints, i), lengths_a[i],
                          block(blocks_b, starts_b, lengths_b, joints, j), lengths_b[j],
                          normalize)
    return out


@njit(parallel=True, **_OPTS)
def distance_pairs_both(blocks_a, starts_a, lengths_a, blocks_b, starts_b, lengths_b, joints,
                        pairs):
    """Summed and length-normalised DTW distances of each (i, j) row of ``pairs`` from one
    pass (the normalised distance is the same optimal path's cost over its length), so a study
    that needs both pays for the frame costs once."""
    total = np.empty(pairs.shape[0])
    norm = np.empty(pairs.shape[0])
    for p in prange(pairs.shape[0]):
        i, j = pairs[p, 0], pairs[p, 1]
        t, n_cells = pair_dtw_parts(block(blocks_a, starts_a, lengths_a, joints, i),
                                    lengths_a[i],
                                    block(blocks_b, starts_b, lengths_b, joints, j),
                                    lengths_b[j], True)
        total[p] = t
        norm[p] = t / n_cells
    return total, norm

"""Statistics over seeds: mean with a 95 % confidence interval, and paired comparisons.

Every study runs each configuration over several seeds. ``mean_ci`` summarises one set of
values with Student's t interval; ``paired_test`` compares two methods evaluated on the same
seeds, on the per-seed differences d_1 … d_n:

* with fewer than ``MIN_T_PAIRS`` (5) pairs, or when every difference is the same (t is then
  infinite or undefined), the **exact sign-flip permutation test**: under H0 the sign of each
  d_i is a fair coin, so p = #{ε ∈ {±1}^n : |Σ ε_i d_i| ≥ |Σ d_i|} / 2^n over all 2^n sign
  patterns. It never goes below 2 / 2^n (0.25 for three pairs), which no test on n pairs can
  honestly beat;
* with 5 to 9 pairs, the paired t-test (the exact test cannot go below 2/32 = 0.0625 at n = 5,
  so at this size a verdict leans on the t-test's normality);
* from ``MIN_PERMUTATION_PAIRS`` (10) pairs on, the confirmatory p is the sign-flip test again,
  which needs no normality: exact up to 30 pairs, above that over ``MC_DRAWS`` random sign
  patterns drawn from a fixed generator (the same p on every run).

``p_exact`` (the sign-flip p) is reported beside ``p_value`` always; ``test`` names the test
behind ``p_value``. :func:`equivalence_test` is the two one-sided tests (TOST) of "|mean| < δ";
:func:`prediction_p` holds a single reported run against where one run of ours would fall;
``holm`` adjusts a family of p-values (Holm, 1979).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import stats as _st


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch, so one seed fixes one run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Estimate:
    """A mean over n values with its two-sided confidence interval."""

    mean: float
    ci_low: float
    ci_high: float
    n: int
    std: float

    def __str__(self) -> str:
        half = (self.ci_high - self.ci_low) / 2
        return f"{self.mean:.4f} ± {half:.4f}"

    def as_dict(self) -> dict:
        return asdict(self)


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> Estimate:
    """Mean and t-based confidence interval; with a single value the interval is that value."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, mean, mean, 1, 0.0)
    std = float(x.std(ddof=1))
    half = float(_st.t.ppf(0.5 + confidence / 2, df=x.size - 1) * std / np.sqrt(x.size))
    return Estimate(mean, mean - half, mean + half, int(x.size), std)


def prediction_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Where one *new* run would fall: mean ± t·sd·√(1 + 1/n) (n ≥ 2).

    The right interval to hold a single reported run against; the CI of the mean is for
    comparing means.
    """
    x = np.asarray(list(values), dtype=float)
    if x.size < 2:
        raise ValueError("a prediction interval needs at least two values")
    half = float(_st.t.ppf(0.5 + confidence / 2, df=x.size - 1) * x.std(ddof=1)
                 * np.sqrt(1 + 1 / x.size))
    return float(x.mean()) - half, float(x.mean()) + half


MIN_T_PAIRS = 5
MIN_PERMUTATION_PAIRS = 10
EXACT_MAX_PAIRS = 30
MC_DRAWS = 200_000
T_TEST, SIGN_FLIP = "paired t-test", "exact sign-flip test"
MC_SIGN_FLIP = "sign-flip test (200,000 draws)"


def _sign_sums(d: np.ndarray) -> np.ndarray:
    """Σ ε_i d_i over all 2^n sign patterns ε (n small)."""
    signs = 1 - 2 * ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1)
    return signs @ d


def sign_flip_p(d: Sequence[float], *, exact_only: bool = True) -> float:
    """Two-sided p of the mean of ``d`` under random sign flips: exact over all 2^n patterns
    up to ``EXACT_MAX_PAIRS`` pairs (meet in the middle: the sums of the two halves' patterns,
    one sorted, so 2^30 patterns cost 2^15 · log 2^15); above that, with ``exact_only=False``,
    over ``MC_DRAWS`` patterns from a fixed generator, (1 + #{|sum| ≥ observed}) / (1 + draws).

    Sums within a relative 1e-12 of the observed one count as ties (as large), so equal
    differences that differ by float rounding are treated as equal.
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    observed = abs(d.sum())
    tol = 1e-12 * max(np.abs(d).sum(), 1e-300)
    if observed <= tol:
        return 1.0
    if n > EXACT_MAX_PAIRS:
        if exact_only:
            raise ValueError(f"the exact sign-flip test enumerates 2^n patterns; n = {n} > "
                             f"{EXACT_MAX_PAIRS}")
        rng = np.random.default_rng(20_240_917)
        hits = 0
        for _ in range(MC_DRAWS // 20_000):
            signs = rng.choice((-1.0, 1.0), size=(20_000, n))
            hits += int((np.abs(signs @ d) >= observed - tol).sum())
        return float((1 + hits) / (1 + MC_DRAWS))
    half = n // 2
    left, right = _sign_sums(d[:half]), np.sort(_sign_sums(d[half:]))
    upper = right.size - np.searchsorted(right, observed - tol - left, side="left")
    lower = np.searchsorted(right, -observed + tol - left, side="right")
    return float((upper.sum() + lower.sum()) / 2 ** n)


@dataclass(frozen=True)
class PairedComparison:
    """Method A minus method B on the same seeds; ``test`` names the test behind
    ``p_value``; ``p_exact`` is the sign-flip p (exact up to 30 pairs, 200,000 draws above);
    ``sd`` the SD of the per-seed differences."""

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_exact: float | None
    test: str
    n: int
    sd: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def paired_test(a: Sequence[float], b: Sequence[float],
                confidence: float = 0.95) -> PairedComparison:
    """Two-sided paired test of a − b (module docstring): the exact sign-flip test below 5
    pairs or when all differences agree, the t-test for 5–9 pairs, the sign-flip test (exact to
    30 pairs, Monte Carlo above) from 10 pairs on. All differences 0 gives p = 1."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise ValueError("paired_test needs two equal-length sequences of at least 2 values")
    d = a - b
    est = mean_ci(d, confidence)
    exact = sign_flip_p(d, exact_only=False)
    sign_test = SIGN_FLIP if d.size <= EXACT_MAX_PAIRS else MC_SIGN_FLIP
    all_equal = np.ptp(d) <= 1e-12 * np.abs(d).max() if np.any(d) else True
    if d.size < MIN_T_PAIRS or all_equal or d.size >= MIN_PERMUTATION_PAIRS:
        test, p = sign_test, exact
    else:
        test, p = T_TEST, float(_st.ttest_rel(a, b).pvalue)
    return PairedComparison(est.mean, est.ci_low, est.ci_high, p, exact, test, int(d.size),
                            est.std)


def equivalence_test(d: Sequence[float], delta: float) -> float:
    """TOST p of "−δ < mean(d) < δ" (Schuirmann, 1987): the larger of the one-sided t-test
    p-values of H0: mean ≤ −δ and H0: mean ≥ δ; a small p means no effect larger than δ.
    Differences that do not vary give 0 inside (−δ, δ) and 1 outside."""
    d = np.asarray(d, dtype=float)
    if d.size < 2 or not delta > 0:
        raise ValueError("equivalence_test needs at least 2 differences and δ > 0")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0:
        return 0.0 if abs(mean) < delta else 1.0
    se, df = sd / np.sqrt(d.size), d.size - 1
    p_low = _st.t.sf((mean + delta) / se, df)     # H0: mean ≤ −δ
    p_high = _st.t.cdf((mean - delta) / se, df)   # H0: mean ≥ δ
    return float(max(p_low, p_high))


def prediction_p(values: Sequence[float], claimed: float) -> float:
    """Two-sided p that one new run gives ``claimed``, from n runs: t = (claimed − mean) /
    (sd·√(1 + 1/n)) on n − 1 df. ``claimed`` lies outside the 95 % prediction interval exactly
    when p < 0.05 (:func:`prediction_interval`)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        raise ValueError("prediction_p needs at least two values")
    sd = float(x.std(ddof=1))
    if sd == 0:
        return 1.0 if claimed == x.mean() else 0.0
    t = (claimed - x.mean()) / (sd * np.sqrt(1 + 1 / x.size))
    return float(2 * _st.t.sf(abs(t), x.size - 1))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values of one family (same order as given):
    p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j)) over the p-values sorted ascending."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(adjusted)
    return out


def over_seeds(fn: Callable[[int], dict], seeds: Sequence[int]) -> list[dict]:
    """Call ``fn(seed)`` for each seed after ``set_seed(seed)``; tag each result with its seed."""
    rows = []
    for seed in seeds:
        set_seed(seed)
        row = dict(fn(seed))
        row.setdefault("seed", seed)
        rows.append(row)
    return rows


def summarize(rows, by: Sequence[str], metrics: Sequence[str], confidence: float = 0.95):
    """Group a per-seed results table and give mean, CI bounds and n per metric.

    Returns a DataFrame with columns ``by + [f"{m}", f"{m}_lo", f"{m}_hi"] + ["n"]``.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    out = []
    for key, g in df.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        rec = dict(zip(by, key))
        for m in metrics:
            e = mean_ci(g[m], confidence)
            rec[m], rec[f"{m}_lo"], rec[f"{m}_hi"] = e.mean, e.ci_low, e.ci_high
        rec["n"] = len(g)
        out.append(rec)
    return pd.DataFrame(out)


def spearman_ci(x: Sequence[float], y: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                confidence: float = 0.95) -> Estimate:
    """Spearman's ρ between paired values with a percentile bootstrap interval (resampling
    the pairs; ``seed`` fixes the resamples). Resamples where either side is constant are
    skipped."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 3:
        raise ValueError("spearman_ci needs two equal-length sequences of at least 3 values")
    rho = float(_st.spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(x.size, size=x.size)
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            boots.append(_st.spearmanr(x[i], y[i]).statistic)
    lo, hi = np.quantile(boots, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Estimate(rho, float(lo), float(hi), int(x.size), float(np.std(boots, ddof=1)))

"""Statistics over seeds: mean with a 95 % confidence interval, and paired comparisons.

Every study runs each configuration over several seeds. ``mean_ci`` summarises one set of
values with Student's t interval, ``paired_test`` compares two methods evaluated on the same
seeds (a paired t-test on the per-seed differences, with a Wilcoxon signed-rank p-value beside
it for readers who distrust normality with five seeds).
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


@dataclass(frozen=True)
class PairedComparison:
    """Method A minus method B on the same seeds."""

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_wilcoxon: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def paired_test(a: Sequence[float], b: Sequence[float],
                confidence: float = 0.95) -> PairedComparison:
    """Paired t-test of a − b (two-sided). All differences 0 gives p = 1; the same non-zero
    difference on every seed gives p = 0 (an infinite t statistic)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size < 2:
        raise ValueError("paired_test needs two equal-length sequences of at least 2 values")
    d = a - b
    est = mean_ci(d, confidence)
    if np.all(d == 0):  # no difference at all
        p = pw = 1.0
    elif np.ptp(d) <= 1e-12 * np.abs(d).max():  # the same non-zero difference on every seed
        # (up to rounding): t is infinite
        p, pw = 0.0, float(_st.wilcoxon(d).pvalue)
    else:
        p = float(_st.ttest_rel(a, b).pvalue)
        pw = float(_st.wilcoxon(d).pvalue)
    return PairedComparison(est.mean, est.ci_low, est.ci_high, p, pw, int(d.size))


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

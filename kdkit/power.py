"""Power of the paired test over seeds: the smallest detectable effect and the seeds needed.

For n paired differences with standard deviation σ, the two-sided paired t-test at level a
rejects when |t| > t_{1−a/2, n−1}; with a true mean difference Δ its statistic follows a
noncentral t with n − 1 degrees of freedom and noncentrality λ = Δ √n / σ, so

    power(Δ, n) = P(|T_{n−1, λ}| > t_{1−a/2, n−1})          (Cohen, 1988, ch. 2)

* :func:`mde` — the **minimum detectable effect**: the Δ with power(Δ, n) = 0.8 at the claim's
  level a (its Holm step, and the look's share of α when seeds are added sequentially);
* :func:`seeds_needed` — the smallest n with power(Δ, n) ≥ 0.8 for a target Δ (the source's
  effect, or the study's smallest effect of interest δ).

σ is the observed SD of the per-seed differences: a plan, not a guarantee (it is itself
estimated from few seeds).

**The test actually used.** :func:`kdkit.stats.paired_test` uses the sign-flip test below 5
and from 10 pairs on; its smallest attainable two-sided p is 2/2^n (0.00195 at 10 pairs, exact
up to 30; 1/(1 + 200,000) by Monte Carlo above). A claim whose level a is at or below that
floor can never be decided at n seeds, whatever the effect: its power is 0, its MDE infinite,
and ``seeds_needed`` counts the seeds at which the floor drops below a
(:func:`min_attainable_p`; kdkit issue 39: at 10 seeds and a Holm level of 0.0016 the t-based
MDE promised 80 % power where the simulated power was 0).
"""

from __future__ import annotations

import math

from scipy import optimize
from scipy import stats as _st

POWER = 0.8
MAX_SEEDS = 10_000


def min_attainable_p(n: int) -> float:
    """The smallest two-sided p the paired test of :func:`kdkit.stats.paired_test` can give
    at n pairs: 0 for the t-test (5–9 pairs), 2/2^n for the exact sign-flip test, 1/(1 +
    draws) for its Monte Carlo version (above 30 pairs)."""
    from .stats import EXACT_MAX_PAIRS, MC_DRAWS, MIN_PERMUTATION_PAIRS, MIN_T_PAIRS

    if MIN_T_PAIRS <= n < MIN_PERMUTATION_PAIRS:
        return 0.0
    if n <= EXACT_MAX_PAIRS:
        return 2.0 / 2 ** n
    return 1.0 / (1 + MC_DRAWS)


def attainable(n: int, alpha: float) -> bool:
    """Whether the test at n pairs can give p < ``alpha`` at all."""
    return min_attainable_p(n) < alpha


def power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired test (noncentral t, module docstring); 0 where the test
    used at n pairs cannot reach level ``alpha``."""
    if n < 2 or not attainable(n, alpha):
        return 0.0
    return _t_power(effect, sd, n, alpha)


def _t_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """The paired t-test's power, whatever test is used at n."""
    if sd <= 0:
        return 1.0 if effect != 0 else alpha
    df = n - 1
    crit = _st.t.ppf(1 - alpha / 2, df)
    nc = abs(effect) * math.sqrt(n) / sd
    # P(T < −crit) as sf(crit) of the mirrored noncentral t: nct.cdf is NaN for small df, large λ
    return float(_st.nct.sf(crit, df, nc) + _st.nct.sf(crit, df, -nc))


def mde(sd: float, n: int, alpha: float, target_power: float = POWER) -> float:
    """The effect detected with ``target_power`` by n pairs at level ``alpha`` (NaN for n < 2;
    0 when the differences do not vary)."""
    if n < 2 or not math.isfinite(sd):
        return float("nan")
    if not attainable(n, alpha):
        return float("inf")
    if sd <= 0:
        return 0.0
    hi = sd
    while power(hi, sd, n, alpha) < target_power:
        hi *= 2
    return float(optimize.brentq(lambda e: power(e, sd, n, alpha) - target_power, 0.0, hi,
                                 xtol=sd * 1e-6))


def seeds_needed(effect: float, sd: float, alpha: float, target_power: float = POWER,
                 max_seeds: int = MAX_SEEDS) -> int | None:
    """The fewest seeds that detect ``effect`` with ``target_power`` at level ``alpha`` (None
    when the effect is 0 or more than ``max_seeds`` would be needed)."""
    if not (math.isfinite(effect) and math.isfinite(sd)) or effect == 0:
        return None
    n = 2 if sd <= 0 else _t_seeds_needed(effect, sd, alpha, target_power, max_seeds)
    if n is None:
        return None
    while not attainable(n, alpha):  # the sign-flip floor (module docstring)
        n += 1
        if n > max_seeds:
            return None
    return n


def _t_seeds_needed(effect, sd, alpha, target_power, max_seeds):
    """The fewest n whose t-test power reaches the target (monotone in n)."""
    def t_power(n):
        return _t_power(effect, sd, n, alpha)

    lo, hi = 2, 2
    while t_power(hi) < target_power:
        if hi >= max_seeds:
            return None
        lo, hi = hi, min(2 * hi, max_seeds)
    while lo < hi:
        mid = (lo + hi) // 2
        if t_power(mid) >= target_power:
            hi = mid
        else:
            lo = mid + 1
    return int(hi)

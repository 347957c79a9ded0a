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
"""

from __future__ import annotations

import math

from scipy import optimize
from scipy import stats as _st

POWER = 0.8
MAX_SEEDS = 10_000


def power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test (noncentral t, module docstring)."""
    if n < 2:
        return 0.0
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
    if sd <= 0:
        return 2
    lo, hi = 2, 2
    while power(effect, sd, hi, alpha) < target_power:
        if hi >= max_seeds:
            return None
        lo, hi = hi, min(2 * hi, max_seeds)
    while lo < hi:  # power grows with n: the first n that reaches the target
        mid = (lo + hi) // 2
        if power(effect, sd, mid, alpha) >= target_power:
            hi = mid
        else:
            lo = mid + 1
    return int(hi)

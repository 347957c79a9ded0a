"""The claims table: what a seed claimed, what we measured, and the verdict.

Verdicts are one of ``supported``, ``not supported``, ``inconclusive``, ``not testable``.
Two rules cover most claims:

* a *direction* claim ("A is worse than B") is judged by a paired test over seeds: supported
  when the difference has the claimed sign and p < α, not supported when it has the opposite
  sign and p < α, inconclusive otherwise. When the seed also reported the size of the effect
  from a single run and the direction is inconclusive here, that size is held against our
  95 % *prediction interval* for a single run (:func:`kdkit.stats.prediction_interval`): if it
  falls outside, a run like the seed's would be unlikely in our setting and the verdict is
  ``not supported``. This assumes the relative effect, unlike absolute values, carries over
  from the seed's data to ours; each note states the sizes so a reader can judge;
* a *value* claim ("A reaches 0.140") is supported when the seed's value lies inside our
  interval widened by a relative tolerance, not supported otherwise. Use it only where our
  setting matches the seed's; where it cannot (an undisclosed data generator), the claim is
  ``not testable`` and we still report what we measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERDICTS = ("supported", "not supported", "inconclusive", "not testable")
CLAIM_COLUMNS = ("claim", "seed_value", "measured", "ci_low", "ci_high", "verdict", "note")


@dataclass
class Claim:
    """One row of the claims table."""

    claim: str
    seed_value: str
    measured: float | str | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    note: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


def direction_verdict(mean_diff: float, p_value: float, expect: str, alpha: float = 0.05) -> str:
    """Verdict for "A − B is ``expect``" ('<' or '>') given a paired test of A − B."""
    if expect not in ("<", ">"):
        raise ValueError("expect must be '<' or '>'")
    if not p_value < alpha or mean_diff == 0:  # NaN p counts as not significant
        return "inconclusive"
    agrees = mean_diff < 0 if expect == "<" else mean_diff > 0
    return "supported" if agrees else "not supported"


def effect_verdict(mean_diff: float, p_value: float, expect: str, *,
                   claimed: float | None = None,
                   interval: tuple[float, float] | None = None,
                   alpha: float = 0.05) -> str:
    """:func:`direction_verdict`, turned to "not supported" when it is inconclusive and the
    claimed single-run effect ``claimed`` lies outside ``interval``, our prediction interval for a
    single run (same units)."""
    verdict = direction_verdict(mean_diff, p_value, expect, alpha)
    if verdict == "inconclusive" and claimed is not None and interval is not None \
            and not interval[0] <= claimed <= interval[1]:
        return "not supported"
    return verdict


def value_verdict(seed_value: float, ci_low: float, ci_high: float, rel_tol: float = 0.0) -> str:
    """Supported when ``seed_value`` lies in [ci_low, ci_high] widened by ``rel_tol`` of it."""
    slack = abs(seed_value) * rel_tol
    inside = ci_low - slack <= seed_value <= ci_high + slack
    return "supported" if inside else "not supported"


def paired_claim(a, b, expect: str, text: str, seed_value: str = "", note: str | None = None,
                 *, relative: bool = False) -> Claim:
    """A direction claim "a {expect} b" from per-seed values: the paired test's mean difference,
    CI and :func:`direction_verdict`; with one seed the difference is shown as inconclusive.
    The note says how (``; relative ±x %`` of b's mean when ``relative``), then ``note``."""
    from .stats import paired_test

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2:
        how, diff, lo, hi, verdict = ("one seed: direction shown, no test",
                                      float(a.mean() - b.mean()), None, None, "inconclusive")
    else:
        c = paired_test(a, b)
        how = f"paired over {c.n} seeds, p = {c.p_value:.3g}"
        if relative:
            how += f"; relative {c.mean_diff / b.mean():+.1%}"
        diff, lo, hi = c.mean_diff, c.ci_low, c.ci_high
        verdict = direction_verdict(c.mean_diff, c.p_value, expect)
    return Claim(text, seed_value, diff, lo, hi, verdict,
                 how if note is None else f"{how}. {note}")

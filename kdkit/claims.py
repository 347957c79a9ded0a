"""The claims table: what a source claimed, what we measured, and the verdict.

Verdicts are one of ``supported``, ``not supported``, ``inconclusive``, ``not testable``. The
rules, applied to the whole table at once by :func:`finalize` (``Report.claims`` calls it):

* a **direction** claim ("A beats B") is a paired test over seeds of A − B
  (:func:`kdkit.stats.paired_test`: a t-test, or the exact sign-flip test for few seeds). The
  p-values of all direction claims judged in one table are one family, adjusted by **Holm**
  (column ``p_holm``; the raw p is in ``p``). Supported when the difference has the claimed
  sign and p_holm < α (0.05), not supported when it has the opposite sign and p_holm < α,
  inconclusive otherwise. When the source also reported the size of the effect from a single
  run and the direction is inconclusive, that size is held against our 95 % *prediction
  interval* for a single run (:func:`kdkit.stats.prediction_interval`): if it falls outside, a
  run like the source's would be unlikely in our setting and the verdict is ``not supported``;
* **minimum evidence**: with fewer than ``min_seeds`` (5) seeds a direction claim is
  ``inconclusive`` ("n seeds: too few for a verdict"), and in a smoke run (CI-sized parameters)
  every direction claim is ``inconclusive``. Neither enters the Holm family;
* **preconditions** (:class:`Gate`): a claim that KD transfers knowledge is judged only when
  the teacher beats the student alone on validation (:func:`teacher_gate`); a claim about a
  control only when the control is sound. A failed precondition gives its own verdict (``not
  testable`` by default) and reason, and the claim leaves the Holm family;
* a **value** claim ("A reaches 0.140") is supported when the source's value lies inside our
  interval widened by a relative tolerance, not supported otherwise. Use it only where our
  setting matches the source's; where it cannot (an undisclosed data generator), the claim is
  ``not testable`` and we still report what we measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

VERDICTS = ("supported", "not supported", "inconclusive", "not testable")
CLAIM_COLUMNS = ("claim", "source_value", "measured", "ci_low", "ci_high", "p", "p_holm",
                 "verdict", "note")
ALPHA = 0.05
MIN_SEEDS = 5


@dataclass(frozen=True)
class Gate:
    """A precondition of a claim: when ``ok`` is false the claim is not judged; it gets
    ``verdict`` and ``reason`` in its note."""

    ok: bool
    reason: str
    verdict: str = "not testable"


@dataclass(frozen=True)
class Test:
    """How a direction claim's verdict follows from its (Holm-adjusted) p-value."""

    expect: str                       # '<' or '>': the claimed sign of A − B
    n: int                            # seeds
    diff: float                       # the mean difference A − B whose sign is judged
    how: str                          # e.g. "paired t-test over 5 seeds; relative +2.1 %"
    note: str = ""                    # the study's own words, after ``how``
    claimed: float | None = None      # the source's single-run effect, in ``interval``'s units
    interval: tuple | None = None     # our 95 % prediction interval for one run
    gates: tuple = ()


@dataclass
class Claim:
    """One row of the claims table (``test`` is set on direction claims and not written)."""

    claim: str
    source_value: str
    measured: float | str | None
    ci_low: float | None
    ci_high: float | None
    verdict: str
    note: str = ""
    p: float | None = None
    p_holm: float | None = None
    test: Test | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    def row(self) -> dict:
        """The row as written to ``claims.csv`` (``CLAIM_COLUMNS``)."""
        return {c: getattr(self, c) for c in CLAIM_COLUMNS}


def direction_verdict(mean_diff: float, p_value: float, expect: str,
                      alpha: float = ALPHA) -> str:
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
                   alpha: float = ALPHA) -> str:
    """:func:`direction_verdict`, turned to "not supported" when it is inconclusive and the
    claimed single-run effect ``claimed`` lies outside ``interval``, our prediction interval for a
    single run (same units)."""
    verdict = direction_verdict(mean_diff, p_value, expect, alpha)
    if verdict == "inconclusive" and claimed is not None and interval is not None \
            and not interval[0] <= claimed <= interval[1]:
        return "not supported"
    return verdict


def value_verdict(source_value: float, ci_low: float, ci_high: float,
                  rel_tol: float = 0.0) -> str:
    """Supported when ``source_value`` lies in [ci_low, ci_high] widened by ``rel_tol`` of it."""
    slack = abs(source_value) * rel_tol
    inside = ci_low - slack <= source_value <= ci_high + slack
    return "supported" if inside else "not supported"


def _join(*parts: str) -> str:
    return ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip()) + \
        ("." if any(p and p.strip() for p in parts) else "")


def paired_claim(a, b, expect: str, text: str, source_value: str = "", note: str | None = None,
                 *, relative: bool = False, claimed_rel: float | None = None,
                 gates=()) -> Claim:
    """A direction claim "a {expect} b" from per-seed values (same seeds, same order).

    ``relative`` adds the relative difference (of b's mean) to the note; ``claimed_rel`` is the
    source's single-run relative effect a/b − 1, held against our prediction interval of the
    per-seed relative differences when the direction is inconclusive. ``gates``: the claim's
    preconditions. The verdict here uses the raw p; :func:`finalize` re-judges the table.
    """
    from .stats import paired_test, prediction_interval

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2:
        return Claim(text, source_value, float(a.mean() - b.mean()), None, None, "inconclusive",
                     _join("one seed: direction shown, no test", note or ""),
                     test=Test(expect, len(a), float(a.mean() - b.mean()),
                               "one seed: direction shown, no test", note or "",
                               gates=tuple(gates)))
    c = paired_test(a, b)
    how = f"{c.test} over {c.n} seeds"
    interval = None
    if relative or claimed_rel is not None:
        rel = a / b - 1
        lo, hi = prediction_interval(rel)
        how += f"; relative {rel.mean():+.1%}"
        if claimed_rel is not None:
            interval = (lo, hi)
            how += f" (one run: {lo:+.1%} to {hi:+.1%}) vs the source's {claimed_rel:+.1%}"
    test = Test(expect, c.n, c.mean_diff, how, note or "", claimed_rel, interval, tuple(gates))
    verdict = effect_verdict(c.mean_diff, c.p_value, expect, claimed=claimed_rel,
                             interval=interval)
    return Claim(text, source_value, c.mean_diff, c.ci_low, c.ci_high, verdict,
                 _join(how, note or ""), p=c.p_value, test=test)


def beats_controls(a, controls: dict, text: str, source_value: str = "", note: str = "",
                   *, gates=()) -> Claim:
    """"``a`` beats every control" (per-seed values; ``controls``: {name: values}), an
    intersection–union test: when ``a`` is above every control, p is the largest of the
    paired p-values and the measured difference the smallest; when it is below any, p is the
    smallest p among those (times their number, Bonferroni) and the difference that one's.
    Supported only when ``a`` beats each control significantly."""
    from .stats import paired_test

    a = np.asarray(a, dtype=float)
    if len(a) < 2:
        diff = min(float(a.mean() - np.mean(v)) for v in controls.values())
        return Claim(text, source_value, diff, None, None, "inconclusive",
                     _join("one seed: direction shown, no test", note),
                     test=Test(">", len(a), diff, "one seed", note, gates=tuple(gates)))
    tests = {name: paired_test(a, np.asarray(v, dtype=float)) for name, v in controls.items()}
    below = {k: c for k, c in tests.items() if c.mean_diff <= 0}
    if below:
        name, c = min(below.items(), key=lambda kv: kv[1].p_value)
        p = min(1.0, c.p_value * len(below))
    else:
        name, c = min(tests.items(), key=lambda kv: kv[1].mean_diff)
        p = max(t.p_value for t in tests.values())
    how = ("; ".join(f"− {k}: {t.mean_diff:+.4f} (p = {t.p_value:.3g})"
                     for k, t in tests.items()) + f"; {c.test}s over {c.n} seeds")
    test = Test(">", c.n, c.mean_diff, how, note, gates=tuple(gates))
    return Claim(text, source_value, c.mean_diff, c.ci_low, c.ci_high,
                 direction_verdict(c.mean_diff, p, ">"), _join(how, note), p=p, test=test)


def teacher_gate(teacher, student, *, metric: str = "", alpha: float = ALPHA,
                 what: str = "the teacher", than: str = "the student alone") -> Gate:
    """The precondition of a transfer claim: ``teacher`` beats ``student`` on validation
    (per-seed values, paired, the same test as the claims, raw p < α)."""
    from .stats import paired_test

    t, s = np.asarray(teacher, dtype=float), np.asarray(student, dtype=float)
    label = f"validation {metric}".strip()
    if len(t) < 2:
        return Gate(False, f"one seed: cannot show that {what} beats {than}")
    c = paired_test(t, s)
    ok = c.mean_diff > 0 and c.p_value < alpha
    reason = (f"{what} is no better than {than} ({label}: {c.mean_diff:+.4f}, "
              f"p = {c.p_value:.3g}, {c.test})")
    return Gate(ok, reason if not ok else f"{what} beats {than} ({label}: "
                f"{c.mean_diff:+.4f}, p = {c.p_value:.3g})")


def finalize(claims: list[Claim], *, alpha: float = ALPHA, min_seeds: int = MIN_SEEDS,
             smoke: bool = False) -> list[Claim]:
    """Judge every direction claim of one table under the module's rules; return new rows."""
    out, family = [], []
    for c in claims:
        t = c.test
        if t is None:
            out.append(replace(c))
            continue
        failed = next((g for g in t.gates if not g.ok), None)
        if smoke:
            c = replace(c, verdict="inconclusive", p_holm=None,
                        note=_join("smoke run (CI-sized parameters): not evidence", t.how,
                                   t.note))
        elif t.n < min_seeds or c.p is None:
            c = replace(c, verdict="inconclusive", p_holm=None,
                        note=_join(f"{t.n} seeds: too few for a verdict (at least {min_seeds})",
                                   t.how, t.note))
        elif failed is not None:
            c = replace(c, verdict=failed.verdict, p_holm=None,
                        note=_join(failed.reason, t.how, t.note))
        else:
            family.append(len(out))
        out.append(c)
    if family:
        from .stats import holm

        adjusted = holm([out[i].p for i in family])
        for i, p_holm in zip(family, adjusted):
            c, t = out[i], out[i].test
            verdict = effect_verdict(t.diff, p_holm, t.expect, claimed=t.claimed,
                                     interval=t.interval, alpha=alpha)
            passed = [g.reason for g in t.gates]
            out[i] = replace(c, p_holm=float(p_holm), verdict=verdict,
                             note=_join(f"{t.how}; Holm over {len(family)} tests", *passed,
                                        t.note))
    return out

"""Sequential seeds: add seeds in batches until the primary claims are decided, keeping α.

A plan ``{start: 5, step: 5, max: 40}`` runs ``start`` seeds, judges the claims, and adds
``step`` more until every primary claim is decided or ``max`` is reached. Looking at the data
after each batch and stopping when a test rejects would inflate the false-decision rate if every
look used the full α. The rule here is **alpha spending** (Lan & DeMets, 1983, *Discrete
sequential boundaries for clinical trials*, Biometrika 70(3)): look k, at n_k of the planned
n_max seeds, may spend

    α_k = f(n_k / n_max) − f(n_{k−1} / n_max),      f(t) = α · t     (linear spending)

and by the union (Bonferroni) bound the probability of *any* false decision over all looks is at
most Σ α_k = f(1) = α, however the looks are correlated and whenever the run stops. Holm then runs
within each claim family at level α_k. This is more conservative than exact group-sequential
boundaries (which use the looks' correlation), but it needs no normality across looks and holds
for the exact and permutation tests alike. A plain seed list is a single look at the full α.

**Sized by power, not budget.** A plan may declare ``sd``: the standard deviation of a primary
claim's per-seed differences expected from a pilot (the largest among the primary claims). The
runner then refuses a plan whose last look cannot detect the study's smallest effect of interest
δ with 80 % power (:meth:`SeedPlan.planned_mde`, at the last look's share of α split over the
primary claims, the strictest Holm step) and names the ``max`` that would
(:meth:`SeedPlan.sized_max`). A plan without ``sd`` runs, and its run record says it was not
sized by power.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedPlan:
    """``start`` seeds first, then ``step`` more per look, at most ``max`` (seeds ``first``,
    ``first`` + 1, …; ``first`` 0 unless a new design must not reuse the seeds an earlier
    report was read on)."""

    start: int
    step: int
    max: int
    first: int = 0
    sd: float | None = None

    def __post_init__(self):
        if not (1 <= self.start <= self.max and self.step >= 1 and self.first >= 0):
            raise ValueError("a seed plan needs 1 ≤ start ≤ max, step ≥ 1 and first ≥ 0, got "
                             f"start={self.start}, step={self.step}, max={self.max}, "
                             f"first={self.first}")
        if self.sd is not None and not self.sd > 0:
            raise ValueError(f"a seed plan's sd (the planned SD of a primary claim's per-seed "
                             f"differences, from a pilot) must be a number > 0, got {self.sd}")

    @classmethod
    def from_param(cls, value) -> SeedPlan | None:
        """The plan of a ``seeds`` parameter: a dict ``{start, step, max}`` (optionally
        ``first``); None for a list."""
        if not isinstance(value, dict):
            return None
        unknown = set(value) - {"start", "step", "max", "first", "n", "sd"}
        if unknown or not {"start", "step", "max"} <= set(value):
            raise ValueError("seeds as a plan is {start: N, step: N, max: N} (optionally first: "
                             "the first seed, sd: the planned SD of a primary claim's per-seed "
                             f"differences, n: the seeds run so far); got {value!r}")
        sd = value.get("sd")
        if sd is not None and (isinstance(sd, bool) or not isinstance(sd, (int, float))):
            raise ValueError(f"seeds: sd must be a number > 0 (the planned SD of a primary "
                             f"claim's per-seed differences, from a pilot), got {sd!r}")
        return cls(int(value["start"]), int(value["step"]), int(value["max"]),
                   int(value.get("first", 0)), None if sd is None else float(sd))

    def looks(self) -> list[int]:
        """The seed counts at which the claims are judged."""
        out = list(range(self.start, self.max, self.step))
        return out + [self.max]

    def look(self, n: int) -> int:
        """The index (0-based) of the look at n seeds."""
        looks = self.looks()
        if n not in looks:
            raise ValueError(f"{n} seeds is not a look of {self} (looks: {looks})")
        return looks.index(n)

    def next_n(self, n: int) -> int | None:
        """The seed count of the look after n (None after the last)."""
        looks = self.looks()
        i = self.look(n)
        return looks[i + 1] if i + 1 < len(looks) else None

    def alpha(self, n: int, alpha: float = 0.05) -> float:
        """α_k spent at the look with n seeds (module docstring)."""
        looks = self.looks()
        i = self.look(n)
        prev = looks[i - 1] if i else 0
        return alpha * (n - prev) / self.max

    def seeds(self, n: int) -> list[int]:
        """The seeds of the look at n seeds: ``first`` … ``first`` + n − 1."""
        return list(range(self.first, self.first + n))

    def planned_mde(self, sd: float, alpha: float = 0.05, tests: int = 1) -> float:
        """The effect a claim decides with 80 % power by the last look, when its per-seed
        differences have SD ``sd`` and its family holds ``tests`` hypotheses (Bonferroni, the
        strictest Holm step): the plan's promise before any seed is run."""
        from .power import mde

        return mde(sd, self.max, self.alpha(self.max, alpha) / tests)

    def sized_max(self, sd: float, delta: float, alpha: float = 0.05, tests: int = 1,
                  limit: int = 1000) -> int | None:
        """The smallest ``max`` (this plan's start and step kept) whose :meth:`planned_mde`
        is at most ``delta``; None when more than ``limit`` seeds would be needed."""
        from dataclasses import replace

        for n in range(self.start, limit + 1):
            if replace(self, max=n).planned_mde(sd, alpha, tests) <= delta:
                return n
        return None


def resolve_seeds(value) -> tuple[list[int], SeedPlan | None]:
    """The seed list a run uses and its plan: a list is itself with no plan; a plan runs its
    first look (or ``n`` seeds when given, as ``kdkit run --until-decided`` does)."""
    plan = SeedPlan.from_param(value)
    if plan is None:
        return list(value), None
    n = int(value.get("n", plan.start))
    plan.look(n)
    return plan.seeds(n), plan

"""A study as a declaration: its arms, its gates and its claims, from which the core does what
every study does the same way (kdkit issue 35).

A study declares

* its **arms** (:class:`Arm`): the teacher, the student alone, each KD method, each control and
  the oracle, each with the params key of its grid — :meth:`Design.check_grids` refuses unequal
  grids before anything trains (tuning parity: every compared arm gets as many points);
* its **gates** (:class:`Gate`): preconditions judged on held-out data that chose nothing —
  ``teacher`` (``a`` beats ``b``, :func:`kdkit.claims.teacher_gate`: a transfer claim needs a
  teacher that teaches) or ``control`` (``a`` is not below ``b`` by more than δ,
  :func:`kdkit.transfer_set.control_gate`: beating a degenerate control says nothing);
* its **claims** (:class:`Compare`, :class:`Share`): paired comparisons of per-seed test values,
  each naming the gates it presupposes, and descriptive ratios.

:meth:`Design.pick` is the one rule that chooses an arm's configuration (best on validation,
the first on ties); :meth:`Design.jobs` makes one job per seed; :meth:`Design.claims` turns the
per-seed rows (``seed``, ``arm``, one column per part: ``valid``, ``gate``, ``test``) into the
claims table — the gates on the gate column, every claim on the test column, δ from the
study's ``delta`` param. Families (a "teacher beats the student alone" claim is a design check
in the gate family, :data:`kdkit.claims.GATE_ID`), Holm and the verdict rules are then
:func:`kdkit.claims.finalize`'s, as for every study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .claims import Claim, Deltas, paired_claim, teacher_gate
from .stats import mean_ci
from .transfer_set import control_gate

ROLES = ("teacher", "student", "kd", "control", "oracle")
GATE_KINDS = ("teacher", "control")


def _one_of(value: str, allowed: tuple, what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r}; allowed: {', '.join(allowed)}")


@dataclass(frozen=True)
class Arm:
    """One compared arm: its name in the rows, its label, the params key of its grid and its
    role (:data:`ROLES`)."""

    name: str
    label: str
    grid: str
    role: str = "student"

    def __post_init__(self):
        _one_of(self.role, ROLES, f"arm {self.name!r}: role")


@dataclass(frozen=True)
class Gate:
    """A precondition on held-out data: ``teacher`` — ``a`` beats ``b``; ``control`` — ``a``
    is not below ``b`` by more than δ."""

    name: str
    kind: str
    a: str
    b: str

    def __post_init__(self):
        _one_of(self.kind, GATE_KINDS, f"gate {self.name!r}: kind")


@dataclass(frozen=True)
class Compare:
    """The claim "``a`` {expect} ``b``" on test values, paired over seeds, judged only when
    each of its ``gates`` holds."""

    id: str
    a: str
    b: str
    text: str
    expect: str = ">"
    gates: tuple = ()
    source_value: str = ""


@dataclass(frozen=True)
class Share:
    """Descriptive: (``a`` − ``b``) / (``ref`` − ``b``) per seed, mean and 95 % CI (seeds where
    ``ref`` equals ``b`` are left out) — e.g. the share of the oracle's gain KD recovers."""

    id: str
    a: str
    b: str
    ref: str
    text: str


@dataclass(frozen=True)
class Design:
    """A study's declaration (module docstring): ``metric`` names the test column's measure
    (the key of its δ)."""

    arms: tuple
    gates: tuple = ()
    claims: tuple = ()
    metric: str = "accuracy"

    def __post_init__(self):
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names repeat: {names}")
        known = set(names)
        for g in self.gates:
            unknown = {g.a, g.b} - known
            if unknown:
                raise ValueError(f"gate {g.name!r} names unknown arms {sorted(unknown)}")
        gate_names = {g.name for g in self.gates}
        for c in self.claims:
            unknown = ({c.a, c.b} | ({c.ref} if isinstance(c, Share) else set())) - known
            if unknown:
                raise ValueError(f"claim {c.id!r} names unknown arms {sorted(unknown)}")
            missing = set(getattr(c, "gates", ())) - gate_names
            if missing:
                raise ValueError(f"claim {c.id!r} needs undeclared gates {sorted(missing)}")

    def check_grids(self, p: dict) -> None:
        """Tuning parity: every arm's grid (``p[arm.grid]``, a list of configurations) is
        non-empty and of the same size; a ValueError names the sizes otherwise."""
        sizes = {}
        for arm in self.arms:
            grid = p.get(arm.grid)
            if not grid:
                raise ValueError(f"{arm.grid} must list at least one configuration "
                                 f"({arm.label})")
            sizes[arm.grid] = len(grid)
        if len(set(sizes.values())) > 1:
            raise ValueError("every arm's grid must be the same size (equal tuning for every "
                             "arm); got " + ", ".join(f"{k} {v}" for k, v in sizes.items()))

    @staticmethod
    def pick(fits: list[tuple]) -> int:
        """The index of the chosen fit among ``fits`` — ``(validation score, ...)`` in grid
        order: the best on validation, the first on ties (the rule every arm shares)."""
        if not fits:
            raise ValueError("nothing to pick from: the grid is empty")
        scores = [float(f[0]) for f in fits]
        return int(np.argmax(scores))

    def jobs(self, p: dict, seed_job: Callable) -> list:
        """One job per seed of ``p["seeds"]``: ``seed_job(p, seed)`` returns that seed's rows."""
        from .jobs import Job

        return [Job(seed_job, (p, s), name=f"seed {s}") for s in p["seeds"]]

    def gate_results(self, rows: pd.DataFrame, delta: float | None) -> dict:
        """Each declared gate judged on the ``gate`` column (held-out rows)."""
        held = rows.pivot_table(index="seed", columns="arm", values="gate")
        out = {}
        for g in self.gates:
            if g.kind == "teacher":
                out[g.name] = teacher_gate(held[g.a], held[g.b], metric=self.metric,
                                           data="gate-row")
            else:
                out[g.name] = control_gate(held[g.a], held[g.b], delta=delta, data="gate-row")
        return out

    def claims_table(self, rows: pd.DataFrame, p: dict) -> list[Claim]:
        """The declared claims from per-seed ``rows`` (module docstring)."""
        dk = Deltas(p.get("delta")).kwargs(self.metric)
        gates = self.gate_results(rows, dk.get("delta"))
        test = rows.pivot_table(index="seed", columns="arm", values="test")
        out = []
        for c in self.claims:
            if isinstance(c, Share):
                gain = test[c.ref] - test[c.b]
                ok = gain.abs() > 1e-12
                share = ((test[c.a] - test[c.b])[ok] / gain[ok]).to_numpy(dtype=float)
                e = mean_ci(share) if len(share) else None
                m, lo, hi = (e.mean, e.ci_low, e.ci_high) if e else (np.nan,) * 3
                out.append(Claim(c.text, "", m, lo, hi, "not testable",
                                 f"descriptive: ({c.a} − {c.b}) / ({c.ref} − {c.b}) per seed",
                                 id=c.id, family="descriptive"))
                continue
            out.append(paired_claim(test[c.a], test[c.b], c.expect, c.text, c.source_value,
                                    key=c.id, gates=[gates[g] for g in c.gates], **dk))
        return out

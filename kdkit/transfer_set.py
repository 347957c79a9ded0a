"""Distillation on a transfer set, with its two fair comparisons: a self-training control and a
true-label oracle.

A teacher's soft outputs can only teach a student something it does not have already on rows it
has **no labels for**: Buciluǎ, Caruana & Niculescu-Mizil (2006, *Model compression*, KDD) label a
large unlabelled "transfer set" with the ensemble teacher; Hinton, Vinyals & Dean (2015,
*Distilling the knowledge in a neural network*, §2) train the student on it at temperature T.
Distilling on the labelled training rows alone mostly adds label smoothing.

The design compares four arms of one student model, each trained with the same number of
gradient steps and tuned on the same validation grid:

* ``alone``: the labelled rows only;
* ``kd``: the labelled rows (true labels) and the transfer rows with the **teacher's** targets;
* ``self``: the self-training control (Scudder 1965; Lee 2013, *Pseudo-label*): the transfer rows
  with the targets of the **student alone** — the same extra rows and the same loss, without the
  teacher. KD beating it is the teacher's knowledge, not the extra rows;
* ``oracle``: the transfer rows with their **true labels**, the most any labeller could give.

Claims (:func:`transfer_claims`): KD beats the student alone (needs the teacher to beat the
student alone on held-out data, :func:`kdkit.claims.teacher_gate`); KD beats self-training
(also needs the control to be sound, :func:`control_gate`); and, descriptive, the share of the
oracle's gain that KD recovers, (kd − alone) / (oracle − alone).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import ALPHA, Claim, Gate, paired_claim
from .stats import mean_ci, paired_test

ARMS = ("alone", "kd", "self", "oracle")
ARM_LABELS = {"alone": "student alone", "kd": "KD on the transfer set",
              "self": "self-training control", "oracle": "true-label oracle"}


def control_gate(control, alone, *, delta: float | None, alpha: float = ALPHA,
                 name: str = "the self-training control", data: str = "held-out") -> Gate:
    """A control is **sound** when it is not degenerate: it does not fall below the student
    alone by more than δ with p < α (paired over seeds). Beating a control that broke the
    student says nothing about the teacher."""
    c, s = np.asarray(control, dtype=float), np.asarray(alone, dtype=float)
    if len(c) < 2:
        return Gate(True, f"one seed: {name} not checked")
    t = paired_test(c, s)
    margin = delta or 0.0
    bad = t.mean_diff < -margin and t.p_value < alpha
    what = f"{name} vs the student alone ({data}: {t.mean_diff:+.4f}, p = {t.p_value:.3g})"
    return Gate(not bad, (f"{name} is degenerate: below the student alone by more than "
                          f"δ = {margin:g}; " if bad else "") + what)


def oracle_share(values: pd.DataFrame) -> tuple[float, float, float]:
    """Mean and 95 % CI over seeds of (kd − alone) / (oracle − alone), the share of the
    true-label gain KD recovers (seeds where the oracle gains nothing are left out)."""
    gain = values["oracle"] - values["alone"]
    ok = gain.abs() > 1e-12
    share = ((values["kd"] - values["alone"])[ok] / gain[ok]).to_numpy(dtype=float)
    if len(share) == 0:
        return float("nan"), float("nan"), float("nan")
    e = mean_ci(share)
    return e.mean, e.ci_low, e.ci_high


def transfer_claims(values: pd.DataFrame, *, where: str, suffix: str = "",
                    teacher_gate: Gate | None = None, control: Gate | None = None,
                    delta: float | None = None, delta_why: str = "",
                    source_value: str = "", claimed: float | None = None,
                    metric: str = "accuracy") -> list[Claim]:
    """The transfer-set claims from per-seed test ``metric`` (``values``: index seed, columns
    :data:`ARMS`; missing arms are skipped). ``where`` names the setting in the claim text
    ("svm → mlp, synthetic"), ``suffix`` ends each id (``kd>alone@svm>mlp``)."""
    gates = tuple(g for g in (teacher_gate,) if g is not None)
    out: list[Claim] = []
    if {"kd", "alone"} <= set(values):
        out.append(paired_claim(values["kd"], values["alone"], ">",
                                f"KD on a transfer set improves the student ({where}, test "
                                f"{metric})", source_value, key=f"kd>alone{suffix}",
                                delta=delta, delta_why=delta_why, claimed=claimed,
                                gates=gates))
    if {"kd", "self"} <= set(values):
        both = gates + tuple(g for g in (control,) if g is not None)
        out.append(paired_claim(values["kd"], values["self"], ">",
                                f"KD beats the self-training control on the same transfer "
                                f"rows ({where}, test {metric})", key=f"kd>self{suffix}",
                                delta=delta, delta_why=delta_why, gates=both))
    if set(ARMS) <= set(values):
        m, lo, hi = oracle_share(values)
        out.append(Claim(f"Share of the true-label oracle's gain that KD recovers ({where})",
                         "", m, lo, hi, "not testable", "descriptive: (kd − alone) / "
                         "(oracle − alone) per seed; 1 = as good as true labels",
                         id=f"kd/oracle{suffix}", family="descriptive"))
    return out

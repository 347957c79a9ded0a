"""Hybrid BPR + soft-score distillation for matrix factorisation (seed 001).

With d = ŝ_ui − ŝ_uj the score margin of a BPR triple (u, i, j), S the student, T the frozen
teacher and τ the temperature, the seed's loss is

    L = (1 − α) · L_BPR + α · L_soft,

where L_soft is "MSE between teacher and student confidence scores (z^pos − z^neg), scaled by
τ²". The seed gives neither α nor τ and two readings fit its words:

* ``reading="margin"``:  L_soft = τ² · mean((d_S/τ − d_T/τ)²)  — algebraically mean((d_S − d_T)²),
  so τ has no effect;
* ``reading="sigmoid"``: L_soft = τ² · mean((σ(d_S/τ) − σ(d_T/τ))²) — matching the teacher's
  softened pairwise preference probabilities, as in Hinton et al. (2015) for a 2-way softmax.
"""

from __future__ import annotations

import torch

from ..recsys.bpr_mf import bpr_loss

READINGS = ("margin", "sigmoid")


def soft_margin_loss(d_student: torch.Tensor, d_teacher: torch.Tensor, *, temperature: float,
                     reading: str) -> torch.Tensor:
    """L_soft for one batch of margins (see module docstring)."""
    t = temperature
    if reading == "margin":
        return t * t * ((d_student / t - d_teacher / t) ** 2).mean()
    if reading == "sigmoid":
        return t * t * ((torch.sigmoid(d_student / t) - torch.sigmoid(d_teacher / t)) ** 2).mean()
    raise ValueError(f"unknown reading '{reading}'; allowed: {', '.join(READINGS)}")


def hybrid_kd_loss(s_pos, s_neg, t_pos, t_neg, *, alpha: float, temperature: float,
                   reading: str = "margin") -> torch.Tensor:
    """(1 − α)·L_BPR(student) + α·L_soft(student margins, teacher margins)."""
    soft = soft_margin_loss(s_pos - s_neg, (t_pos - t_neg).detach(), temperature=temperature,
                            reading=reading)
    return (1 - alpha) * bpr_loss(s_pos, s_neg) + alpha * soft


def make_hybrid_kd(teacher, *, alpha: float, temperature: float, reading: str = "margin"):
    """A ``loss_fn(model, users, pos, neg)`` for :func:`kdkit.recsys.train.train_bpr`."""
    if reading not in READINGS:
        raise ValueError(f"unknown reading '{reading}'; allowed: {', '.join(READINGS)}")
    teacher.eval()

    def loss_fn(model, users, pos, neg):
        with torch.no_grad():
            t_pos, t_neg = teacher(users, pos, neg)
        return hybrid_kd_loss(*model(users, pos, neg), t_pos, t_neg, alpha=alpha,
                              temperature=temperature, reading=reading)

    return loss_fn

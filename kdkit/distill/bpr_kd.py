"""Hybrid BPR + soft-score distillation for matrix factorisation (source: "Knowledge
Distillation for Recommender System Efficiency", bpr_kd).

With d = ŝ_ui − ŝ_uj the score margin of a BPR triple (u, i, j), S the student, T the frozen
teacher and τ the temperature, the source's loss is

    L = (1 − α) · L_BPR + α · L_soft,

where L_soft is "MSE between teacher and student confidence scores (z^pos − z^neg), scaled by
τ²". The source gives neither α nor τ and two readings fit its words:

* ``reading="margin"``:  L_soft = τ² · mean((d_S/τ − d_T/τ)²)  — algebraically mean((d_S − d_T)²),
  so τ has no effect;
* ``reading="sigmoid"``: L_soft = τ² · mean((σ(d_S/τ) − σ(d_T/τ))²) — matching the teacher's
  softened pairwise preference probabilities, as in Hinton et al. (2015) for a 2-way softmax.

Training uses kdkit's compiled per-sample SGD loop (``recsys.bpr_sgd``), which takes the
gradient of exactly this loss per triple; :func:`margin_kd` builds its description.
:func:`soft_margin_loss` and :func:`hybrid_kd_loss` are the same formulas in torch (the
reference the compiled gradient is tested against).

The **shuffled-teacher control** (``shuffle``) gives user u the teacher's scores of another
user π(u) (a seeded permutation): the same distribution of margins, none of what the teacher
knows about u.
"""

from __future__ import annotations

import numpy as np
import torch

from ..recsys.bpr_mf import BPRMF, bpr_loss
from ..recsys.bpr_sgd import MarginKD

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


def user_permutation(n_users: int, seed: int) -> np.ndarray:
    """The shuffled control's permutation π of the users (seeded)."""
    return np.random.default_rng(seed).permutation(n_users)


def margin_kd(teacher: BPRMF, *, alpha: float, temperature: float, reading: str,
              shuffle: np.ndarray | None = None) -> MarginKD:
    """The hybrid loss against ``teacher`` for ``recsys.bpr_sgd.train_bpr_sgd``;
    ``shuffle`` (a user permutation) makes it the shuffled-teacher control."""
    if reading not in READINGS:
        raise ValueError(f"unknown reading '{reading}'; allowed: {', '.join(READINGS)}")
    if not 0 <= alpha <= 1 or temperature <= 0:
        raise ValueError("alpha must lie in [0, 1] and temperature be > 0")
    with torch.no_grad():
        user = teacher.user.weight.detach().numpy().copy()
        item = teacher.item.weight.detach().numpy().copy()
        bias = (teacher.item_bias.weight.detach().numpy()[:, 0].copy()
                if teacher.item_bias is not None else np.zeros(len(item), dtype=np.float32))
    if shuffle is not None:
        user = user[shuffle]
    return MarginKD(reading, float(alpha), float(temperature), user, item, bias)

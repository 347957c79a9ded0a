"""Layerwise distillation with per-layer weights (seed 003, FitNets-style hints):

    L = L_task + γ · Σ_l w_l · MSE(P_l h_S^l, h_T^{m(l)})
               (+ λ · T² · KL(softmax(z_T/T) ‖ softmax(z_S/T)))

with a learned linear projection P_l per student layer (student width → teacher width), the
layer map m(l) = round((l + 1) · L_T / L_S) − 1 (the last student layer meets the last
teacher layer), weights w from ``layer_weights``, and an optional logit term over the real
multi-class softmax (the seed's KL was over one logit, hence always 0).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    return [round((i + 1) * teacher_layers / student_layers) - 1 for i in range(student_layers)]


class LayerwiseKD(nn.Module):
    """The distillation terms; its projections are trained with the student."""

    def __init__(self, student_dim: int, teacher_dim: int, weights, teacher_layers: int,
                 gamma: float = 1.0, logit_weight: float = 0.0, temperature: float = 2.0):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(weights, dtype=torch.float32))
        self.proj = nn.ModuleList(nn.Linear(student_dim, teacher_dim) for _ in weights)
        self.map = layer_map(len(weights), teacher_layers)
        self.gamma, self.logit_weight, self.T = gamma, logit_weight, temperature

    def forward(self, s_hidden, t_hidden, mask, s_logits=None, t_logits=None):
        """``mask`` (B, T) marks real positions; hidden lists are per layer (B, T, d); the
        teacher list may hold None for layers no student layer reads."""
        m = mask[..., None].float()
        n = m.sum() * t_hidden[self.map[0]].shape[-1]
        loss = s_hidden[0].new_zeros(())
        for i, (p, h) in enumerate(zip(self.proj, s_hidden)):
            diff = (p(h) - t_hidden[self.map[i]]) ** 2
            loss = loss + self.w[i] * (diff * m).sum() / n
        loss = self.gamma * loss
        if self.logit_weight and s_logits is not None:
            kl = F.kl_div(F.log_softmax(s_logits[mask] / self.T, -1),
                          F.softmax(t_logits[mask] / self.T, -1), reduction="batchmean")
            loss = loss + self.logit_weight * self.T ** 2 * kl
        return loss

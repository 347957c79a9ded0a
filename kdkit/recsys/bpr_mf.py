"""BPR matrix factorisation with biases (Rendle et al., UAI 2009).

    ŝ_ui = ⟨p_u, q_i⟩ + b_u + b_i,    L_BPR = −mean log σ(ŝ_ui − ŝ_uj)

for a user u, an observed item i and a sampled unobserved item j. Parameters:
(n_users + n_items)·(dim + 1) — the count behind seed 001's 97,500 (dim 64) and 49,500 (dim 32)
with n_users + n_items = 1,500. (The user bias cancels in every ranking and in L_BPR; it is kept
so the parameter count matches the seed.)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BPRMF(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, *, init_std: float = 0.1,
                 bias: bool = True):
        super().__init__()
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        self.user_bias = nn.Embedding(n_users, 1) if bias else None
        self.item_bias = nn.Embedding(n_items, 1) if bias else None
        if bias:
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of matched (user, item) pairs, shape ``users.shape``."""
        s = (self.user(users) * self.item(items)).sum(-1)
        if self.user_bias is not None:
            s = s + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
        return s

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """Scores of ``users`` against every item, shape ``(len(users), n_items)``."""
        if self.user_bias is None:
            return self.user(users) @ self.item.weight.T
        s = torch.addmm(self.item_bias.weight.T, self.user(users), self.item.weight.T)
        return s.add_(self.user_bias(users))

    def forward(self, users, pos, neg):
        """Return ``(ŝ_ui, ŝ_uj)`` for a batch of BPR triples."""
        return self.score(users, pos), self.score(users, neg)


def bpr_loss(s_pos: torch.Tensor, s_neg: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """−mean log σ(ŝ_ui − ŝ_uj), or the sum over the batch with ``reduction="sum"`` (the
    Topology Distillation reference protocol; with Adam it changes how strongly weight decay
    acts relative to the loss)."""
    losses = -F.logsigmoid(s_pos - s_neg)
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"unknown reduction '{reduction}'; allowed: mean, sum")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

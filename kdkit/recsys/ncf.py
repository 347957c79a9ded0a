"""Neural Collaborative Filtering, MLP variant (He et al., WWW 2017).

    ŝ_ui = MLP([p_u ; q_i])

User and item embeddings of size ``dim`` are concatenated (2·dim) and passed through
``layers`` − 1 blocks [Linear halving the width, ReLU, Dropout] and a final Linear to one
logit; KnowRecDistill's teacher is dim 200 with 7 layers (400 → 200 → … → 6 → 1). Trained here
with the same BPR loop and full-ranking evaluation as BPR-MF, so the two are comparable.
``user``/``item`` are the embedding tables, so FTD applies unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class NCF(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, *, layers: int = 3,
                 dropout: float = 0.0, init_std: float = 0.01):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)
        blocks, width = [], 2 * dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, max(width // 2, 1)), nn.ReLU(), nn.Dropout(dropout)]
            width = max(width // 2, 1)
        self.tower = nn.Sequential(*blocks, nn.Linear(width, 1))

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.user(users), self.item(items)], dim=-1)
        return self.tower(x).squeeze(-1)

    def score_all(self, users: torch.Tensor, chunk: int = 1 << 18) -> torch.Tensor:
        """Scores against every item, (len(users), n_items), in chunks of user–item pairs."""
        n = self.n_items
        u = users.repeat_interleave(n)
        i = torch.arange(n).repeat(len(users))
        out = torch.cat([self.score(u[s:s + chunk], i[s:s + chunk])
                         for s in range(0, len(u), chunk)])
        return out.view(len(users), n)

    def forward(self, users, pos, neg):
        return self.score(users, pos), self.score(users, neg)

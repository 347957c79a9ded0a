"""Relaxed Ranking Distillation (RRD; Kang, Hwang, Kweon & Yu, "DE-RRD: A Knowledge
Distillation Framework for Recommender System", CIKM 2020) as a ``bpr-batch`` plug-in for
kdkit studies (the worked example of docs/auditing-a-kd-claim.md).

For each user u of a batch, K *interesting* items are sampled from the teacher's top-N ranking
with probability ∝ exp(−r / T) (r the teacher's rank), kept in the teacher's order
π_1 … π_K, and L *uninteresting* items are sampled uniformly from below the top N. The student
(scores s) learns the order of the interesting items and that they lie above the uninteresting
ones, whose own order is left free (the relaxation):

    L_RRD = − Σ_u Σ_{k=1..K} [ s_{u,π_k} − log( Σ_{i≥k} exp s_{u,π_i} + Σ_l exp s_{u,l} ) ],

    L = L_BPR + λ · L_RRD.

Here: K = 10, L = 40, N = 100, T = 10 and λ = 0.01 (not tuned; the paper tunes them), the
teacher's ranking over all items (the paper's code also ranks the user's training items), MF
students without biases (score = user · item embedding). Usage in a study's params:
``methods: [student, ftd, htd, plugins.rrd:rrd]``.
"""

from __future__ import annotations

import torch

from kdkit.recsys.bpr_mf import bpr_loss

K, L, N, T, LAMBDA = 10, 40, 100, 10.0, 0.01


def rrd_loss(s_int: torch.Tensor, s_un: torch.Tensor) -> torch.Tensor:
    """L_RRD summed over users, from the student's scores of the interesting items in the
    teacher's order (n, K) and of the uninteresting items (n, L)."""
    tail = torch.logcumsumexp(s_int.flip(1), dim=1).flip(1)  # log Σ_{i ≥ k} exp s_{π_i}
    below = torch.logsumexp(s_un, dim=1, keepdim=True)
    return -(s_int - torch.logaddexp(tail, below)).sum()


class RRD(torch.nn.Module):
    """BPR + λ·L_RRD against a frozen teacher, as a ``loss_fn(model, users, pos, neg)``."""

    def __init__(self, teacher, *, reduction: str = "sum", seed: int = 0, k: int = K,
                 n_uninteresting: int = L, top_n: int = N, temperature: float = T,
                 lam: float = LAMBDA):
        super().__init__()
        with torch.no_grad():
            scores = teacher.user.weight @ teacher.item.weight.T
            self.register_buffer("top", scores.topk(top_n, dim=1).indices)
        self.n_items = scores.shape[1]
        self.k, self.l, self.lam, self.reduction = k, n_uninteresting, lam, reduction
        self.weights = torch.exp(-torch.arange(top_n, dtype=torch.float) / temperature)
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(interesting (n, K) in the teacher's order, uninteresting (n, L)) item ids."""
        n = len(users)
        ranks = torch.multinomial(self.weights.expand(n, -1), self.k, replacement=False,
                                  generator=self.generator).sort(dim=1).values
        top = self.top[users]
        interesting = top.gather(1, ranks)
        un = torch.randint(0, self.n_items, (n, self.l), generator=self.generator)
        clash = (un.unsqueeze(-1) == top.unsqueeze(1)).any(-1)  # redraw items in the top N
        while clash.any():
            un[clash] = torch.randint(0, self.n_items, (int(clash.sum()),),
                                      generator=self.generator)
            clash = (un.unsqueeze(-1) == top.unsqueeze(1)).any(-1)
        return interesting, un

    def forward(self, model, users, pos, neg):
        u = torch.unique(users)
        interesting, un = self.sample(u.cpu())
        e = model.user(u).unsqueeze(1)
        s_int = (e * model.item(interesting.to(u.device))).sum(-1)
        s_un = (e * model.item(un.to(u.device))).sum(-1)
        return bpr_loss(*model(users, pos, neg), self.reduction) + self.lam * rrd_loss(s_int,
                                                                                       s_un)


def rrd(teacher, student_dim, protocol, seed):
    """The plug-in factory (kind ``bpr-batch``, see :mod:`kdkit.methods`)."""
    return RRD(teacher, reduction=protocol.reduction, seed=seed)


rrd.label = "RRD"

"""Hierarchical Topology Distillation (HTD; Kang, Hwang, Kweon & Yu, "Topology Distillation
for Recommender System", KDD 2021).

A small student cannot hold the teacher's full topology, so HTD distils it at two levels of
a grouping of the teacher's representation space.

**Groups.** K groups for users and K for items (item ids offset by K, so a user and an item
never share a group). The assignment v(t) = softmax(W t + b) is computed on the frozen
teacher embedding t; the hard group is z = argmax v(t).

**Group assignment (GA).** K decoders f_k: s ↦ t, each an MLP d_S → (d_T + d_S)/2 → d_T with
ReLU, reconstruct the teacher embedding from the student's through a Gumbel-softmax choice

    g = softmax((log(v(t) + 1e-10) + Gumbel) / τ),     L_GA = Σ_e ‖t_e − Σ_k g_k f_k(s_e)‖²,

for the batch's users and items separately, summed. τ is annealed per epoch e of E as
τ_e = (1e-10)^{e/E}, from 1.

**Topology (TD).** Prototypes P_T, P_S are the mean teacher / student embedding of each group
present in the batch (no gradient). Entity level: for pairs a, b in the same group whose
teacher cosine is positive, (cos(t_a, t_b) − cos(s_a, s_b))². Group level: for every present
group p and every entity e, (cos(P_T,p, t_e) − cos(P_S,p, s_e))². L_TD is the sum of both.

    L = L_BPR + λ·(α·L_TD + (1 − α)·L_GA),    λ = 0.001, α = 0.5 in the reference.

**Computed as a few batched tensor products, no Python loop over groups.** The entity level
only compares entities of the same group, so its cosine matrix is block-diagonal. Entities are
sorted by group and each group's rows are laid into one zero-padded (B, M, d) stack; groups of
similar size share a stack (:func:`group_stacks`: one stack per power-of-two size class, so
padding at most quadruples a block's work), and each stack is one ``bmm``. With D = mask ∘ (ŜŜᵀ
− T̂T̂ᵀ), mask = [T̂T̂ᵀ > 0] (padded rows are zero, so their mask is 0), the loss of a stack is
⟨D, D⟩ and its gradient is 4·D·Ŝ (D is symmetric): :class:`MaskedCosineGap` computes both
without the autograd graph of the E_g × E_g intermediates. HTD calls it once per side (users,
items), so a collapsed grouping — every user in one group and every item in another, as early
in training — costs E_u² + E_i², never (E_u + E_i)². :func:`topology_loss_dense` is the literal
E × E version, kept as the reference.

**Saturated rows take their own decoder.** Once τ is small the Gumbel-softmax is one-hot to
float precision and Σ_k g_k f_k(s) needs only the chosen decoder (K times less work); those
rows are stacked by group like the topology blocks, one ``bmm`` per size class. A row counts
as saturated when its largest weight is within ``SATURATED`` (1e-6) of 1 — not, as before,
when every other weight is exactly 0: that test turned on underflow to 0 versus a denormal,
which differs between CPUs and flush-to-zero settings, so one machine sent a row down the other
path and the training curves parted (kdkit issue 39).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..recsys.bpr_mf import bpr_loss
from .ftd import batch_entities, cosine_matrix

# A row of the Gumbel-softmax counts as one-hot when its largest weight is within this of 1.
# Not "every other weight is exactly 0": that test turns on underflow to 0 versus a denormal,
# which differs between CPUs and flush-to-zero settings (kdkit issue 39).
SATURATED = 1e-6


class Decoders(nn.Module):
    """K two-layer MLPs f_k: d_in → hidden → d_out (ReLU), mixed by weights g.

    ``forward(s, g)`` returns Σ_k g_k f_k(s) without materialising the (n, K, d_out) outputs:
    with h_k = ReLU(s W1_k + b1_k), Σ_k g_k (h_k W2_k + b2_k) = [g_1 h_1 … g_K h_K] · [W2_1; …;
    W2_K] + g · B2, two matrix products for all K decoders (about 1.7× faster on a CPU core
    than K products). Every row takes this one path (module docstring).
    """

    def __init__(self, k: int, d_in: int, hidden: int, d_out: int):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(k, d_in, hidden))
        self.b1 = nn.Parameter(torch.empty(k, hidden))
        self.w2 = nn.Parameter(torch.empty(k, hidden, d_out))
        self.b2 = nn.Parameter(torch.empty(k, d_out))
        for w, b, fan_in in ((self.w1, self.b1, d_in), (self.w2, self.b2, hidden)):
            bound = 1 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)

    def each(self, s: torch.Tensor) -> torch.Tensor:
        """Every decoder's output, (n, K, d_out) (for inspection and tests)."""
        h = F.relu(torch.einsum("nd,kdh->nkh", s, self.w1) + self.b1)
        return torch.einsum("nkh,khe->nke", h, self.w2) + self.b2

    def forward(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Σ_k g_k f_k(s): saturated rows (largest weight ≥ 1 − ``SATURATED``) through their
        own decoder only (:meth:`one_hot`), the others through every decoder (:meth:`mixed`)."""
        hard = g.max(-1).values >= 1 - SATURATED
        if bool(hard.all()):
            return self.one_hot(s, g)
        if not bool(hard.any()):
            return self.mixed(s, g)
        out = s.new_empty(s.shape[0], self.w2.shape[2])
        out[hard] = self.one_hot(s[hard], g[hard])
        out[~hard] = self.mixed(s[~hard], g[~hard])
        return out

    def mixed(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Σ_k g_k f_k(s) for any weights (every decoder on every row)."""
        k, d_in, hidden = self.w1.shape
        h = F.relu(s @ self.w1.permute(1, 0, 2).reshape(d_in, k * hidden) + self.b1.reshape(-1))
        gh = (h.view(-1, k, hidden) * g.unsqueeze(-1)).reshape(-1, k * hidden)
        return gh @ self.w2.reshape(k * hidden, -1) + g @ self.b2

    def one_hot(self, s: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """g_z f_z(s) with z = argmax g, each row through its own decoder only (K times less
        work than :meth:`mixed`), the groups' rows stacked by :func:`group_stacks` into one
        ``bmm`` per size class. The weights left out sum to at most ``SATURATED``; the
        softmax Jacobian there is as small, so the assignment's gradient is kept as is."""
        z = g.argmax(-1)
        out = s.new_zeros(s.shape[0], self.w2.shape[2])
        for members, rows, block, slot, m in group_stacks(z):
            x = s.new_zeros(members.numel(), m, s.shape[1]).index_put((block, slot), s[rows])
            h = F.relu(torch.baddbmm(self.b1[members, None], x, self.w1[members]))
            y = torch.baddbmm(self.b2[members, None], h, self.w2[members])
            out = out.index_put((rows,), y[block, slot] * g[rows, z[rows], None])
        return out


def gumbel_softmax(v: torch.Tensor, tau: float, generator=None) -> torch.Tensor:
    """softmax((log(v + 1e-10) + Gumbel noise) / τ) along the last axis. The noise is drawn
    from ``generator`` on the CPU and moved to ``v``'s device, so a run on a GPU draws the
    same noise as on the CPU (and a CPU generator works with CUDA tensors)."""
    u = torch.rand(v.shape, generator=generator).to(v.device).clamp_(1e-10, 1.0)
    return F.softmax((torch.log(v + 1e-10) - torch.log(-torch.log(u))) / tau, dim=-1)


def group_assignment_loss(t, s, assign: nn.Linear, decoders: Decoders, tau: float,
                          generator=None) -> torch.Tensor:
    """Σ_e ‖t_e − Σ_k g_ek f_k(s_e)‖² for one side (users or items)."""
    g = gumbel_softmax(F.softmax(assign(t), dim=-1), tau, generator)
    return ((t - decoders(s, g)) ** 2).sum()


class MaskedCosineGap(torch.autograd.Function):
    """Σ over a stack of blocks of ‖mask ∘ (ŜŜᵀ − T̂T̂ᵀ)‖², mask = [T̂T̂ᵀ > 0], for row-normalised
    ``tn`` (B, M, d_T; no gradient) and ``sn`` (B, M, d_S); the gradient with respect to ``sn``
    is 4·D·Ŝ with D = mask ∘ (ŜŜᵀ − T̂T̂ᵀ) (symmetric). Zero rows (padding) have mask 0."""

    @staticmethod
    def forward(ctx, tn, sn):
        ct = torch.bmm(tn, tn.transpose(1, 2))
        d = torch.bmm(sn, sn.transpose(1, 2)).sub_(ct)
        d.mul_(ct.gt_(0))  # ct becomes the mask [cos_T > 0] as 0/1, in place
        ctx.save_for_backward(d, sn)
        flat = d.reshape(-1)
        return torch.dot(flat, flat)

    @staticmethod
    def backward(ctx, grad):
        d, sn = ctx.saved_tensors
        return None, torch.bmm(d, sn).mul_(4 * grad)


def group_stacks(groups: torch.Tensor):
    """Lay the rows of each group into zero-padded stacks, one per power-of-two size class:
    yields ``(members, rows, block, slot, m)`` — the groups of the stack, each row's index in
    ``groups``, its block (the group's place in ``members``) and slot in the block, and the
    padded block size m. Padding at most doubles a block (sizes in (m/2, m]); the number of
    stacks is at most log2(len(groups)) + 1, whatever the number of groups."""
    n = groups.shape[0]
    counts = torch.bincount(groups)
    order = torch.argsort(groups, stable=True)
    g_sorted = groups[order]
    slot = torch.arange(n, device=groups.device) - (torch.cumsum(counts, 0) - counts)[g_sorted]
    size_class = torch.ceil(torch.log2(counts.clamp(min=1).double())).long()
    size_class[counts == 0] = -1
    for c in torch.unique(size_class[counts > 0]).tolist():
        members = (size_class == c).nonzero().squeeze(1)
        block_of = torch.full_like(counts, -1)
        block_of[members] = torch.arange(members.numel(), device=groups.device)
        block = block_of[g_sorted]
        keep = block >= 0
        yield members, order[keep], block[keep], slot[keep], int(counts[members].max())


def entity_topology_loss(t: torch.Tensor, s: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Σ over pairs (a, b) of one group with cos(t_a, t_b) > 0 of (cos(t_a, t_b) − cos(s_a,
    s_b))², diagonal included, as batched blocks (module docstring)."""
    tn, sn = F.normalize(t, dim=1).detach(), F.normalize(s, dim=1)
    loss = s.new_zeros(())
    for members, rows, block, slot, m in group_stacks(groups):
        tb = tn.new_zeros(members.numel(), m, tn.shape[1])
        tb[block, slot] = tn[rows]
        sb = sn.new_zeros(members.numel(), m, sn.shape[1]).index_put((block, slot), sn[rows])
        loss = loss + MaskedCosineGap.apply(tb, sb)
    return loss


def topology_loss(t: torch.Tensor, s: torch.Tensor, groups: torch.Tensor,
                  n_groups: int) -> torch.Tensor:
    """Entity-level (same group, positive teacher cosine) + group-level topology loss."""
    return (entity_topology_loss(t, s, groups)
            + group_topology_loss(t, s, F.one_hot(groups, n_groups).to(t.dtype)))


def group_topology_loss(t: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Σ_k Σ_e (cos(p^T_k, t_e) − cos(p^S_k, s_e))², p_k the (constant) mean of group k's
    rows under the one-hot assignment ``z`` (n, G); empty groups are left out."""
    with torch.no_grad():
        counts = z.sum(0)
        present = counts > 0
        proto_t = (z.T @ t)[present] / counts[present, None]
        proto_s = (z.T @ s)[present] / counts[present, None]
    return ((F.normalize(proto_t, dim=1) @ F.normalize(t, dim=1).T
             - F.normalize(proto_s, dim=1) @ F.normalize(s, dim=1).T) ** 2).sum()


def topology_loss_dense(t: torch.Tensor, s: torch.Tensor, groups: torch.Tensor,
                        n_groups: int) -> torch.Tensor:
    """The same loss with explicit (n, n) matrices (the reference)."""
    z = F.one_hot(groups, n_groups).to(t.dtype)  # (n, G)
    same = z @ z.T
    cos_t, cos_s = cosine_matrix(t) * same, cosine_matrix(s) * same
    keep = cos_t > 0
    entity = ((cos_t - cos_s)[keep] ** 2).sum()
    return entity + group_topology_loss(t, s, z)


class HTD(nn.Module):
    """HTD as a ``loss_fn(model, users, pos, neg)``; its own parameters (assignment and
    decoders) are trained with the student by :func:`kdkit.recsys.train.train_bpr`."""

    def __init__(self, teacher, student_dim: int, *, n_groups: int = 30, lam: float = 1e-3,
                 alpha: float = 0.5, reduction: str = "sum", seed: int = 0):
        super().__init__()
        # the teacher's embeddings are buffers: frozen, and not among this module's parameters
        self.register_buffer("t_user", teacher.user.weight.detach().clone())
        self.register_buffer("t_item", teacher.item.weight.detach().clone())
        d_t = self.t_user.shape[1]
        hidden = (d_t + student_dim) // 2
        self.k, self.lam, self.alpha, self.reduction = n_groups, lam, alpha, reduction
        self.user_assign, self.item_assign = nn.Linear(d_t, n_groups), nn.Linear(d_t, n_groups)
        self.user_decoders = Decoders(n_groups, student_dim, hidden, d_t)
        self.item_decoders = Decoders(n_groups, student_dim, hidden, d_t)
        self.tau = 1.0
        self.generator = torch.Generator().manual_seed(seed)

    def start_epoch(self, epoch: int, epochs: int) -> None:
        self.tau = max(1e-10 ** (epoch / epochs), 1e-10)

    @torch.no_grad()
    def groups(self, users, items) -> torch.Tensor:
        """Hard groups of the given users and items (items offset by K)."""
        gu = self.user_assign(self.t_user[users]).argmax(-1)
        gi = self.item_assign(self.t_item[items]).argmax(-1) + self.k
        return torch.cat([gu, gi])

    def forward(self, model, users, pos, neg):
        u, i = batch_entities(users, pos, neg)
        tu, ti = self.t_user[u], self.t_item[i]
        su, si = model.user(u), model.item(i)
        ga = (group_assignment_loss(tu, su, self.user_assign, self.user_decoders, self.tau,
                                    self.generator)
              + group_assignment_loss(ti, si, self.item_assign, self.item_decoders, self.tau,
                                      self.generator))
        g = self.groups(u, i)
        t, s = torch.cat([tu, ti]), torch.cat([su, si])
        nu = u.shape[0]  # users and items never share a group: each side's blocks alone
        td = (entity_topology_loss(tu, su, g[:nu]) + entity_topology_loss(ti, si, g[nu:] - self.k)
              + group_topology_loss(t, s, F.one_hot(g, 2 * self.k).to(t.dtype)))
        base = bpr_loss(*model(users, pos, neg), self.reduction)
        return base + self.lam * (self.alpha * td + (1 - self.alpha) * ga)

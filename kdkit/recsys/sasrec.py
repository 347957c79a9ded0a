"""SASRec, a causal self-attention sequential recommender (Kang & McAuley, ICDM 2018).

    h⁰_t = √d · E[i_t] + P[t],   h^{l} = m ⊙ Block_l(h^{l−1}) with causal attention,
    score(j | i_1..i_t) = ⟨LayerNorm(h^L_t), E[j]⟩

as in the paper's code: item embeddings scaled by √d; attention is causal and never attends to
padding (id 0, left padding): padded keys get a large negative score (not −inf, so that a
padded query, whose keys are all padding, stays finite), and the states of padded positions are
zeroed after every block (m_t = 1 for a real item, 0 for padding). The item embeddings start
N(0, 1/d), the convention of the Transformer that scales them by √d (Vaswani et al., 2017): √d·E[i]
has unit-variance entries and the first item scores ⟨LayerNorm(h), E[j]⟩ have unit variance.
(PyTorch's default N(0, 1) gives scores of standard deviation √d: a full softmax then starts
far above ln(n_items) and, on MovieLens-100k, stays near the popularity ranking.)

Trained on the next item at every position (padding ignored), by the paper's binary
cross-entropy with one uniformly sampled negative item per position (``loss="bce"``:
−log σ(s_target) − log σ(−s_negative)), or by the full-softmax cross-entropy over all items
(``loss="softmax"``, which scores every item at every position: on MovieLens-100k's 1,682
items about 2× (64 wide) to 3× (16 wide) the CPU time of bce per epoch);
``forward`` also returns every block's output, which layerwise distillation matches.
``rank_metrics`` scores the last position against all items, with the user's whole history masked:
NDCG@5, NDCG@10, Recall@10 (= HR@10 with one target) and MRR.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .metrics import check_finite, single_target_metrics


class FastDropout(nn.Module):
    """Inverted dropout with the mask drawn by ``uniform_`` (about 3× faster on a CPU core than
    ``bernoulli_``, which ``nn.Dropout`` uses; the same distribution)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).uniform_() >= self.p
        return x * keep / (1 - self.p)


class SASRec(nn.Module):
    def __init__(self, n_items: int, dim: int = 64, layers: int = 2, heads: int = 2,
                 max_len: int = 50, dropout: float = 0.2):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)
        with torch.no_grad():  # N(0, 1/d), the padding row 0 (module docstring)
            nn.init.normal_(self.item.weight, std=dim ** -0.5)
            self.item.weight[0].zero_()
        self.pos = nn.Embedding(max_len, dim)
        self.drop = FastDropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, activation=relu,
                                       batch_first=True, norm_first=True)
            for _ in range(layers))
        for block in self.blocks:  # the residual and feed-forward dropouts (not attention's)
            block.dropout, block.dropout1, block.dropout2 = (FastDropout(dropout),
                                                             FastDropout(dropout),
                                                             FastDropout(dropout))
        self.norm = nn.LayerNorm(dim)
        self.max_len = max_len

    def forward(self, seq: torch.Tensor):
        """(final hidden (B, T, d), [each block's output]) for item ids (B, T), 0 = padding."""
        B, T = seq.shape
        real = (seq > 0).unsqueeze(-1).to(self.pos.weight.dtype)
        h = self.item(seq) * self.item.embedding_dim ** 0.5 \
            + self.pos(torch.arange(T, device=seq.device))
        h = self.drop(h) * real
        mask = attention_mask(seq, self.blocks[0].self_attn.num_heads) if len(self.blocks) \
            else None
        hidden = []
        for block in self.blocks:
            h = block(h, src_mask=mask) * real
            hidden.append(h)
        return self.norm(h), hidden

    def scores(self, final: torch.Tensor) -> torch.Tensor:
        return final @ self.item.weight.T


def relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU as a plain function: PyTorch's fused encoder path (taken for ``nn.ReLU`` in eval
    mode) turns this attention mask into NaN, so the layers run the ordinary path."""
    return torch.relu(x)


def attention_mask(seq: torch.Tensor, heads: int, padding: float = -1e9) -> torch.Tensor:
    """The additive attention mask (B·heads, T, T): −inf above the diagonal (causal), a large
    negative score on padded keys."""
    B, T = seq.shape
    causal = torch.triu(torch.full((T, T), float("-inf"), device=seq.device), 1)
    pad = torch.where(seq == 0, padding, 0.0).to(causal.dtype)  # (B, T) over the keys
    mask = causal.unsqueeze(0) + pad.unsqueeze(1)                # (B, T, T)
    return mask.repeat_interleave(heads, dim=0)


LOSSES = ("bce", "softmax")


def next_item_loss(model: SASRec, seq: torch.Tensor, *, loss: str = "softmax",
                   generator: torch.Generator | None = None, full_logits: bool = False,
                   labelled: torch.Tensor | None = None):
    """The mean loss of predicting seq[:, t+1] from seq[:, :t+1], padding ignored (module
    docstring); returns (loss, logits over all items or None, hidden). ``full_logits`` makes
    the bce loss also return every item's logits (for a logit KD term). ``labelled`` (a bool
    per row): only those rows' next items count (the others are read as inputs only, for a KD
    term); a batch without a labelled row has loss 0."""
    final, hidden = model(seq[:, :-1])
    target = seq[:, 1:]
    if labelled is not None:
        target = target * labelled.to(target.device)[:, None]
        if not bool((target > 0).any()):
            logits = model.scores(final) if loss == "softmax" or full_logits else None
            return final.sum() * 0.0, logits, hidden
    if loss == "softmax":
        logits = model.scores(final)
        value = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                            target.reshape(-1), ignore_index=0)
        return value, logits, hidden
    if loss != "bce":
        raise ValueError(f"unknown loss {loss!r}; allowed: {', '.join(LOSSES)}")
    n_items = model.item.num_embeddings - 1
    neg = torch.randint(1, n_items + 1, target.shape, generator=generator).to(target.device)
    pos_logit = (final * model.item(target)).sum(-1)
    neg_logit = (final * model.item(neg)).sum(-1)
    real = target > 0
    value = -(nn.functional.logsigmoid(pos_logit) + nn.functional.logsigmoid(-neg_logit))[real]
    return value.mean(), model.scores(final) if full_logits else None, hidden


@torch.no_grad()
def rank_metrics(model: SASRec, inputs: np.ndarray, targets: np.ndarray,
                 seen: np.ndarray | None = None, batch_size: int = 512, *,
                 name: str = "SASRec") -> dict:
    """Full-ranking metrics of ``targets`` given left-padded ``inputs``; the items in ``seen``
    (default: the inputs; pass the whole history when the inputs are truncated) are masked."""
    model.eval()
    device = next((q.device for q in model.parameters()), torch.device("cpu"))
    scores = []
    for s in range(0, len(inputs), batch_size):
        final, _ = model(torch.as_tensor(inputs[s:s + batch_size], device=device))
        scores.append(model.scores(final[:, -1]).cpu())
    return ranking_metrics(torch.cat(scores), inputs if seen is None else seen, targets,
                           name=name)


@torch.no_grad()
def ranking_metrics(scores: torch.Tensor, seen: np.ndarray, targets: np.ndarray, *,
                    name: str = "the model", split: str = "held-out") -> dict:
    """NDCG@5, NDCG@10, Recall@10 and MRR of ``targets`` among all items, from ``scores``
    (n, n_items + 1); the padding id 0 and every item of a row's left-padded history ``seen``
    are out of the ranking unless it is the target. Ties are broken fairly: each metric is its
    expectation over a uniformly random order inside a tie (``kdkit.recsys.metrics``)."""
    check_finite(scores, name, split)
    sc = scores.clone()
    x, tgt = torch.as_tensor(seen), torch.as_tensor(targets)
    t_score = sc.gather(1, tgt[:, None])
    sc.scatter_(1, x, float("-inf"))  # seen items cannot be recommended
    sc[:, 0] = float("-inf")  # nor the padding item, for every row
    sc.scatter_(1, tgt[:, None], t_score)  # unless it is the target itself
    return single_target_metrics(sc, tgt, ks=(10,), extra_ndcg=(5,), name=name, split=split)

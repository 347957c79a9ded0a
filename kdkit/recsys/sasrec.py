"""SASRec, a causal self-attention sequential recommender (Kang & McAuley, ICDM 2018).

    h⁰_t = E[i_t] + P[t],   h^{l} = Block_l(h^{l−1}) with causal attention,
    score(j | i_1..i_t) = ⟨LayerNorm(h^L_t), E[j]⟩

Trained by full-softmax cross-entropy of the next item at every position (padding ignored);
``forward`` also returns every block's output, which layerwise distillation matches.
``rank_metrics`` scores the last position against all items, with the user's whole history masked:
NDCG@5, NDCG@10, Recall@10 (= HR@10 with one target) and MRR.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class SASRec(nn.Module):
    def __init__(self, n_items: int, dim: int = 64, layers: int = 2, heads: int = 2,
                 max_len: int = 50, dropout: float = 0.2):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.max_len = max_len

    def forward(self, seq: torch.Tensor):
        """(final hidden (B, T, d), [each block's output]) for item ids (B, T), 0 = padding."""
        T = seq.shape[1]
        h = self.drop(self.item(seq) + self.pos(torch.arange(T, device=seq.device)))
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=seq.device), 1)
        hidden = []
        for block in self.blocks:
            h = block(h, src_mask=causal)
            hidden.append(h)
        return self.norm(h), hidden

    def scores(self, final: torch.Tensor) -> torch.Tensor:
        return final @ self.item.weight.T


def next_item_loss(model: SASRec, seq: torch.Tensor):
    """Mean cross-entropy of predicting seq[:, t+1] from seq[:, :t+1], padding ignored;
    returns (loss, logits, hidden)."""
    final, hidden = model(seq[:, :-1])
    logits = model.scores(final)
    target = seq[:, 1:]
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                       ignore_index=0)
    return loss, logits, hidden


@torch.no_grad()
def rank_metrics(model: SASRec, inputs: np.ndarray, targets: np.ndarray,
                 seen: np.ndarray | None = None, batch_size: int = 512) -> dict:
    """Full-ranking metrics of ``targets`` given left-padded ``inputs``; the items in ``seen``
    (default: the inputs; pass the whole history when the inputs are truncated) are masked."""
    model.eval()
    scores = []
    for s in range(0, len(inputs), batch_size):
        final, _ = model(torch.as_tensor(inputs[s:s + batch_size]))
        scores.append(model.scores(final[:, -1]))
    return ranking_metrics(torch.cat(scores), inputs if seen is None else seen, targets)


@torch.no_grad()
def ranking_metrics(scores: torch.Tensor, seen: np.ndarray, targets: np.ndarray) -> dict:
    """NDCG@5, NDCG@10, Recall@10 and MRR of ``targets`` among all items, from ``scores``
    (n, n_items + 1); every item of a row's left-padded history ``seen`` (and the padding id 0)
    is out of the ranking unless it is the target. Ties are counted in the target's favour."""
    sc = scores.clone()
    x, tgt = torch.as_tensor(seen), torch.as_tensor(targets)
    t_score = sc.gather(1, tgt[:, None])
    sc.scatter_(1, x, float("-inf"))  # seen items (and padding 0) cannot be recommended
    sc.scatter_(1, tgt[:, None], t_score)  # unless it is the target itself
    r = (sc > t_score).sum(dim=1).numpy()  # 0 = top
    ndcg = lambda k: float(np.where(r < k, 1 / np.log2(r + 2), 0).mean())  # noqa: E731
    return {"NDCG@5": ndcg(5), "NDCG@10": ndcg(10), "Recall@10": float((r < 10).mean()),
            "MRR": float((1 / (r + 1)).mean())}

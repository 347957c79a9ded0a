"""The transformer student of seed 002 for skeleton sequences, faithful and fixed.

Input: frames flattened to J·3 features (d_model = 60 for 20 joints, as the seed), zero-padded
to the longest sequence. ``nn.TransformerEncoder`` → mean over time → LayerNorm → Dropout →
Linear. The seed's model has no positional encoding and no padding mask, so it is invariant to
frame order and averages the padding in (``faithful=True``); the fixed model adds sinusoidal
positions (Vaswani et al., 2017), a key-padding mask and a masked mean. ``fit_student``
trains it with cross-entropy, the KD loss (``distill.distance_targets.kd_loss``) or KD against
a uniform "teacher" (the label-smoothing control), seeded, shuffled unless faithful.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from ..distill.distance_targets import kd_loss


def pad(seqs, hip: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, T_max, J·3) float32, centred on each sequence's mean hip position, and lengths."""
    lengths = np.array([len(s) for s in seqs])
    J = seqs[0].shape[1]
    out = np.zeros((len(seqs), lengths.max(), J * 3), dtype=np.float32)
    for i, s in enumerate(seqs):
        s = s - s[:, hip].mean(axis=0)
        out[i, :len(s)] = s.reshape(len(s), -1)
    return out, lengths


class MotionTransformer(nn.Module):
    def __init__(self, n_features=60, n_classes=27, nhead=12, layers=6, ff=512, dropout=0.2,
                 faithful=True, max_len=512):
        super().__init__()
        self.faithful = faithful
        layer = nn.TransformerEncoderLayer(n_features, nhead, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(n_features)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(n_features, n_classes)
        pos = torch.arange(max_len)[:, None]
        div = torch.exp(torch.arange(0, n_features, 2) * (-math.log(10000.0) / n_features))
        pe = torch.zeros(max_len, n_features)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : n_features // 2]
        self.register_buffer("pe", pe)

    def forward(self, x, lengths):
        T = x.shape[1]
        valid = torch.arange(T)[None, :] < lengths[:, None]
        if self.faithful:
            h = self.encoder(x).mean(dim=1)
        else:
            h = self.encoder(x + self.pe[:T], src_key_padding_mask=~valid)
            h = (h * valid[..., None]).sum(dim=1) / lengths[:, None]
        return self.head(self.drop(self.norm(h)))


def fit_student(X, lengths, y, *, n_classes, teacher=None, loss="ce", temperature=3.0,
                alpha=0.5, beta=0.5, faithful=False, epochs=60, lr=1e-3, batch_size=16,
                seed=0, arch=None):
    """Train a ``MotionTransformer``; ``loss`` is ce | kd (needs ``teacher`` probabilities) |
    uniform (KD against the uniform distribution: the smoothing control)."""
    if loss not in ("ce", "kd", "uniform"):
        raise ValueError(f"loss must be ce, kd or uniform, got {loss!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = MotionTransformer(X.shape[2], n_classes, faithful=faithful, **(arch or {}))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, L, yt = torch.as_tensor(X), torch.as_tensor(lengths), torch.as_tensor(y)
    if loss == "uniform":
        teacher = np.full((len(y), n_classes), 1.0 / n_classes)
    pt = None if teacher is None else torch.as_tensor(teacher, dtype=torch.float32)
    model.train()
    for _ in range(epochs):
        order = torch.arange(len(x)) if faithful else torch.randperm(len(x), generator=g)
        for idx in order.split(batch_size):
            z = model(x[idx], L[idx])
            if loss == "ce":
                obj = nn.functional.cross_entropy(z, yt[idx])
            else:
                obj = kd_loss(z, yt[idx], pt[idx], temperature, alpha, beta)
            opt.zero_grad()
            obj.backward()
            opt.step()
    model.eval()
    return model


@torch.no_grad()
def predict(model, X, lengths) -> tuple[np.ndarray, float]:
    """Predicted classes and the inference time per sample (ms, one batch)."""
    t0 = time.perf_counter()
    z = model(torch.as_tensor(X), torch.as_tensor(lengths))
    return z.argmax(dim=1).numpy(), (time.perf_counter() - t0) / len(X) * 1e3

"""The transformer student of the geometric_kd source for skeleton sequences, faithful and
fixed.

Input: frames flattened to J·3 features (d_model = 60 for 20 joints, as the source), zero-padded
to the longest sequence. ``nn.TransformerEncoder`` → mean over time → LayerNorm → Dropout →
Linear. The source's model has no positional encoding and no padding mask, so it is invariant
to frame order and averages the padding in (``faithful=True``); the fixed model adds a linear
input embedding (so the coordinates, std ≈ 0.2, are not drowned by the positional codes, std ≈
0.7), sinusoidal positions (Vaswani et al., 2017), a key-padding mask and a masked mean.

``fit_student`` trains it with cross-entropy, the KD loss
(``distill.distance_targets.kd_loss``) or KD against a uniform "teacher" (the label-smoothing
control), seeded, shuffled unless faithful; with ``augment=True`` every batch is turned by a
random rotation about the vertical axis and scaled by a random factor (:func:`random_yaw`), the
nuisances a Procrustes-DTW teacher removes, so the student can learn the same invariance.
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


def random_yaw(x: torch.Tensor, generator: torch.Generator, *, scale=(0.8, 1.25)
               ) -> torch.Tensor:
    """Each sequence of a padded batch (B, T, J·3), hip-centred (``pad``), rotated by a
    uniform angle in [0, 2π) about the vertical (y) axis and scaled by a uniform factor in
    ``scale``; padding (zeros) stays zero, labels and lengths are untouched."""
    B, T, F = x.shape
    angle = torch.rand(B, generator=generator) * 2 * math.pi
    factor = scale[0] + (scale[1] - scale[0]) * torch.rand(B, generator=generator)
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros(B), torch.ones(B)
    rot = torch.stack([torch.stack([c, zero, s], -1), torch.stack([zero, one, zero], -1),
                       torch.stack([-s, zero, c], -1)], 1)  # (B, 3, 3)
    pts = x.reshape(B, T, F // 3, 3)
    out = torch.einsum("btjk,blk->btjl", pts, rot) * factor[:, None, None, None]
    return out.reshape(B, T, F)


class MotionTransformer(nn.Module):
    def __init__(self, n_features=60, n_classes=27, nhead=12, layers=6, ff=512, dropout=0.2,
                 faithful=True, max_len=512):
        super().__init__()
        self.faithful = faithful
        self.embed = None if faithful else nn.Linear(n_features, n_features)
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
        valid = torch.arange(T, device=x.device)[None, :] < lengths[:, None]
        if self.faithful:
            h = self.encoder(x).mean(dim=1)
        else:
            h = self.encoder(self.embed(x) + self.pe[:T], src_key_padding_mask=~valid)
            h = (h * valid[..., None]).sum(dim=1) / lengths[:, None]
        return self.head(self.drop(self.norm(h)))


def fit_student(X, lengths, y, *, n_classes, teacher=None, loss="ce", temperature=3.0,
                alpha=0.5, beta=0.5, faithful=False, epochs=60, lr=1e-3, batch_size=16,
                seed=0, arch=None, augment=False, device="cpu"):
    """Train a ``MotionTransformer``; ``loss`` is ce | kd (needs ``teacher`` probabilities) |
    uniform (KD against the uniform distribution: the smoothing control); ``augment`` adds
    :func:`random_yaw` to every batch."""
    if loss not in ("ce", "kd", "uniform"):
        raise ValueError(f"loss must be ce, kd or uniform, got {loss!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    ga = torch.Generator().manual_seed(seed + 1)
    model = MotionTransformer(X.shape[2], n_classes, faithful=faithful, **(arch or {}))
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, L, yt = torch.as_tensor(X), torch.as_tensor(lengths), torch.as_tensor(y)
    if loss == "uniform":
        teacher = np.full((len(y), n_classes), 1.0 / n_classes)
    pt = None if teacher is None else torch.as_tensor(teacher, dtype=torch.float32)
    model.train()
    for _ in range(epochs):
        order = torch.arange(len(x)) if faithful else torch.randperm(len(x), generator=g)
        for idx in order.split(batch_size):
            xb = random_yaw(x[idx], ga) if augment else x[idx]
            z = model(xb.to(device), L[idx].to(device))
            if loss == "ce":
                obj = nn.functional.cross_entropy(z, yt[idx].to(device))
            else:
                obj = kd_loss(z, yt[idx].to(device), pt[idx].to(device), temperature, alpha,
                              beta)
            if not torch.isfinite(obj):
                raise FloatingPointError(f"motion transformer ({loss}) diverged: loss = "
                                         f"{float(obj)}")
            opt.zero_grad()
            obj.backward()
            opt.step()
    model.eval()
    return model.cpu()


@torch.no_grad()
def predict(model, X, lengths) -> tuple[np.ndarray, float]:
    """Predicted classes and the inference time per sample (ms, one batch, on the CPU)."""
    model = model.cpu().eval()
    t0 = time.perf_counter()
    z = model(torch.as_tensor(X), torch.as_tensor(lengths))
    return z.argmax(dim=1).numpy(), (time.perf_counter() - t0) / len(X) * 1e3

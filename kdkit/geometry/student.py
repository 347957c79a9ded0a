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


def pad(seqs, hip: int = 0, *, view: bool = False, stride: int = 1
        ) -> tuple[np.ndarray, np.ndarray]:
    """(N, T_max, J·3) float32, centred on each sequence's mean hip position, and lengths;
    ``view`` also turns each sequence so its mean hip vector lies on +x and divides it by its
    torso length (:func:`kdkit.data.view_normalisation.view_normalise`, Kinect-v1 joints);
    ``stride`` keeps every stride-th frame (after the normalisation)."""
    from ..data.view_normalisation import view_normalise

    if stride < 1:
        raise ValueError(f"stride must be ≥ 1, got {stride}")
    seqs = [(view_normalise(s) if view else s - s[:, hip].mean(axis=0))[::stride]
            for s in seqs]
    lengths = np.array([len(s) for s in seqs])
    J = seqs[0].shape[1]
    out = np.zeros((len(seqs), lengths.max(), J * 3), dtype=np.float32)
    for i, s in enumerate(seqs):
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


def _setup(X, n_classes, *, loss, faithful, arch, lr, seed, device):
    """A seeded model, its Adam optimiser and the generator of the batch order."""
    if loss not in ("ce", "kd", "uniform"):
        raise ValueError(f"loss must be ce, kd or uniform, got {loss!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = MotionTransformer(X.shape[2], n_classes, faithful=faithful, **(arch or {}))
    model = model.to(device)
    return model, torch.optim.Adam(model.parameters(), lr=lr), g


def _step(opt, obj, what: str) -> None:
    """One gradient step on ``obj``; a NaN or infinite loss raises ``FloatingPointError``."""
    if not torch.isfinite(obj):
        raise FloatingPointError(f"motion transformer ({what}) diverged: loss = {float(obj)}")
    opt.zero_grad()
    obj.backward()
    opt.step()


def fit_student(X, lengths, y, *, n_classes, teacher=None, loss="ce", temperature=3.0,
                alpha=0.5, beta=0.5, faithful=False, epochs=60, lr=1e-3, batch_size=16,
                seed=0, arch=None, augment=False, device="cpu"):
    """Train a ``MotionTransformer``; ``loss`` is ce | kd (needs ``teacher`` probabilities) |
    uniform (KD against the uniform distribution: the smoothing control); ``augment`` adds
    :func:`random_yaw` to every batch."""
    model, opt, g = _setup(X, n_classes, loss=loss, faithful=faithful, arch=arch, lr=lr,
                           seed=seed, device=device)
    ga = torch.Generator().manual_seed(seed + 1)
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
            _step(opt, obj, loss)
    model.eval()
    return model.cpu()


def fit_steps(X, lengths, y, *, n_classes, valid, targets=None, loss="ce",
              temperature=3.0, faithful=False, steps=600, eval_every=50, patience=None,
              lr=1e-3, batch_size=16, seed=0, arch=None, augment=False, device="cpu"):
    """Train a ``MotionTransformer`` for at most ``steps`` gradient steps (the same budget for
    every arm, whatever its number of rows) and keep the checkpoint with the lowest
    cross-entropy on ``valid = (X, lengths, y)``, scored every ``eval_every`` steps (the
    validation loss, not its accuracy: a small validation set reaches 100 % accuracy early and
    then cannot tell checkpoints apart); with ``patience`` training stops after that many scores
    without improvement (early stopping).

    ``loss``: ``ce`` — cross-entropy against per-row target distributions ``targets`` (N, C)
    (one-hot rows for labelled data, a teacher's or the student's probabilities for transfer
    rows; None: one-hot ``y``); ``kd`` / ``uniform`` — the source's loss
    (``distill.distance_targets.kd_loss`` at ``temperature``) against ``targets`` or against the
    uniform distribution. Rows are drawn in epochs (reshuffled unless ``faithful``: the source
    trains unshuffled); ``augment`` turns and scales every batch (:func:`random_yaw`, its own
    seeded generator). Returns (model, its validation accuracy, its validation loss, its
    step)."""
    if steps < 1 or eval_every < 1:
        raise ValueError(f"steps and eval_every must be ≥ 1, got {steps}, {eval_every}")
    import copy

    model, opt, g = _setup(X, n_classes, loss=loss, faithful=faithful, arch=arch, lr=lr,
                           seed=seed, device=device)
    ga = torch.Generator().manual_seed(seed + 1)
    x, L, yt = torch.as_tensor(X), torch.as_tensor(lengths), torch.as_tensor(y)
    if loss == "uniform":
        targets = np.full((len(y), n_classes), 1.0 / n_classes)
    if targets is None:
        targets = np.eye(n_classes)[np.asarray(y)]
    pt = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    xv, Lv, yv = (torch.as_tensor(a) for a in valid)
    best, best_step, state, step, acc = math.inf, 0, None, 0, float("nan")
    while step < steps:
        order = torch.arange(len(x)) if faithful else torch.randperm(len(x), generator=g)
        for idx in order.split(batch_size):
            model.train()
            xb = random_yaw(x[idx], ga) if augment else x[idx]
            z = model(xb.to(device), L[idx].to(device))
            if loss == "ce":
                obj = -(pt[idx].to(device) * nn.functional.log_softmax(z, 1)).sum(1).mean()
            else:
                obj = kd_loss(z, yt[idx].to(device), pt[idx].to(device), temperature)
            _step(opt, obj, f"{loss}, lr {lr:g}")
            step += 1
            if step % eval_every == 0 or step == steps:
                model.eval()
                with torch.no_grad():
                    zv = model(xv.to(device), Lv.to(device)).cpu()
                vloss = float(nn.functional.cross_entropy(zv, yv))
                if vloss < best:
                    best, best_step, state = vloss, step, copy.deepcopy(model.state_dict())
                    acc = float((zv.argmax(1) == yv).float().mean())
                elif patience and step - best_step >= patience * eval_every:
                    steps = step  # early stop
            if step >= steps:
                break
    model.load_state_dict(state)
    model.eval()
    return model.cpu(), acc, best, best_step


@torch.no_grad()
def probabilities(model, X, lengths) -> np.ndarray:
    """Softmax outputs (N, C) of a trained student."""
    model = model.cpu().eval()
    return torch.softmax(model(torch.as_tensor(X), torch.as_tensor(lengths)), 1).numpy()


@torch.no_grad()
def predict(model, X, lengths) -> tuple[np.ndarray, float]:
    """Predicted classes and the inference time per sample (ms, one batch, on the CPU)."""
    model = model.cpu().eval()
    t0 = time.perf_counter()
    z = model(torch.as_tensor(X), torch.as_tensor(lengths))
    return z.argmax(dim=1).numpy(), (time.perf_counter() - t0) / len(X) * 1e3

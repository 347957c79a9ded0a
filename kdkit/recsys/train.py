"""The BPR training loop shared by every recommender study.

One epoch = every training pair once, in a seeded random order, each with a uniform negative;
Adam. The loss defaults to BPR; a distillation study passes its own
``loss_fn(model, users, pos, neg) -> scalar`` (see ``kdkit.distill``). A loss that is an
``nn.Module`` has its parameters trained alongside the model (e.g. HTD's group assignment), and
one with a ``start_epoch(epoch, epochs)`` method is told when each epoch starts (0-based).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .bpr_mf import bpr_loss
from .metrics import evaluate
from .sampling import sample_negatives


def default_loss(model, users, pos, neg):
    return bpr_loss(*model(users, pos, neg))


def train_bpr(model, data, *, epochs: int, lr: float = 1e-3, batch_size: int = 1024,
              weight_decay: float = 0.0, seed: int = 0, loss_fn: Callable | None = None,
              eval_every: int = 0, ks=(10,), progress=None) -> list[dict]:
    """Train ``model`` in place; return one history row per evaluated epoch.

    With ``eval_every > 0`` the model is scored on validation every that many epochs (and the
    last epoch), which is what learning curves plot; test is never touched here.
    """
    loss_fn = loss_fn or default_loss
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    params = list(model.parameters())
    if isinstance(loss_fn, torch.nn.Module):
        params += list(loss_fn.parameters())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    train = data.matrix("train")
    pairs = data.train
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        if hasattr(loss_fn, "start_epoch"):
            loss_fn.start_epoch(epoch - 1, epochs)
        order = rng.permutation(len(pairs))
        neg = sample_negatives(pairs[order, 0], train, rng)[:, 0]
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = slice(start, start + batch_size)
            u = torch.as_tensor(pairs[order[idx], 0])
            i = torch.as_tensor(pairs[order[idx], 1])
            j = torch.as_tensor(neg[idx])
            loss = loss_fn(model, u, i, j)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(u)
        row = {"epoch": epoch, "loss": total / len(pairs)}
        if eval_every and (epoch % eval_every == 0 or epoch == epochs):
            row.update(evaluate(model, data, "valid", ks))
        history.append(row)
        if progress is not None:
            progress(row)
    return history

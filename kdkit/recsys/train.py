"""The mini-batch BPR training loop (Adam) shared by the recommender studies whose losses need
a batch (topology distillation): kdkit's per-sample SGD loop (``recsys.bpr_sgd``) is faster
where a loss decomposes over triples.

One epoch = every training pair once, in a seeded random order, each with a uniform negative;
Adam. The loss defaults to BPR; a distillation study passes its own
``loss_fn(model, users, pos, neg) -> scalar`` (see ``kdkit.distill``). A loss that is an
``nn.Module`` has its parameters trained alongside the model (e.g. HTD's group assignment), and
one with a ``start_epoch(epoch, epochs)`` method is told when each epoch starts (0-based).
Batches go to the model's device. A NaN or infinite loss stops training with an error naming
the model, the epoch and the value.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..early_stopping import EarlyStopping
from .bpr_mf import bpr_loss
from .metrics import evaluate
from .sampling import data_train_bits, sample_negatives


class EpochLog:
    """The end of every epoch in kdkit's BPR training loops: the loss must be finite (else an
    error naming the model, the epoch and the learning rate); every ``eval_every`` epochs (and
    at the last) the model is scored on validation, and with ``patience`` > 0 early stopping
    decides whether to go on (``kdkit.early_stopping``); ``finish`` restores the best weights
    and returns the history, one row per epoch."""

    def __init__(self, model, data, *, name: str, lr: float, epochs: int, eval_every: int,
                 patience: int, ks, metric: str, progress=None, min_epochs: int = 0):
        self.model, self.data, self.name, self.lr, self.epochs = model, data, name, lr, epochs
        self.eval_every, self.ks, self.metric, self.progress = eval_every, ks, metric, progress
        self.stop = EarlyStopping(patience, min_epochs=min_epochs) if patience else None
        self.history: list[dict] = []

    def end(self, epoch: int, loss: float) -> bool:
        """Record epoch ``epoch`` (1-based) with mean ``loss``; True when training should stop."""
        if not np.isfinite(loss):
            raise FloatingPointError(f"{self.name} diverged at epoch {epoch}: loss = {loss}; "
                                     f"lower the learning rate (lr = {self.lr})")
        row = {"epoch": epoch, "loss": loss}
        self.history.append(row)
        if self.eval_every and (epoch % self.eval_every == 0 or epoch == self.epochs):
            row.update(evaluate(self.model, self.data, "valid", self.ks, first_hit=False))
        if self.progress is not None:  # every epoch, the last included
            self.progress(row)
        return (self.stop is not None and self.metric in row
                and self.stop.step(epoch, row[self.metric], self.model))

    def finish(self) -> list[dict]:
        if self.stop is not None:
            self.stop.restore(self.model)
            self.history[-1]["best_epoch"] = self.stop.best_epoch
        return self.history


def default_loss(model, users, pos, neg):
    return bpr_loss(*model(users, pos, neg))


def train_bpr(model, data, *, epochs: int, lr: float = 1e-3, batch_size: int = 1024,
              weight_decay: float = 0.0, seed: int = 0, loss_fn: Callable | None = None,
              eval_every: int = 0, patience: int = 0, ks=(10,), metric: str | None = None,
              progress=None, name: str | None = None, min_epochs: int = 0,
              schedule_epochs: int | None = None) -> list[dict]:
    """Train ``model`` in place; return one history row per epoch.

    With ``eval_every > 0`` the model is scored on validation every that many epochs (and the
    last epoch); with ``patience > 0`` training stops after that many scores without a better
    ``metric`` (default ``Recall@max(ks)``), never before ``min_epochs``, and the best weights
    are restored. A loss's per-epoch schedule (``start_epoch``) runs over ``schedule_epochs``
    (default ``epochs``): a run continued past a fixed protocol keeps that protocol's schedule
    for its first epochs. Test is never touched here.
    """
    loss_fn = loss_fn or default_loss
    metric = metric or f"Recall@{max(ks)}"
    name = name or f"{type(model).__name__} (dim {getattr(model, 'dim', '?')})"
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    params = list(model.parameters())
    if isinstance(loss_fn, torch.nn.Module):
        loss_fn.to(device)
        params += list(loss_fn.parameters())
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    train = data.matrix("train")
    bits = data_train_bits(data)
    pairs = data.train
    log = EpochLog(model, data, name=name, lr=lr, epochs=epochs, eval_every=eval_every,
                   patience=patience, ks=ks, metric=metric, progress=progress,
                   min_epochs=min_epochs)
    for epoch in range(1, epochs + 1):
        model.train()
        if hasattr(loss_fn, "start_epoch"):
            loss_fn.start_epoch(epoch - 1, schedule_epochs or epochs)
        order = rng.permutation(len(pairs))
        neg = sample_negatives(pairs[order, 0], train, rng, bits=bits)[:, 0]
        users = torch.as_tensor(pairs[order, 0], device=device)
        items = torch.as_tensor(pairs[order, 1], device=device)
        negs = torch.as_tensor(neg, device=device)
        total = torch.zeros((), device=device)
        for start in range(0, len(order), batch_size):
            idx = slice(start, start + batch_size)
            loss = loss_fn(model, users[idx], items[idx], negs[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach() * len(users[idx])
        if log.end(epoch, float(total) / len(pairs)):
            break
    return log.finish()

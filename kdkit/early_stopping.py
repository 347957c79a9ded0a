"""Early stopping on a validation score (higher is better).

Training is scored on validation every few epochs; the weights of the best score are kept, and
training stops once the score has not improved by more than ``min_delta`` for ``patience``
evaluations in a row, but never before epoch ``min_epochs`` (a learning curve that sits on a
plateau early, as a sequential recommender's does at the popularity level, is not stopped there).
``restore`` puts the best weights back, so the model that is later scored on test is the one
validation chose. Test data plays no part.
"""

from __future__ import annotations

import copy
import math


class EarlyStopping:
    """``step(epoch, score, model) -> True`` when training should stop."""

    def __init__(self, patience: int = 3, min_delta: float = 0.0, min_epochs: int = 0):
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        self.patience, self.min_delta, self.min_epochs = patience, min_delta, min_epochs
        self.best_score, self.best_epoch, self.best_state = -math.inf, 0, None
        self.bad = 0

    def step(self, epoch: int, score: float, model) -> bool:
        if not math.isfinite(score):
            raise ValueError(f"validation score at epoch {epoch} is {score}; training diverged")
        if score > self.best_score + self.min_delta or self.best_state is None:
            self.best_score, self.best_epoch, self.bad = score, epoch, 0
            self.best_state = copy.deepcopy(_state(model))
            return False
        self.bad += 1
        return self.bad >= self.patience and epoch >= self.min_epochs

    def restore(self, model):
        """Load the best weights into ``model`` (and any extra modules passed as a tuple)."""
        if self.best_state is not None:
            _load(model, self.best_state)
        return model


def _state(model):
    if isinstance(model, (tuple, list)):
        return [m.state_dict() for m in model]
    return model.state_dict()


def _load(model, state):
    if isinstance(model, (tuple, list)):
        for m, s in zip(model, state):
            m.load_state_dict(s)
    else:
        model.load_state_dict(state)

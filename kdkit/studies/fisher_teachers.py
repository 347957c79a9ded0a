"""fisher_layerwise's teachers (:mod:`kdkit.studies.fisher_layerwise`): what a frozen teacher
hands to its students — per-layer states and logits on the training windows
(:class:`TeacherStates`), the SASRec teacher's per-layer diagonal Fisher
(:func:`sasrec_fisher`), and the MiniLM teacher (:class:`MiniLMTeacher`: one encoding of the
split, a trained head per seed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..data.sequences import SequenceData
from ..distill.fisher import layer_fisher
from ..distill.layerwise import LayerwiseKD, layer_map
from ..recsys.lm_teacher import LMRecommender, history_text, load_minilm
from ..recsys.sasrec import SASRec, ranking_metrics

ENDED = "ended at max_epochs"


@dataclass
class TeacherStates:
    """A frozen teacher's outputs on the training windows: per-layer states the student
    layers are matched to (None where no student layer reads that layer) and the last layer
    with the item scoring ``final @ item_weight.T + item_bias``, for an optional logit term.
    (n_windows, T, d) at every input position, or (n_windows, 1, d) at the last position only
    when ``last_only``. Only tensors, so that worker processes can receive it."""
    hidden: list
    final: torch.Tensor
    item_weight: torch.Tensor
    item_bias: torch.Tensor | None = None
    last_only: bool = False

    def score(self, final: torch.Tensor) -> torch.Tensor:
        out = final @ self.item_weight.T
        return out if self.item_bias is None else out + self.item_bias

    def standardized(self) -> TeacherStates:
        """Every layer's states divided by their root mean square over the nonzero (real)
        positions, so that γ has one scale whatever the teacher (SASRec with √d-scaled
        embeddings, a 384-wide MiniLM): the KD term measures direction and relative size."""
        def scale(h):
            if h is None:
                return None
            real = h.abs().sum(-1) > 0
            rms = h[real].square().mean().sqrt().clamp_min(1e-12)
            return h / rms
        return TeacherStates([scale(h) for h in self.hidden], self.final, self.item_weight,
                             self.item_bias, self.last_only)

    def shuffled(self, seed: int, lengths) -> TeacherStates:
        """The control: every window gets the states of another window with the same number
        of real items ``lengths`` (a seeded permutation within each length), keeping their
        distribution and padding and losing what they say about this input."""
        lengths = torch.as_tensor(lengths)
        g = torch.Generator().manual_seed(seed)
        perm = torch.arange(len(lengths))
        for n in torch.unique(lengths):
            idx = (lengths == n).nonzero().flatten()
            perm[idx] = idx[torch.randperm(len(idx), generator=g)]
        return TeacherStates([None if h is None else h[perm] for h in self.hidden],
                             self.final[perm], self.item_weight, self.item_bias, self.last_only)

    def kd_terms(self, kd: LayerwiseKD, idx, seq, hidden, logits) -> torch.Tensor:
        """``kd``'s loss for the batch ``idx`` of windows ``seq`` given the student's outputs."""
        mask = seq[:, :-1] > 0
        if self.last_only:
            hidden, mask = [h[:, -1:] for h in hidden], mask[:, -1:]
            logits = None if logits is None else logits[:, -1:]
        t_hidden = [None if x is None else x[idx] for x in self.hidden]
        t_logits = self.score(self.final[idx]) if kd.logit_weight else None
        return kd(hidden, t_hidden, mask, logits, t_logits)



def fisher_users(data: SequenceData, n_samples: int, seed: int) -> np.ndarray:
    """``n_samples`` users of the select half of validation (the gate half stays unused)."""
    users = data.users("valid")
    rng = np.random.default_rng(seed)
    return rng.choice(users, size=min(n_samples, len(users)), replace=False)


def sasrec_fisher(teacher: SASRec, data: SequenceData, n_samples: int, seed: int,
                  max_len: int = 50) -> np.ndarray:
    """F_l for each teacher block on ``n_samples`` validation users of the select half
    (last-position loss)."""
    inputs = data.inputs("valid", max_len)
    samples = [(torch.as_tensor(inputs[u][None]), int(data.valid_target[u]))
               for u in fisher_users(data, n_samples, seed)]

    def loss(model, s):
        final, _ = model(s[0])
        return F.cross_entropy(model.scores(final[:, -1]), torch.tensor([s[1]]))

    groups = {i: list(b.parameters()) for i, b in enumerate(teacher.blocks)}
    f = layer_fisher(teacher, groups, samples, loss)
    return np.array([f[i] for i in range(len(teacher.blocks))])


@torch.no_grad()
def sasrec_states(teacher: SASRec, inputs: torch.Tensor, layers, batch_size: int = 512):
    """The teacher's block outputs (only ``layers``) and final states on ``inputs``."""
    teacher.eval()
    outs = [teacher(inputs[s:s + batch_size]) for s in range(0, len(inputs), batch_size)]
    hidden = [torch.cat([o[1][i] for o in outs]) if i in layers else None
              for i in range(len(teacher.blocks))]
    return TeacherStates(hidden, torch.cat([o[0] for o in outs]),
                         teacher.item.weight.detach().clone())


class MiniLMTeacher:
    """The pretrained LM teacher (``recsys.lm_teacher``) on this study's inputs. The LM reads
    one text per window, the titles of its last ``window`` input items, and predicts the
    window's last target; its layer states are matched to the student's at that last
    position (an LM gives one user representation per history, not one per position). The
    LM is frozen, so its states are encoded once and shared by every seed; each seed fits its
    own head."""

    def __init__(self, data: SequenceData, rows: torch.Tensor, max_len: int, window: int,
                 progress=print, untrained_seed: int | None = None):
        tokenizer, encoder = load_minilm()
        if untrained_seed is not None:  # the control: the same architecture, never trained
            from transformers import AutoModel

            torch.manual_seed(untrained_seed)
            encoder = AutoModel.from_config(encoder.config).eval()
        self.lm = LMRecommender(tokenizer, encoder, data.n_items)
        self.data, self.window, self.max_len = data, window, max_len
        # every user's validation and test inputs; a split ranks its users' rows (metrics)
        self.eval_texts = {k: [self.text(x) for x in data.inputs(k, max_len)]
                           for k in ("valid", "test")}
        texts = [self.text(x) for x in rows[:, :-1].numpy()]
        if progress:
            progress(f"MiniLM teacher: encoding {len(texts) + 2 * len(data.train)} texts")
        states = self.lm.encode(texts + self.eval_texts["valid"] + self.eval_texts["test"],
                                progress=progress)
        n, u = len(texts), len(data.train)
        self.windows = states[:n]  # (n windows, L + 1, d)
        self.eval_last = {"valid": states[n:n + u, -1], "test": states[n + u:, -1]}
        self.targets = rows[:, -1]

    def text(self, items) -> str:
        return history_text(items, self.data.item_titles, self.window)

    def fit(self, *, epochs: int, lr: float, batch_size: int, seed: int,
            dropout: float = 0.0) -> LMRecommender:
        """The head on the windows' last-layer states; ``dropout`` drops the head's input
        features (the MiniLM teacher's counterpart of the SASRec models' dropout)."""
        feats = self.windows[:, -1]
        if not dropout:
            return self.lm.fit_head(feats, self.targets, epochs=epochs, lr=lr,
                                    batch_size=batch_size, seed=seed)
        head, keep = self.lm.head, 1.0 - dropout
        g = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            head.reset_parameters()
        opt = torch.optim.Adam(head.parameters(), lr=lr)
        for _ in range(epochs):
            for idx in torch.randperm(len(feats), generator=g).split(batch_size):
                x = feats[idx]
                x = x * (torch.rand(x.shape, generator=g) < keep) / keep
                loss = F.cross_entropy(head(x), self.targets[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return self.lm

    @torch.no_grad()
    def metrics(self, split: str) -> dict:
        """Ranking metrics on ``split`` (valid = the select half, gate, valid-all or test)."""
        _, targets, seen = self.data.evaluation(split, self.max_len)
        last = self.eval_last["test" if split == "test" else "valid"]
        return ranking_metrics(self.lm.scores(last[self.data.users(split)]), seen, targets)

    def states(self, layers) -> TeacherStates:
        """Transformer layer i (0-based) is the LM's hidden state i + 1 (0 = embeddings)."""
        hidden = [self.windows[:, i + 1, None] if i in layers else None
                  for i in range(self.lm.n_layers)]
        head = self.lm.head
        return TeacherStates(hidden, self.windows[:, -1, None], head.weight.detach().clone(),
                             head.bias.detach().clone(), last_only=True)

    def fisher(self, n_samples: int, seed: int) -> np.ndarray:
        users = fisher_users(self.data, n_samples, seed)
        samples = [(self.eval_texts["valid"][u], int(self.data.valid_target[u])) for u in users]

        def loss(model, s):
            return F.cross_entropy(model([s[0]]), torch.tensor([s[1]]))

        with self.lm.encoder_gradients():
            f = layer_fisher(self.lm, self.lm.fisher_groups(), samples, loss)
        return np.array(list(f.values()))

    def score_batch(self, batch: int = 256):
        texts = self.eval_texts["test"][:batch]
        return lambda: self.lm(texts), len(texts)

    def trial(self, p: dict, seed: int, dropout: float) -> dict:
        """One point of the teacher's grid: the head of ``seed`` at ``dropout``, fitted for
        ``lm_epochs`` (no early stopping: ``ENDED`` does not apply), scored on validation (the
        select half) only."""
        self.fit(epochs=p["lm_epochs"], lr=p["lr"], batch_size=p["batch_size"], seed=seed,
                 dropout=dropout)
        return {"seed": seed, "dropout": dropout, "epochs": p["lm_epochs"], "curve": [],
                "ran": p["lm_epochs"], ENDED: None, "valid": self.metrics("valid")}

    def teacher(self, p: dict, seed: int, dropout: float) -> dict:
        """The teacher of ``seed`` (its own head, fitted for ``lm_epochs`` at ``dropout``):
        scored on validation, the gate half and test, its Fisher, states and size."""
        out = self.trial(p, seed, dropout)
        mapped = set(layer_map(p["student_layers"], self.lm.n_layers))
        return {**out, "test": self.metrics("test"), "gate": self.metrics("gate"),
                "fisher": self.fisher(p["fisher_samples"], seed), "states": self.states(mapped),
                "size": _size(self.lm, *self.score_batch())}


@torch.no_grad()
def latency_ms(fn, n: int, repeats: int = 3) -> float:
    """Median time per user (ms) of ``fn()``, which scores every item for ``n`` users."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) / n * 1e3)
    return float(np.median(times))


def _size(model, fn, n) -> dict:
    return {"parameters": sum(x.numel() for x in model.parameters()),
            "ms per user": latency_ms(fn, n)}

"""The fisher_layerwise study (source: a WWW 2026 project summary on Fisher-information-driven
layerwise distillation for LLM recommenders).

A teacher is distilled into a narrower SASRec student on next-item prediction (synthetic
latent-trajectory sequences, ``data.synthetic_sequences``; MovieLens-100k; or a data_file;
leave-last-out, full ranking with the history masked, trained on every window of each history)
with the layerwise loss of ``distill.layerwise`` under each weighting scheme of
``distill.layer_weights``. The teacher is a wider SASRec (the params: 4 layers × 64 into a student
of 4 layers × 16, so that every student layer reads its own teacher layer and the Fisher weights
can differ between layers), or the pretrained MiniLM encoder with a linear head
(``recsys.lm_teacher``, the source's "LLM recommender"). Every SASRec trains on the ``loss``
param of ``recsys.sasrec.next_item_loss``: ``softmax``, the cross-entropy over all items (the
default), or ``bce`` with one sampled negative (the SASRec paper's). The Fisher weights come
from the teacher's per-layer diagonal empirical Fisher (``distill.fisher``) on validation samples
of the same task; student layer l is matched to teacher layer m(l).

Protocol, so that every compared arm gets the same chance:

* the validation users are split once into two fixed halves
  (``kdkit.recsys.metrics.validation_halves``, :meth:`SequenceData.users`): the **select** half
  ("validation" below) chooses every checkpoint and hyperparameter; the **gate** half is held
  out for the preconditions. Validation ranking masks only the training items (never the test
  item); test masks the training and validation items;
* every model is trained to **early stopping on validation** NDCG@5 (the best epoch restored;
  never stopped before ``min_epochs``); ``max_epochs`` is a ceiling no run should reach, and
  :func:`schedule_table` counts the runs that went on to it (their best epoch may be a cut-off);
  each seed draws its own same-timestamp order of the histories unless ``data_seed`` fixes it;
* **tuning parity**: every KD arm (each weighting scheme and the control) picks γ from the same
  grid ``gammas`` on the validation split of the first seed; the student alone and the teacher
  get as many trials there, over their dropout (``student_dropouts``: the regulariser the KD
  term competes with; for the MiniLM teacher, dropout on its head's input); the chosen values
  are then used on every seed, and each chosen model is scored on test once;
* the teacher's states are standardised per layer (divided by their RMS over real positions),
  so that γ has one scale whatever the teacher;
* **the control** is the same uniform-weight KD from a teacher that knows nothing of the
  histories: an untrained teacher of the same architecture (``control: untrained``), or the
  real teacher's states of other windows of the same length (``control: shuffled``). A claim
  about how the layers are weighted is judged only when the teacher beats the student alone and
  the real teacher's KD beats the control's, both on the held-out gate half of validation
  (:func:`gates_for`), never on the best point of a validation curve;
* **the setting**: :func:`setting_table` says whether the teacher has something to teach (it
  beats the student alone by ≥ 0.01 NDCG@5 and reaches 1.5× the popularity ranking, issue 22's
  pilot rule); the teacher's Fisher profile describes *this* teacher (descriptive claims), judged
  only when the teacher beats the popularity ranking on the gate half (:func:`popularity_gate`).

The work runs as jobs (``kdkit.jobs``): the teacher's grid on the first seed, then the other
seeds' teachers with every arm's grid on the first seed, then every arm on the other seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ..claims import Claim, Deltas, Gate, paired_claim, size_claim, teacher_gate
from ..data.movielens import load_ml100k
from ..data.sequence_file import load_sequence_file
from ..data.sequences import SequenceData, to_sequences
from ..data.synthetic_sequences import synthetic_sequences
from ..device import resolve
from ..distill.fisher import layer_fisher
from ..distill.layer_weights import SCHEMES, layer_weights
from ..distill.layerwise import LayerwiseKD, layer_map
from ..early_stopping import EarlyStopping
from ..jobs import Job, job_params
from ..params import require, require_data
from ..recsys.lm_teacher import LMRecommender, history_text, load_minilm
from ..recsys.sasrec import LOSSES, SASRec, next_item_loss, rank_metrics, ranking_metrics
from ..stats import paired_test, set_seed
from ..tuning import check_parity, tune

METRIC = "NDCG@5"
ALONE = "student (no KD)"
TEACHERS = ("sasrec", "minilm")
CONTROLS = ("untrained", "shuffled")
SOURCE = ("Fisher-information-driven layerwise distillation for LLM recommenders (a WWW 2026 "
          "project summary)", "")
DEFAULT_LOSS = "softmax"  # for parameter sets written before ``loss`` was a parameter
ENDED = "ended at max_epochs"
DATASETS = ("ml-100k", "synthetic")
# the generator's arguments and the params that set them
SYNTHETIC = {"n_users": "synthetic_users", "n_items": "synthetic_items",
             "length": "synthetic_length", "rank": "synthetic_rank",
             "signal": "synthetic_signal", "memory": "synthetic_memory"}


def control_name(control: str) -> str:
    return f"uniform, {control} teacher"


def check_params(p: dict) -> None:
    bad = sorted(set(p["schemes"]) - set(SCHEMES))
    require(not bad, f"schemes: unknown {bad}; allowed: {', '.join(SCHEMES)}")
    require("uniform" in p["schemes"],
            "schemes must include uniform (the control and the baseline claims use it)")
    require(p["teacher"] in TEACHERS,
            f"teacher: unknown {p['teacher']!r}; allowed: {', '.join(TEACHERS)}")
    require(p["control"] in CONTROLS,
            f"control: unknown {p['control']!r}; allowed: {', '.join(CONTROLS)}")
    loss = p.get("loss", DEFAULT_LOSS)
    require(loss in LOSSES, f"loss: unknown {loss!r}; allowed: {', '.join(LOSSES)}")
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["gammas"] and all(g > 0 for g in p["gammas"]),
            f"gammas must be a non-empty list of positive weights, got {p['gammas']}")
    require(len(p["student_dropouts"]) == len(p["gammas"]),
            f"student_dropouts must have as many values as gammas ({len(p['gammas'])}): the "
            "student alone and the teacher get as many tuning trials as every KD arm")
    require(all(0 <= d < 1 for d in p["student_dropouts"]) and 0 <= p["dropout"] < 1,
            "dropout and student_dropouts must lie in [0, 1)")
    require(0 <= p["min_epochs"] <= p["max_epochs"], "min_epochs must lie in [0, max_epochs]")
    require(0 < p.get("labelled_fraction", 1.0) <= 1,
            f"labelled_fraction must lie in (0, 1], got {p.get('labelled_fraction')}")
    for k in ("max_epochs", "eval_every", "patience", "teacher_layers", "student_layers",
              "teacher_dim", "student_dim", "heads", "max_len", "batch_size", "fisher_samples",
              "lm_window", "lm_epochs", "workers", "threads"):
        require(p[k] >= 1, f"{k} must be at least 1, got {p[k]}")
    teacher_layers = 6 if p["teacher"] == "minilm" else p["teacher_layers"]
    require(p["student_layers"] <= teacher_layers,
            f"student_layers must not exceed the teacher's {teacher_layers} layers")
    for k in ("teacher_dim", "student_dim"):
        require(p[k] % p["heads"] == 0, f"{k} must be divisible by heads ({p['heads']})")
    require(all(b >= 0 for b in p["betas"]) and p["beta"] >= 0, "beta and betas must be ≥ 0")
    other = sorted(set(p.get("delta") or {}) - {METRIC})
    require(not other, f"delta: the claims are judged on {METRIC} only, got {other}")
    dataset = p.get("dataset", "ml-100k")
    require(dataset in DATASETS,
            f"dataset: unknown {dataset!r}; allowed: {', '.join(DATASETS)} (or data_file)")
    if dataset == "synthetic":
        require(p["teacher"] != "minilm", "teacher minilm reads item titles, which the "
                "synthetic sequences do not have; use teacher sasrec with dataset synthetic")
        for k in ("synthetic_users", "synthetic_items", "synthetic_length", "synthetic_rank"):
            require(p[k] >= 1, f"{k} must be at least 1, got {p[k]}")
        require(0 <= p["synthetic_memory"] < 1,
                f"synthetic_memory must lie in [0, 1), got {p['synthetic_memory']}")
    if p.get("data_file") is not None:  # the data contract, checked before a kernel starts
        require(p["teacher"] != "minilm", "teacher minilm reads item titles, which a data_file "
                "does not have; use teacher sasrec with a data_file")
        require_data("data_file", load_file, str(p["data_file"]))


@lru_cache(maxsize=8)
def load(ml100k_path=None, seed: int = 0) -> SequenceData:
    """MovieLens-100k as sequences, same-timestamp interactions in the order of ``seed``."""
    log, titles = load_ml100k(ml100k_path)
    return to_sequences(log, titles, "ml-100k", seed=seed)


@lru_cache(maxsize=8)
def load_synthetic(spec: tuple, seed: int) -> SequenceData:
    """The synthetic sequences of ``seed`` (:mod:`kdkit.data.synthetic_sequences`; ``spec``
    the generator's keyword arguments as a tuple of pairs)."""
    return to_sequences(synthetic_sequences(**dict(spec), seed=seed), name="synthetic")


def synthetic_spec(p: dict) -> tuple:
    """The generator's arguments from the params' ``synthetic_*`` keys."""
    return tuple((k, p[v]) for k, v in SYNTHETIC.items())


def dataset_label(p: dict) -> str:
    """The data set's name in the report's sentences."""
    if p.get("data_file") is not None:
        return f"the sequences of {p['data_file']}"
    if p.get("dataset", "ml-100k") == "synthetic":
        return "synthetic latent-trajectory sequences"
    return "MovieLens-100k"


@lru_cache(maxsize=4)
def load_file(path: str) -> SequenceData:
    """A user's sequences (``user,item,timestamp``; :mod:`kdkit.data.sequence_file`)."""
    return load_sequence_file(path)


def data_for(p: dict, seed: int) -> SequenceData:
    """The sequences of one seed: the user's ``data_file`` (its order is the file's, the same
    for every seed), the synthetic sequences (each seed its own draw) or MovieLens-100k
    (same-timestamp ties in the seed's order); ``data_seed`` fixes the draw or the order."""
    if p.get("data_file") is not None:
        return load_file(str(p["data_file"]))
    if p.get("dataset", "ml-100k") == "synthetic":
        return load_synthetic(synthetic_spec(p), seed if p["data_seed"] is None
                              else p["data_seed"])
    return load(p["ml100k_path"], seed if p["data_seed"] is None else p["data_seed"])


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


def sasrec_scoring(model: SASRec, inputs: np.ndarray, batch: int = 256):
    x = torch.as_tensor(inputs[:batch])

    def fn():
        final, _ = model(x)
        return model.scores(final[:, -1])
    return fn, len(x)



def popularity(data: SequenceData, seen: np.ndarray, targets: np.ndarray) -> dict:
    """The most-popular-item baseline (training counts) under the same protocol, the items
    in ``seen`` masked."""
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in data.train]),
                         minlength=data.n_items + 1).astype(np.float32)
    scores = torch.as_tensor(np.tile(counts, (len(seen), 1)))
    return ranking_metrics(scores, seen, targets)


def schedule(p: dict) -> dict:
    """The training keywords of :func:`train` that every model of a run shares (params)."""
    return {"max_epochs": p["max_epochs"], "eval_every": p["eval_every"],
            "patience": p["patience"], "min_epochs": p["min_epochs"], "lr": p["lr"],
            "batch_size": p["batch_size"], "loss": p.get("loss", DEFAULT_LOSS)}


def ended_at_max(curve, max_epochs: int) -> bool:
    """Whether a run's validation ``curve`` [(epoch, value)] went on to ``max_epochs``: early
    stopping never ended it, so its best epoch may be a cut-off, not a converged model."""
    return bool(curve) and curve[-1][0] >= max_epochs


def train(model: SASRec, rows: torch.Tensor, valid: tuple, *, max_epochs: int, eval_every: int,
          patience: int, lr: float, batch_size: int, seed: int, kd: LayerwiseKD | None = None,
          states: TeacherStates | None = None, name: str = "SASRec", min_epochs: int = 0,
          loss: str = DEFAULT_LOSS, labelled: torch.Tensor | None = None):
    """Adam on the next-item ``loss`` (``recsys.sasrec.next_item_loss``: ``softmax``, the
    cross-entropy over all items, or ``bce`` with one sampled negative) over the windows
    ``rows`` (+ the layerwise KD terms against ``states``) to early stopping on validation
    ``METRIC`` (``valid`` = inputs, targets, seen); the best epoch is restored. ``labelled``
    (a bool per row of ``rows``): only those rows' next items are learned from, every row's
    inputs feed the KD terms (a transfer set). Returns (validation curve [(epoch, value)], best
    epoch)."""
    set_seed(seed)
    device = next(model.parameters()).device
    params = list(model.parameters()) + ([] if kd is None else list(kd.parameters()))
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    stop, curve = EarlyStopping(patience, min_epochs=min_epochs), []
    for epoch in range(1, max_epochs + 1):
        model.train()
        total = torch.zeros(())
        for idx in torch.randperm(len(rows), generator=g).split(batch_size):
            seq = rows[idx].to(device)
            value, logits, hidden = next_item_loss(
                model, seq, loss=loss, generator=g,
                full_logits=kd is not None and bool(kd.logit_weight),
                labelled=None if labelled is None else labelled[idx])
            if kd is not None:
                value = value + states.kd_terms(kd, idx, seq, hidden, logits)
            opt.zero_grad()
            value.backward()
            opt.step()
            total += value.detach().cpu()
        if not torch.isfinite(total):
            raise FloatingPointError(f"{name} diverged at epoch {epoch}: loss = {float(total)}")
        if epoch % eval_every == 0 or epoch == max_epochs:
            v = rank_metrics(model, *valid, name=name)[METRIC]
            curve.append((epoch, v))
            if stop.step(epoch, v, (model,) if kd is None else (model, kd)):
                break
    stop.restore((model,) if kd is None else (model, kd))
    model.eval()
    return curve, stop.best_epoch


def _setup(p: dict, seed: int, dim: int, layers: int, dropout: float):
    """What every job starts with: the seed's data, training windows, validation (the select
    half) and test (inputs, targets, seen), and a SASRec of ``dim`` × ``layers`` initialised
    from ``seed``."""
    data = data_for(p, seed)
    rows = torch.as_tensor(data.windows(p["max_len"]))
    torch.manual_seed(seed)
    model = SASRec(data.n_items, dim, layers, p["heads"], p["max_len"], dropout)
    return (data, rows, data.evaluation("valid", p["max_len"]),
            data.evaluation("test", p["max_len"]), model.to(resolve(p["device"])))


def choose(trials: list[dict]) -> int:
    """The index of the grid point with the best validation ``METRIC`` (ties: the earlier
    point; a diverged point is never chosen), as ``kdkit.tuning.tune`` chooses."""
    scores = [t["valid"][METRIC] for t in trials]
    ok = [i for i, v in enumerate(scores) if np.isfinite(v)]
    if not ok:
        raise FloatingPointError(f"every grid point diverged ({trials[0].get('diverged')})")
    return max(ok, key=lambda i: (scores[i], -i))


def student_labels(p: dict, data: SequenceData, seed: int) -> torch.Tensor | None:
    """Which training windows' next items a student learns from: all (None) unless
    ``labelled_fraction`` < 1, then the windows of that share of the users, drawn from
    ``seed`` (``SequenceData.labelled``); the teacher always learns from every window."""
    fraction = p.get("labelled_fraction", 1.0)
    if fraction >= 1:
        return None
    return torch.as_tensor(data.labelled(p["max_len"], fraction, seed))


def teacher_trial(p: dict, seed: int, dropout: float) -> dict:
    """One point of the SASRec teacher's dropout grid: trained to early stopping on validation
    (the select half); its curve, epoch, validation metrics and the model — not scored on the
    gate half or test (:func:`teacher_finish` scores the chosen one)."""
    data, rows, valid, _, teacher = _setup(p, seed, p["teacher_dim"], p["teacher_layers"],
                                           dropout)
    name = f"SASRec teacher, seed {seed}, dropout {dropout}"
    try:
        curve, best = train(teacher, rows, valid, seed=seed, name=name, **schedule(p))
    except FloatingPointError as e:
        return {"seed": seed, "dropout": dropout, "curve": [], "epochs": None, "ran": None,
                ENDED: False, "valid": {METRIC: float("nan")}, "model": None,
                "diverged": str(e)}
    teacher = teacher.cpu()
    return {"seed": seed, "dropout": dropout, "curve": curve, "epochs": best,
            "ran": curve[-1][0], ENDED: ended_at_max(curve, p["max_epochs"]),
            "valid": rank_metrics(teacher, *valid, name=name), "model": teacher}


def teacher_finish(p: dict, trial: dict) -> dict:
    """The chosen teacher of a seed (a :func:`teacher_trial`): scored once on the held-out
    gate half of validation and on test; its per-block Fisher, size and latency."""
    seed, teacher = trial["seed"], trial["model"]
    data = data_for(p, seed)
    test = data.evaluation("test", p["max_len"])
    return {**trial, "test": rank_metrics(teacher, *test, name="SASRec teacher"),
            "gate": rank_metrics(teacher, *data.evaluation("gate", p["max_len"]),
                                 name="SASRec teacher"),
            "fisher": sasrec_fisher(teacher, data, p["fisher_samples"], seed, p["max_len"]),
            "size": _size(teacher, *sasrec_scoring(teacher, test[0]))}


def teacher_job(p: dict, seed: int, dropout: float | None = None) -> dict:
    """A SASRec teacher on one seed at ``dropout`` (default: the params' ``dropout``): trained
    to early stopping; its validation, gate-half and test metrics, curve, per-block Fisher,
    size and latency, and the model."""
    t = teacher_trial(p, seed, p["dropout"] if dropout is None else dropout)
    if "diverged" in t:
        raise FloatingPointError(t["diverged"])
    return teacher_finish(p, t)


def control_teacher(p: dict, seed: int) -> SASRec:
    """The untrained control: a teacher of the same architecture, initialised but never
    trained (it knows nothing of the histories)."""
    data = data_for(p, seed)
    torch.manual_seed(seed + 104729)
    return SASRec(data.n_items, p["teacher_dim"], p["teacher_layers"], p["heads"],
                  p["max_len"], p["dropout"]).eval()


def states_for(p: dict, seed: int, teacher, arm: str) -> TeacherStates:
    """The KD targets of ``arm``: the real teacher's, or the control's."""
    data = data_for(p, seed)
    rows = torch.as_tensor(data.windows(p["max_len"]))
    mapped = set(layer_map(p["student_layers"], p["teacher_layers"]))
    if isinstance(teacher, TeacherStates):  # a MiniLM teacher's precomputed states
        states = teacher
    else:
        src = control_teacher(p, seed) if arm == control_name("untrained") else teacher
        states = sasrec_states(src, rows[:, :-1], mapped)
    if arm == control_name("shuffled"):
        states = states.shuffled(seed, (rows[:, :-1] > 0).sum(1))
    return states.standardized()


def arm_job(p: dict, seed: int, arm: str, teacher=None, fisher=None, gammas=None,
            dropouts=None, betas=(), dropout=None) -> dict:
    """One arm on one seed: its grid (γ for a KD arm, dropout for the student alone; the
    params' grid unless ``gammas``/``dropouts`` give the chosen value) trained to early
    stopping, the best on validation (the select half) scored once on the held-out gate half
    and on test. A KD arm's student trains at ``dropout`` (the student alone's choice, so KD
    and no KD differ only in the KD term; default the params' ``dropout``). ``betas`` adds a
    β sweep of fisher_semantic at the chosen γ (validation only)."""
    L_S = p["student_layers"]
    kd_arm = arm != ALONE
    grid = {"gamma": gammas or p["gammas"]} if kd_arm else \
        {"dropout": dropouts or p["student_dropouts"]}
    states = states_for(p, seed, teacher, arm) if kd_arm else None
    scheme = "uniform" if arm.startswith("uniform,") else arm

    kd_dropout = p["dropout"] if dropout is None else dropout

    def fit(config, beta=p["beta"]):
        data, rows, valid, _, model = _setup(p, seed, p["student_dim"], L_S,
                                             config.get("dropout", kd_dropout))
        kd = None
        if kd_arm:
            w = layer_weights(scheme, L_S, fisher=fisher, beta=beta)
            mapped = next(h for h in states.hidden if h is not None)
            kd = LayerwiseKD(p["student_dim"], mapped.shape[-1], w, len(states.hidden),
                             gamma=config["gamma"], logit_weight=p["logit_weight"])
            kd = kd.to(next(model.parameters()).device)
        curve, best = train(model, rows, valid, seed=seed, kd=kd, states=states,
                            name=f"{arm} student, seed {seed}",
                            labelled=student_labels(p, data, seed), **schedule(p))
        model = model.cpu()
        return model, max(v for _, v in curve), {
            "epochs": best, "curve": curve, "ran": curve[-1][0],
            ENDED: ended_at_max(curve, p["max_epochs"])}

    def score_test(model):
        test = data_for(p, seed).evaluation("test", p["max_len"])
        return rank_metrics(model, *test, name=f"{arm} student")

    t = tune(arm, seed, grid, fit, score_test, keep_model=True)
    chosen = next(tr for tr in t.trials if tr["config"] == t.chosen)
    data = data_for(p, seed)
    valid, test, gate = (data.evaluation(split, p["max_len"])
                         for split in ("valid", "test", "gate"))
    out = {"seed": seed, "model": arm, "dropout": kd_dropout, **t.chosen,
           "epochs": chosen["epochs"],
           "ran": chosen["ran"], ENDED: chosen[ENDED],
           "curve": chosen["curve"], "test": t.test, "valid": rank_metrics(t.model, *valid),
           "gate": rank_metrics(t.model, *gate, name=f"{arm} student"),
           "trials": [{"seed": seed, "model": arm, **tr["config"],
                       f"validation {METRIC}": tr["valid"], "epochs": tr.get("epochs"),
                       "ran": tr.get("ran"), ENDED: tr.get(ENDED, False),
                       "chosen": tr["config"] == t.chosen} for tr in t.trials],
           "weights": None if not kd_arm else np.round(
               layer_weights(scheme, L_S, fisher=fisher, beta=p["beta"]), 3).tolist()}
    first = p["first_seed"] if "first_seed" in p else p["seeds"][0]  # job_params or not
    if not kd_arm and seed == first:
        out["size"] = _size(t.model, *sasrec_scoring(t.model, test[0]))
    out["betas"] = [{"beta": b, f"validation {METRIC}": fit(t.chosen, beta=b)[1]}
                    for b in betas]
    return out


def run(p: dict, runner, progress=print) -> dict:
    """The teacher's dropout grid on the first seed, then the other seeds' teachers at the
    chosen dropout and every arm's grid on the first seed (γ, or the student alone's dropout),
    chosen on validation (the select half); the chosen values are then used on every other seed
    (module docstring). Returns a dict of tables: results, trials, fishers, curves, betas,
    weights, sizes, popularity."""
    say = progress or (lambda msg: None)
    seeds, L_S = p["seeds"], p["student_layers"]
    p = job_params(p)  # the jobs' argument: a later look's seeds leave their keys unchanged
    control = control_name(p["control"])
    arms = [ALONE, *p["schemes"], control]
    check_parity({"teacher": {"dropout": p["student_dropouts"]},
                  **{a: {"gamma": p["gammas"]} if a != ALONE else
                     {"dropout": p["student_dropouts"]} for a in arms}})

    def job(t, arm, grid=None, betas=(), dropout=None):
        src = t.get("states") or t.get("model")
        if arm == control and "control_states" in t:
            src = t["control_states"]
        f_s = t["fisher"][layer_map(L_S, len(t["fisher"]))]
        kw = {"teacher": src, "fisher": f_s, "betas": betas}
        if grid is not None:
            kw["gammas" if arm != ALONE else "dropouts"] = grid
        if arm != ALONE:
            kw["dropout"] = dropout
        return Job(arm_job, (p, t["seed"], arm), kw, name=f"{arm} seed {t['seed']}")

    def kd_grid_jobs(first, dropout):
        return [job(first, arm, betas=p["betas"] if arm == "fisher_semantic" else (),
                    dropout=dropout) for arm in arms[1:]]

    # the student alone's dropout grid first: every KD arm trains at its choice
    s0 = seeds[0]
    if p["teacher"] == "minilm":
        teachers, t_trials = minilm_teachers(p, seeds, progress)
        say(f"teacher dropout chosen on validation: {teachers[0]['dropout']}")
        alone = runner.run([job(teachers[0], ALONE)], f"the student alone's grid on seed {s0}")
    else:
        t_trials = runner.run([Job(teacher_trial, (p, s0, d), name=f"teacher seed {s0}, "
                                   f"dropout {d}") for d in p["student_dropouts"]],
                              f"the teacher's grid on seed {s0}")
        k = choose(t_trials)
        d = t_trials[k]["dropout"]
        say(f"teacher dropout chosen on validation: {d}")
        first = teacher_finish(p, t_trials[k])
        both = runner.run([Job(teacher_job, (p, s, d), name=f"teacher seed {s}")
                           for s in seeds[1:]] + [job(first, ALONE)],
                          f"the other teachers and the student alone's grid on seed {s0}")
        teachers, alone = [first, *both[:len(seeds) - 1]], both[len(seeds) - 1:]
    say("teachers, test " + METRIC + ": " + ", ".join(f"seed {t['seed']} {t['test'][METRIC]:.4f}"
                                                      for t in teachers))
    student_dropout = alone[0]["dropout"]
    say(f"student dropout chosen on validation: {student_dropout} (every KD arm's)")
    tuned = alone + runner.run(kd_grid_jobs(teachers[0], student_dropout),
                               f"every KD arm's γ grid on seed {s0}")
    chosen = {r["model"]: [r["gamma"]] if r["model"] != ALONE else [r["dropout"]]
              for r in tuned}
    say("chosen on validation: " + ", ".join(f"{k} {v[0]}" for k, v in chosen.items()))
    done = tuned + runner.run([job(t, arm, chosen[arm], dropout=student_dropout)
                               for t in teachers[1:] for arm in arms],
                              "every arm on the other seeds")
    results = [{"seed": r["seed"], "model": model, "gamma": r.get("gamma"),
                "dropout": r.get("dropout"), "epochs": r["epochs"], "ran": r["ran"],
                ENDED: r[ENDED], "valid " + METRIC: r["valid"][METRIC],
                "gate " + METRIC: r["gate"][METRIC], **r["test"]}
               for model, r in [*(("teacher", t) for t in teachers),
                                *((r["model"], r) for r in done)]]
    curves = [{"seed": t["seed"], "model": "teacher", "epoch": e, METRIC: v}
              for t in teachers for e, v in t["curve"]]
    curves += [{"seed": r["seed"], "model": r["model"], "epoch": e, METRIC: v}
               for r in done for e, v in r["curve"]]
    trials = [{"seed": t["seed"], "model": "teacher", "dropout": t["dropout"],
               f"validation {METRIC}": t["valid"][METRIC], "epochs": t["epochs"],
               "ran": t["ran"], ENDED: t[ENDED], "chosen": i == choose(t_trials)}
              for i, t in enumerate(t_trials)]
    trials += [tr for r in tuned for tr in r["trials"]]
    student_size = next(r["size"] for r in done if "size" in r)
    results, trials = pd.DataFrame(results), pd.DataFrame(trials)
    # every training run: the first seed's grids, then one run per model on the other seeds
    runs = pd.concat([trials, results[results["seed"] != s0]], ignore_index=True)
    return {
        "results": results,
        "trials": trials,
        "schedule": schedule_table(runs, p["max_epochs"]),
        "fishers": pd.DataFrame([{"seed": t["seed"], **{f"layer {i + 1}": v for i, v in
                                                       enumerate(t["fisher"])}}
                                 for t in teachers]),
        "curves": pd.DataFrame(curves),
        "betas": pd.DataFrame([{"seed": r["seed"], **b} for r in done for b in r["betas"]]),
        "weights": pd.DataFrame([{"seed": r["seed"], "scheme": r["model"],
                                  **{f"student layer {i + 1}": w
                                     for i, w in enumerate(r["weights"])}}
                                 for r in done if r["weights"] is not None]),
        "sizes": pd.DataFrame([{"model": "teacher", **teachers[0]["size"]},
                               {"model": "student", **student_size}]),
        "popularity": popularity_table(p, seeds),
    }


def popularity_table(p: dict, seeds) -> pd.DataFrame:
    """The popularity floor of every seed's data on the held-out gate half of validation and
    on test (one row per seed and split)."""
    rows = []
    for s in seeds:
        data = data_for(p, s)
        for split in ("gate", "test"):
            _, targets, seen = data.evaluation(split, p["max_len"])
            rows.append({"seed": s, "split": split, **popularity(data, seen, targets)})
    return pd.DataFrame(rows)


def schedule_table(runs: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """Per model, over every training run (``runs``: one row per run with its best epoch
    ``epochs``, the epoch it stopped at ``ran`` and :data:`ENDED`): how many runs there were,
    how many early stopping never ended (they went on to ``max_epochs``: the schedule, not
    validation, ended them), and the best and stopping epochs. A run without early stopping
    (the MiniLM teacher's head: ``ENDED`` None) counts in neither."""
    def count(col):
        return int((col == True).sum())  # noqa: E712 (None: no early stopping)

    g = runs.groupby("model", sort=False)
    out = g.agg(runs=("epochs", "size"), best_median=("epochs", "median"),
                best_max=("epochs", "max"), ran_max=("ran", "max")).reset_index()
    out.insert(2, ENDED, g[ENDED].apply(count).to_numpy())
    out["max_epochs"] = max_epochs
    return out.rename(columns={"best_median": "best epoch (median)",
                               "best_max": "best epoch (max)", "ran_max": "stopped at (max)"})


def _size(model, fn, n) -> dict:
    return {"parameters": sum(x.numel() for x in model.parameters()),
            "ms per user": latency_ms(fn, n)}


def minilm_teachers(p: dict, seeds, progress=print) -> tuple[list[dict], list[dict]]:
    """The MiniLM teacher on each seed (one encoding of the fixed split, a head per seed) at
    the head dropout chosen from ``student_dropouts`` on the first seed's validation, with the
    control's states when the control is an untrained encoder; and the grid's trials."""
    data = data_for(p, seeds[0])
    rows = torch.as_tensor(data.windows(p["max_len"]))
    lm = MiniLMTeacher(data, rows, p["max_len"], p["lm_window"], progress)
    trials = [lm.trial(p, seeds[0], d) for d in p["student_dropouts"]]
    dropout = trials[choose(trials)]["dropout"]
    untrained = None
    if p["control"] == "untrained":
        untrained = MiniLMTeacher(data, rows, p["max_len"], p["lm_window"], progress,
                                  untrained_seed=104729)
    out = []
    for seed in seeds:
        t = lm.teacher(p, seed, dropout)
        if untrained is not None:
            t["control_states"] = untrained.states(set(layer_map(p["student_layers"], 6)))
        out.append(t)
    return out, trials


SOURCE_GAIN = 0.779 / 0.721 - 1  # the source's NDCG@5 of Fisher over uniform weights (+8 %)
SOURCE_UPPER = 50.0  # "upper layers weighted up to 50x": its depth formula's clip range [0.1, 5]
MIN_GAP, MIN_RATIO = 0.01, 1.5  # a setting where the teacher teaches (:func:`teacher_teaches`)


def _differs(teacher: str, teacher_layers: int, dataset: str = "MovieLens-100k") -> str:
    """How our setting differs from the source's, for its size claims."""
    what = "a frozen MiniLM with a linear head" if teacher == "minilm" else \
        f"a {teacher_layers}-layer SASRec"
    return ("the source's numbers are hard-coded in its code and concern a Llama3 teacher on "
            f"Amazon product reviews; here {dataset} next-item prediction, {what} as "
            "teacher and a narrower SASRec student")


def teacher_teaches(teacher: float, alone: float, popular: float, *, min_gap: float = MIN_GAP,
                    min_ratio: float = MIN_RATIO) -> bool:
    """The setting check (issue 22's pilot rule) on one split's mean ``METRIC``: the teacher
    beats the student alone by at least ``min_gap`` and reaches ``min_ratio`` × the popularity
    ranking. Below it a KD comparison mostly measures noise: there is little to transfer."""
    return teacher - alone >= min_gap and teacher >= min_ratio * popular


def setting_table(res: pd.DataFrame, popular: pd.DataFrame) -> pd.DataFrame:
    """:func:`teacher_teaches` on the held-out gate half of validation and on test (means over
    seeds): teacher, student alone, popularity, the gap and the ratio. Descriptive: the claims'
    gates are the paired tests of :func:`gates_for` and :func:`popularity_gate`."""
    rows = []
    for split, col in (("gate", "gate " + METRIC), ("test", METRIC)):
        m = res.groupby("model")[col].mean()
        pop = float(popular.loc[popular["split"] == split, METRIC].mean())
        t, a = float(m.get("teacher", np.nan)), float(m.get(ALONE, np.nan))
        rows.append({"split": "held-out validation (gate half)" if split == "gate" else split,
                     "teacher": t, ALONE: a, "popularity": pop, "teacher − alone": t - a,
                     "teacher / popularity": t / pop,
                     f"teacher teaches (gap ≥ {MIN_GAP}, ≥ {MIN_RATIO}× popularity)":
                         teacher_teaches(t, a, pop)})
    return pd.DataFrame(rows)


def popularity_gate(res: pd.DataFrame, popular: pd.DataFrame | None) -> Gate:
    """The precondition of the claims about the teacher's Fisher: the teacher beats the
    popularity ranking on the held-out gate half of validation (paired over seeds). The Fisher
    of a teacher at the popularity level describes a model that learned no order."""
    if popular is None or not len(popular):
        return Gate(False, "no popularity baseline was given: the teacher's Fisher is not "
                    "judged")
    v = _pivot(res, "gate " + METRIC)
    pop = popular[popular["split"] == "gate"].set_index("seed")[METRIC]
    if "teacher" not in v:
        return Gate(False, "no teacher row")
    return teacher_gate(v["teacher"], pop.loc[v.index], metric=METRIC,
                        than="the most-popular-items ranking")


def _pivot(res: pd.DataFrame, values: str = METRIC) -> pd.DataFrame:
    return res.pivot_table(index="seed", columns="model", values=values)


def _paired(res, a, b, text, source_value="", note="", gates=(), *, key, delta=None,
            delta_why=""):
    """"a beats b" on test ``METRIC`` (paired over seeds), or None when an arm did not run."""
    piv = _pivot(res)
    if a not in piv or b not in piv:
        return None
    return paired_claim(piv[a], piv[b], ">", text, source_value, note, key=key, delta=delta,
                        delta_why=delta_why, relative=True, gates=gates)


def gates_for(res: pd.DataFrame, control: str) -> tuple:
    """The preconditions, on the held-out gate half of validation (``gate NDCG@5``: data that
    chose neither checkpoint nor hyperparameters of any model, unlike ``valid NDCG@5``, the
    best point of each early-stopping curve): the teacher beats the student alone; the real
    teacher's uniform KD beats the same KD from the control teacher."""
    v = _pivot(res, "gate " + METRIC)
    teach = teacher_gate(v["teacher"], v[ALONE], metric=METRIC) if "teacher" in v else None
    ctrl = teacher_gate(v["uniform"], v[control], metric=METRIC,
                        what="the real teacher's KD (uniform)",
                        than=f"the same KD from the {control.split(', ')[1]}") \
        if control in v and "uniform" in v else None
    sound = control_soundness(res, control)
    if ctrl is not None and sound is not None and not sound.ok:
        # beating a control that breaks the student says nothing about the teacher
        ctrl = Gate(False, sound.reason + "; beating it cannot show that the real teacher's "
                    "KD carries what the teacher knows")
    return teach, ctrl


def control_soundness(res: pd.DataFrame, name: str) -> Gate | None:
    """Whether the control is sound: it must not itself hurt the student (significantly below
    the student alone on the held-out gate half of validation); None with fewer than 2
    seeds."""
    piv = _pivot(res, "gate " + METRIC)
    if name not in piv or ALONE not in piv or len(piv) < 2:
        return None
    d = paired_test(piv[name], piv[ALONE])
    hurts = d.mean_diff < 0 and d.p_value < 0.05
    diff = f"held-out validation {d.mean_diff:+.4f}, p = {d.p_value:.3g}"
    return Gate(not hurts, f"the control itself hurts the student ({diff}), so it does not "
                "isolate what the teacher knows" if hurts else
                f"the control does not hurt the student alone ({diff})", "inconclusive")


def claims(res: pd.DataFrame, fishers: pd.DataFrame, sizes: pd.DataFrame,
           teacher: str = "sasrec", control: str = "untrained",
           delta: dict | None = None, popular: pd.DataFrame | None = None,
           dataset: str = "MovieLens-100k") -> list[Claim]:
    """The claims table: direction claims on test ``METRIC`` with the study's δ (``delta``,
    the ``delta`` param), the source's sizes as separate size claims (not testable: our
    setting is not the source's), this teacher's Fisher profile (descriptive, judged only
    when the teacher beats the popularity ranking ``popular``, :func:`popularity_table`), and
    the speed and size rows (descriptive: set by the chosen model sizes)."""
    name = control_name(control)
    teach, ctrl = gates_for(res, name)
    both = [g for g in (teach, ctrl) if g is not None]
    dk = Deltas(delta).kwargs(METRIC)
    differs = _differs(teacher, len([c for c in fishers.columns if c.startswith("layer")]),
                       dataset)
    source = "NDCG@5 0.779 vs 0.721 (hard-coded in the source's code)"
    out = [
        _paired(res, "fisher", "uniform",
                "Fisher-weighted layerwise KD beats uniform weights (test NDCG@5)", source,
                gates=both, key="fisher>uniform", **dk),
        _size_row(res, "fisher", "uniform", "Fisher weights beat uniform ones by the source's "
                  "+8 % NDCG@5", SOURCE_GAIN, differs=differs,
                  source_value=f"{SOURCE_GAIN:+.1%} (0.779 vs 0.721)", key="fisher>uniform:+8%"),
        _paired(res, "fisher", "linear", "Fisher weights beat linear-in-depth weights",
                gates=both, key="fisher>linear", **dk),
        _paired(res, "fisher", "exponential", "Fisher weights beat exponential-in-depth weights",
                gates=both, key="fisher>exponential", **dk),
        _paired(res, "seed_heuristic", "uniform",
                "The source's default 'Fisher' weights (a depth formula) beat uniform",
                source, gates=both, key="heuristic>uniform", **dk),
        _paired(res, "fisher_semantic", "fisher",
                "The semantic boost (1 + β·depth) adds to Fisher weights", gates=both,
                key="semantic>fisher", **dk),
        _paired(res, "uniform", ALONE, "Layerwise KD (uniform weights) improves the student",
                gates=[teach] if teach else (), key="kd>alone", **dk),
        _paired(res, "teacher", ALONE, "The teacher beats the student alone (test NDCG@5)",
                "implied: the teacher is what is compressed", key="teacher>alone", **dk),
        _control_claim(res, name, teach, dk),
    ]
    out += _fisher_claims(fishers, teacher, popularity_gate(res, popular))
    t, s = sizes.set_index("model").loc["teacher"], sizes.set_index("model").loc["student"]
    out.append(Claim("3.2x faster inference", "3.2 (hard-coded when the method name contains "
                     "'fisher')", float(t["ms per user"] / s["ms per user"]), None, None,
                     "not testable", "measured speed-up of our student over our teacher; it "
                     "depends on the chosen sizes, not on the weighting", id="speedup",
                     family="descriptive"))
    out.append(Claim("90 % smaller model", "90 %", float(1 - s["parameters"] / t["parameters"]),
                     None, None, "not testable",
                     "measured size reduction of our student; set by the chosen sizes",
                     id="smaller", family="descriptive"))
    return [c for c in out if c is not None]


def _size_row(res, a, b, text, claimed_rel, *, differs, source_value, key) -> Claim | None:
    piv = _pivot(res)
    if a not in piv or b not in piv:
        return None
    return size_claim(piv[a], piv[b], text, claimed_rel, differs=differs,
                      source_value=source_value, key=key)


def _fisher_claims(fishers: pd.DataFrame, teacher: str, gate: Gate) -> list[Claim]:
    """What the teacher's diagonal empirical Fisher says about *this* teacher's layers
    (descriptive: a measurement of our teacher, not a test of the source's claim, which
    concerns a Llama3 teacher and whose numbers are a depth formula's).

    * ``upper>lower``: the Fisher mass of the upper half of the layers over the lower half's,
      Σ_{l > L/2} F_l / Σ_{l ≤ L/2} F_l, per seed; a paired test of its log against 0, shown as
      the geometric mean over seeds. Judged only when the teacher beats the popularity ranking
      on held-out validation (``gate``, :func:`popularity_gate`).
    * ``upper>lower:50x``: the source's "up to 50x" beside the spread of this teacher's
      per-layer Fisher mass, max_l F_l / min_l F_l (geometric mean over seeds): the spread the
      Fisher weights inherit (they are ∝ F_l). Not testable: the source's 50x is the clip range
      [0.1, 5] of a depth formula (``layer_weights.seed_heuristic``, 12 layers in its code),
      not a measured Fisher ratio."""
    from ..stats import mean_ci

    layers = [c for c in fishers.columns if c.startswith("layer")]
    Fm = fishers[layers].to_numpy(dtype=float)
    half = len(layers) // 2
    upper, lower = Fm[:, half:].sum(1), Fm[:, :half].sum(1)
    ratio = np.log(upper / lower)
    who = f"the {teacher} teacher ({len(layers)} layers)"
    caveat = ("; the encoder is frozen and its head reads the last layer only"
              if teacher == "minilm" else "")
    c = paired_claim(ratio, np.zeros_like(ratio), ">",
                     f"In {who}, the upper half of the layers holds more Fisher mass than the "
                     "lower half (summed diagonal Fisher, upper over lower)",
                     "upper layers (abstract reasoning) weighted most",
                     "descriptive: measures this teacher, not the source's model; the ratio's "
                     f"geometric mean over seeds{caveat}", key="upper>lower",
                     family="descriptive", gates=[gate])
    c = replace(c, measured=float(np.exp(c.measured)),
                ci_low=None if c.ci_low is None else float(np.exp(c.ci_low)),
                ci_high=None if c.ci_high is None else float(np.exp(c.ci_high)))
    spread = mean_ci(np.log(Fm.max(1) / Fm.min(1)))
    lo, hi = (None, None) if spread.n < 2 else (float(np.exp(spread.ci_low)),
                                                 float(np.exp(spread.ci_high)))
    size = Claim(f"Upper layers up to 50x the lower ones (here: the largest over the smallest "
                 f"per-layer Fisher mass of {who})", "up to 50x (the clip range [0.1, 5] of "
                 "a 12-layer depth formula in its code)", float(np.exp(spread.mean)), lo, hi,
                 "not testable", "not testable here: the source's 50x is not a measured "
                 "Fisher ratio; ours is the measured spread of this teacher's per-layer Fisher "
                 "(geometric mean over seeds), the spread its Fisher weights inherit",
                 id="upper>lower:50x", family="descriptive")
    return [c, size]


def _control_claim(res: pd.DataFrame, name: str, teach, dk: dict | None = None
                   ) -> Claim | None:
    """Real teacher vs the control. The control isolates the teacher's information only if it
    does not itself hurt the student: when it is significantly below the student alone on the
    held-out gate half of validation, the claim is not judged."""
    gates = [teach] if teach is not None else []
    sound = control_soundness(res, name)
    if sound is not None:
        gates.append(sound)
    return _paired(res, "uniform", name,
                   "The gain comes from the teacher's knowledge, not from the extra loss term",
                   note=f"control: {name}", gates=gates, key="kd>control", **(dk or {}))


def metrics_tree(res: pd.DataFrame, fishers: pd.DataFrame, betas: pd.DataFrame,
                 popular: pd.DataFrame, *, seeds, teacher: str,
                 schedule: pd.DataFrame | None = None) -> dict:
    cols = ["NDCG@5", "NDCG@10", "Recall@10", "MRR"]
    means = res.groupby("model", sort=False)[cols].mean()
    chosen = res[res["gamma"].notna()].groupby("model")["gamma"].apply(list).to_dict() \
        if "gamma" in res else {}
    extra = {} if schedule is None else {
        "runs": int(schedule["runs"].sum()), ENDED: int(schedule[ENDED].sum())}
    return {"headline": {f"{m} NDCG@5": float(v) for m, v in means["NDCG@5"].items()},
            "teacher": teacher, "seeds": len(seeds), "results": means.to_dict(orient="index"),
            "popularity": popular.loc[popular["split"] == "test", cols].mean().to_dict(),
            **extra,
            "gamma_chosen": {m: [float(g) for g in v] for m, v in chosen.items()},
            "teacher_fisher": fishers.drop(columns="seed").mean().to_dict(),
            "beta_sweep": {str(b): float(v) for b, v in zip(betas.get("beta", []),
                                                            betas.get(f"validation {METRIC}",
                                                                      []))}}


def headline(res: pd.DataFrame, teacher: str, popular: pd.DataFrame | None = None) -> str:
    m = res.groupby("model", sort=False)[METRIC].mean()
    parts = [f"{k} {m[k]:.4f}" for k in ("teacher", ALONE, "uniform", "fisher") if k in m]
    ctrl = [k for k in m.index if k.startswith("uniform, ")]
    if ctrl:
        parts.append(f"{ctrl[0]} {m[ctrl[0]]:.4f}")
    if popular is not None:
        parts.append(f"most popular items "
                     f"{popular.loc[popular['split'] == 'test', METRIC].mean():.4f}")
    return f"test {METRIC}, {teacher} teacher: " + "; ".join(parts) + "."

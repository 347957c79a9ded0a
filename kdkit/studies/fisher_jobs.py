"""fisher_layerwise's jobs (:mod:`kdkit.studies.fisher_layerwise`): the data of a seed, SASRec
training to early stopping on validation, the teacher's grid and finish, and one arm tuned on
one seed (:func:`arm_job`).

A job's cache key covers the kdkit modules this one imports (``kdkit.jobs``), so a change to
the study's claims or tables (:mod:`kdkit.studies.fisher_claims`,
:mod:`kdkit.studies.fisher_layerwise`) keeps every finished job.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..data.movielens import load_ml100k
from ..data.sequence_file import load_sequence_file
from ..data.sequences import SequenceData, to_sequences
from ..data.synthetic_sequences import synthetic_sequences
from ..device import resolve
from ..distill.layer_weights import layer_weights
from ..distill.layerwise import LayerwiseKD, layer_map
from ..early_stopping import EarlyStopping
from ..recsys.sasrec import SASRec, next_item_loss, rank_metrics, ranking_metrics
from ..stats import set_seed
from ..tuning import tune
from .fisher_teachers import ENDED, TeacherStates, _size, sasrec_fisher, sasrec_states

METRIC = "NDCG@5"
ALONE = "student (no KD)"
TEACHERS = ("sasrec", "minilm")
CONTROLS = ("untrained", "shuffled")
DEFAULT_LOSS = "softmax"  # for parameter sets written before ``loss`` was a parameter
DATASETS = ("ml-100k", "synthetic")
# the generator's arguments and the params that set them
SYNTHETIC = {"n_users": "synthetic_users", "n_items": "synthetic_items",
             "length": "synthetic_length", "rank": "synthetic_rank",
             "signal": "synthetic_signal", "memory": "synthetic_memory"}


def control_name(control: str) -> str:
    return f"uniform, {control} teacher"


SAME_GAMMA = " at uniform's γ"  # the control trained at the real teacher's chosen γ


def base_arm(arm: str) -> str:
    """The arm whose targets and weights ``arm`` uses (the control at uniform's γ is the
    control)."""
    return arm.removesuffix(SAME_GAMMA)


LIMITS = {"gamma": (1e-4, 100.0), "dropout": (0.0, 0.6)}  # where a grid may grow off its edge



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
    arm = base_arm(arm)
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
    # the labelled share of the users comes with the job (both regimes share the teacher)

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

    t = tune(arm, seed, grid, fit, score_test, keep_model=True,
             extend_edges=p.get("extend_edges", 0), limits=LIMITS)
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
                       "extension": tr.get("extension", 0), "edge": tr.get("edge", False),
                       "chosen": tr["config"] == t.chosen} for tr in t.trials],
           "weights": None if not kd_arm else np.round(
               layer_weights(scheme, L_S, fisher=fisher, beta=p["beta"]), 3).tolist()}
    first = p["first_seed"] if "first_seed" in p else p["seeds"][0]  # job_params or not
    if not kd_arm and seed == first:
        out["size"] = _size(t.model, *sasrec_scoring(t.model, test[0]))
    out["betas"] = [{"beta": b, f"validation {METRIC}": fit(t.chosen, beta=b)[1]}
                    for b in betas]
    return out

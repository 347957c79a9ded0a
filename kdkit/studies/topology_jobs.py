"""The topology_kd study's jobs: what a worker runs — one model (teacher, student alone, FTD,
HTD or a plug-in KD method) trained under one :class:`Protocol` on one seed, scored on
validation, its held-out half and test (means, and each test user's values for an interval
that covers users, :mod:`kdkit.user_bootstrap`).

Kept apart from :mod:`kdkit.studies.topology_kd` (the claims, tables and the plan of the study)
so that a job's cache key (:mod:`kdkit.jobs`: the import closure of the job's module) does not
change when only the reading of the results does: a seed plan split across sessions keeps its
finished jobs while its claims are worked on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

from .. import methods
from ..data.load import load_interactions
from ..device import resolve
from ..distill.ftd import make_ftd
from ..distill.htd import HTD
from ..recsys.bpr_mf import BPRMF, bpr_loss
from ..recsys.metrics import evaluate
from ..recsys.ncf import NCF
from ..recsys.train import train_bpr
from ..stats import set_seed

METHODS = ("student", "ftd", "htd")
LABELS = {"teacher": "Teacher", "student": "Student alone", "ftd": "FTD", "htd": "HTD"}
KIND = "bpr-batch"  # the kind of plug-in KD method this study takes (kdkit.methods)


def label(method: str) -> str:
    """A method's name in tables: built-in, or a plug-in's label."""
    return LABELS.get(method) or methods.label(KIND, method)

@dataclass(frozen=True)
class Protocol:
    epochs: int = 100          # the ceiling with early stopping; the run length without
    lr: float = 1e-3
    batch_size: int = 1024
    weight_decay: float = 1e-3
    reduction: str = "sum"
    init_std: float = 0.01
    eval_every: int = 10
    patience: int = 0          # 0: the reference protocol (last epoch, test logged)
    k: int = 50
    td_lambda: float = 1e-3
    htd_alpha: float = 0.5
    n_groups: int = 30
    converge_epochs: int = 0   # reference protocol: go on to this many epochs, to convergence
    converge_patience: int = 3  # validation scores without improvement that end convergence

    @property
    def metric(self) -> str:
        return f"Recall@{self.k}"

    @property
    def reference(self) -> bool:
        return self.patience == 0


@dataclass(frozen=True)
class DataSpec:
    data_dir: str | None
    ml100k_path: str | None
    data_seed: int | None


@lru_cache(maxsize=8)
def load(spec: DataSpec, seed: int):
    """A split folder (fixed split), an interaction file (split leave-one-out per seed), or
    MovieLens-100k leave-one-out with the same-timestamp order of ``seed`` (unless
    ``data_seed`` fixes it)."""
    s = seed if spec.data_seed is None else spec.data_seed
    if spec.data_dir is not None:
        return load_interactions(spec.data_dir, split_how="loo", seed=s)
    return load_interactions("ml-100k", split_how="loo", seed=s, ml100k_path=spec.ml100k_path)


def is_citeulike(data) -> bool:
    return data.n_items == 25181 and data.n_users == 5219


def build_model(kind: str, data, dim: int, *, seed: int, init_std: float, layers: int = 2):
    """A fresh ``mf`` (BPR-MF, no biases) or ``ncf`` model, seeded."""
    set_seed(seed)
    if kind == "mf":
        return BPRMF(data.n_users, data.n_items, dim, init_std=init_std, bias=False)
    if kind == "ncf":
        return NCF(data.n_users, data.n_items, dim, layers=layers, init_std=init_std)
    raise ValueError(f"unknown model '{kind}'; allowed: mf, ncf")


def loss_for(method: str, teacher, student_dim: int, p: Protocol, seed: int = 0):
    """The training loss of ``method``: plain BPR, FTD, HTD or a plug-in KD method
    (:mod:`kdkit.methods`, kind ``bpr-batch``) against a frozen ``teacher``."""
    if method in ("student", "teacher"):
        return lambda model, u, i, j: bpr_loss(*model(u, i, j), p.reduction)
    if method == "ftd":
        return make_ftd(teacher, lam=p.td_lambda, reduction=p.reduction)
    if method == "htd":
        return HTD(teacher, student_dim, n_groups=p.n_groups, lam=p.td_lambda,
                   alpha=p.htd_alpha, reduction=p.reduction, seed=seed)
    return methods.get(KIND, method)(teacher, student_dim, p, seed)  # a plug-in


def train_one(data, method: str, dim: int, p: Protocol, *, teacher=None, seed: int = 0,
              kind: str = "mf", layers: int = 2, device: str = "cpu"):
    """Train one model; return (model, curve, final test metrics, info).

    Main protocol: the validation ``p.metric`` (the select half of the validation users) every
    ``p.eval_every`` epochs drives early stopping; test is scored once on the restored best
    model. Reference protocol: the test ``p.metric`` is logged at epoch 0, every
    ``p.eval_every`` epochs and at the end, as the paper's code logs it, and the last epoch is
    reported. Either way ``info["gate"]`` is the final model's ``p.metric`` on the held-out half
    of validation (the teacher gate's data) and ``info["valid"]`` its validation score (the
    best point of the curve with early stopping).
    """
    dev = resolve(device)
    model = build_model(kind, data, dim, seed=seed, init_std=p.init_std, layers=layers).to(dev)
    if teacher is not None:
        teacher = teacher.to(dev)
    loss = loss_for(method, teacher, dim, p, seed)
    ks = (p.k,)
    name = f"{label(method)} ({kind}, dim {dim}, seed {seed})"
    curve = []
    if p.reference:
        curve.append({"epoch": 0, "split": "test", p.metric: evaluate(model, data, "test", ks,
                                                                       name=name)[p.metric]})
        converge = p.converge_epochs > p.epochs
        at_end: dict = {}

        def log(row):
            if row["epoch"] == p.epochs and converge:  # the reference run ends here
                at_end.update(reference_scores(model, data, p, name, row["epoch"]))
                at_end["model"] = copy.deepcopy(model).cpu()
            if p.eval_every and row["epoch"] % p.eval_every == 0 and row["epoch"] < p.epochs:
                curve.append({"epoch": row["epoch"], "split": "test",
                              p.metric: evaluate(model, data, "test", ks, name=name)[p.metric]})

        hist = train_bpr(model, data, epochs=p.converge_epochs if converge else p.epochs,
                         lr=p.lr, batch_size=p.batch_size, weight_decay=p.weight_decay,
                         seed=seed, loss_fn=loss, progress=log, name=name,
                         eval_every=p.eval_every if converge else 0,
                         patience=p.converge_patience if converge else 0, ks=ks,
                         metric=p.metric, min_epochs=p.epochs, schedule_epochs=p.epochs)
        if converge:  # the best validation checkpoint after the reference run: convergence
            conv = reference_scores(model, data, p, name, hist[-1]["best_epoch"])
            final = at_end.pop("final")
            info = {**at_end, "converged": {**conv, "ran": hist[-1]["epoch"],
                                            "capped": hist[-1]["epoch"] >= p.converge_epochs}}
            curve.append({"epoch": p.epochs, "split": "test", p.metric: final[p.metric]})
            curve += [{"epoch": r["epoch"], "split": "valid", p.metric: r[p.metric]}
                      for r in hist if p.metric in r]
            return info.pop("model"), curve, final, info
        info = {"epochs": hist[-1]["epoch"], "valid": evaluate(model, data, "valid", ks,
                                                               name=name)[p.metric]}
    else:
        hist = train_bpr(model, data, epochs=p.epochs, lr=p.lr, batch_size=p.batch_size,
                         weight_decay=p.weight_decay, seed=seed, loss_fn=loss,
                         eval_every=p.eval_every, patience=p.patience, ks=ks, metric=p.metric,
                         name=name)
        curve = [{"epoch": r["epoch"], "split": "valid", p.metric: r[p.metric]}
                 for r in hist if p.metric in r]
        info = {"epochs": hist[-1]["best_epoch"], "valid": max(c[p.metric] for c in curve)}
    info["gate"] = evaluate(model, data, "gate", ks, name=name, first_hit=False)[p.metric]
    final = evaluate(model, data, "test", (10, p.k), name=name)
    info["per_user"] = user_scores(model, data, p, name)
    if p.reference:
        curve.append({"epoch": hist[-1]["epoch"], "split": "test", p.metric: final[p.metric]})
    return model.cpu(), curve, final, info


def reference_scores(model, data, p: Protocol, name: str, epoch: int) -> dict:
    """A model's scores at one point of a reference run continued to convergence: validation,
    held-out validation (gate) and the test metrics (``final``)."""
    ks = (p.k,)
    return {"epochs": epoch, "valid": evaluate(model, data, "valid", ks, name=name)[p.metric],
            "gate": evaluate(model, data, "gate", ks, name=name, first_hit=False)[p.metric],
            "final": evaluate(model, data, "test", (10, p.k), name=name),
            "per_user": user_scores(model, data, p, name)}


def user_scores(model, data, p: Protocol, name: str) -> dict:
    """Each test user's NDCG@10 and ``p.metric`` (float32, in the order of ``users``): what an
    interval over seeds *and* users needs (:mod:`kdkit.user_bootstrap`, kdkit issue 39)."""
    from ..recsys.metrics import ranking_task

    out = evaluate(model, data, "test", (10, p.k), name=name, per_user=True)
    keep = ("NDCG@10", p.metric)
    return {"users": ranking_task(data, "test").users.astype("int32"),
            **{k: out[k].astype("float32") for k in keep}}


def model_job(spec: DataSpec, seed: int, method: str, dim: int, p: Protocol, *, kind="mf",
              layers=2, teacher=None, student_seed: int = 0, device="cpu") -> dict:
    """One model on one seed (a job): its row, its curve and the model."""
    data = load(spec, seed)
    s = seed if method == "teacher" else seed + student_seed
    model, curve, final, info = train_one(data, method, dim, p, teacher=teacher, seed=s,
                                          kind=kind, layers=layers, device=device)
    base = {"dataset": data.name, "model": kind, "seed": seed, "method": method, "dim": dim}
    row = {**base, "lr": p.lr, "weight_decay": p.weight_decay, "valid": info["valid"],
           "gate": info["gate"], "epochs": info["epochs"], **final}
    if "converged" in info:
        c = info["converged"]
        row.update({f"converged {k}": v for k, v in c["final"].items()})
        row.update({"converged valid": c["valid"], "converged epoch": c["epochs"],
                    "converged ran": c["ran"], "converged capped": c["capped"]})
    users = {"reported": info["per_user"]}
    if "converged" in info:
        users["converged"] = info["converged"]["per_user"]
    return {"row": row, "curve": [{**base, **c} for c in curve], "model": model,
            "per_user": users}


def tuning_job(*args, **kwargs) -> dict | None:
    """:func:`model_job` at one grid point; None where training diverged (a NaN or infinite
    loss), so the point is recorded and never chosen."""
    try:
        return model_job(*args, **kwargs)
    except FloatingPointError:
        return None

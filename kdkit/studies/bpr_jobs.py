"""bpr_kd's jobs (:mod:`kdkit.studies.bpr_kd`): its arms, the data of a seed, BPR-MF training
to early stopping and one arm tuned on one seed (:func:`arm_job`).

A job's cache key covers the kdkit modules this one imports (``kdkit.jobs``), so a change to the
study's claims or tables (:mod:`kdkit.studies.bpr_claims`, :mod:`kdkit.studies.bpr_kd`) keeps
every finished job.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .. import methods as kd_methods
from ..data.load import load_interactions
from ..distill.bpr_kd import margin_kd, user_permutation
from ..distill.ranking import candidate_kd
from ..recsys.bpr_mf import BPRMF, n_params
from ..recsys.bpr_sgd import CandidateKD, MarginKD, train_bpr_sgd
from ..recsys.metrics import evaluate, ranking_task
from ..stats import set_seed
from ..tuning import tune

KD_METHODS = ("kd_margin", "kd_sigmoid", "rd")
CONTROLS = ("born-again", "shuffled")
LABELS = {"teacher": "Teacher", "student": "Student alone", "kd_margin": "KD, margin reading",
          "kd_sigmoid": "KD, sigmoid reading", "rd": "Ranking distillation"}

def gate_col(metric: str) -> str:
    """The column of ``metric`` on the held-out half of validation (the gates' data)."""
    return f"gate {metric}"


def arm_name(method: str, control: str | None = None) -> str:
    return method if control is None else f"{method} / {control} teacher"


def dose_arm(method: str, alpha: float) -> str:
    """The arm of ``method`` at a fixed dose α, trained at the student alone's lr and reg
    (one point, nothing tuned): the source's question at the source's dose."""
    return f"{method} (α {alpha:g})"


def base_method(arm: str) -> str:
    """The KD method of an arm (``kd_margin (α 0.3) / shuffled teacher`` → ``kd_margin``)."""
    return arm.partition(" / ")[0].partition(" (α ")[0]


PLUGIN_KIND = "bpr-sgd"  # the kind of a user's method (``kdkit.methods``)


def arm_label(arm: str) -> str:
    method, _, control = arm.partition(" / ")
    method, _, dose = method.partition(" (α ")
    label = LABELS.get(method) or _plugin_label(method)
    if dose:
        label += f", fixed α {dose.rstrip(')')}"
    return f"{label}, {control}" if control else label


def _plugin_label(method: str) -> str:
    try:
        return kd_methods.label(PLUGIN_KIND, method)
    except ValueError:
        return method


def kd_arms(arms) -> list[str]:
    """The KD methods among ``arms`` (built-in or plug-in; not the teacher, the student alone
    or a control arm)."""
    return [a for a in arms if a not in ("teacher", "student") and " / " not in a]




def grid_for(p: dict, dataset: str) -> dict:
    return p["grid"].get(dataset, p["grid"].get("default"))


def kd_grid(grid: dict, points, *, reg: float) -> list[dict]:
    """A KD arm's grid: every learning rate of the data set's grid × every KD setting of its
    method (α, and τ for the sigmoid reading), at the regularisation the student alone of the
    same size and seed chose — as many points as the student alone's lr × reg grid, so α and τ
    are tuned per size and seed at equal cost."""
    return [{"lr": lr, "reg": reg, **v} for lr in grid["lr"] for v in points]


# ------------------------------------------------------------------ data and training


@dataclass(frozen=True)
class DataSpec:
    dataset: str
    split: str
    data_seed: int | None
    synthetic: tuple
    ml100k_path: str | None


def specs_from(p: dict) -> dict:
    """{data set: its DataSpec} from the study's parameters."""
    synthetic = (("n_users", p["synthetic_users"]), ("n_items", p["synthetic_items"]),
                 ("density", p["synthetic_density"]), ("rank", p["synthetic_rank"]),
                 ("signal", p["synthetic_signal"]))
    return {ds: DataSpec(ds, p["split"], p["data_seed"], synthetic, p["ml100k_path"])
            for ds in p["datasets"]}


@lru_cache(maxsize=16)
def load(spec: DataSpec, seed: int):
    """The data set of ``seed`` (its own split and synthetic draw unless ``data_seed``)."""
    s = seed if spec.data_seed is None else spec.data_seed
    return load_interactions(spec.dataset, split_how=spec.split, seed=s,
                             ml100k_path=spec.ml100k_path, synthetic=dict(spec.synthetic))


@dataclass(frozen=True)
class Schedule:
    max_epochs: int = 300
    eval_every: int = 3
    patience: int = 4
    k: int = 10

    @property
    def metric(self) -> str:
        return f"NDCG@{self.k}"


def fit(data, dim: int, config: dict, seed: int, sched: Schedule, kd=None, rd=None):
    """A BPR-MF of size ``dim`` trained with ``config`` (lr, reg) to early stopping; returns
    (model, best validation metric, {"epochs": best epoch})."""
    set_seed(seed)
    model = BPRMF(data.n_users, data.n_items, dim)
    hist = train_bpr_sgd(model, data, epochs=sched.max_epochs, lr=config["lr"],
                         reg=config["reg"], seed=seed, kd=kd, rd=rd, eval_every=sched.eval_every,
                         patience=sched.patience, ks=(sched.k,), metric=sched.metric)
    best = max(r[sched.metric] for r in hist if sched.metric in r)
    return model, best, {"epochs": hist[-1]["best_epoch"]}


def kd_loss(method: str, teacher: BPRMF, data, kd: dict, shuffle=None):
    """(margin KD, candidate KD) of ``method`` against ``teacher`` (``kd``: chosen α, τ)."""
    if method in ("kd_margin", "kd_sigmoid"):
        reading = method.removeprefix("kd_")
        return margin_kd(teacher, alpha=kd[method]["alpha"],
                         temperature=kd[method].get("temperature", 1.0), reading=reading,
                         shuffle=shuffle), None
    if method == "rd":
        return None, candidate_kd(teacher, data.matrix("train"), k=kd["rd"]["k"],
                                  alpha=kd["rd"]["alpha"], shuffle=shuffle)
    # a plug-in (kdkit.methods, kind bpr-sgd)
    factory = kd_methods.get(PLUGIN_KIND, method)
    if shuffle is not None:
        teacher = shuffled_teacher(teacher, shuffle)
    setting = {k: v for k, v in kd[method].items() if k != "k"}
    margin, cand = factory(teacher, data, setting)
    if not (margin is None or isinstance(margin, MarginKD)) or \
            not (cand is None or isinstance(cand, CandidateKD)):
        raise TypeError(f"method '{method}' must return (MarginKD or None, CandidateKD or "
                        f"None); got ({type(margin).__name__}, {type(cand).__name__})")
    return margin, cand


def shuffled_teacher(teacher: BPRMF, perm: np.ndarray) -> BPRMF:
    """A copy of ``teacher`` whose user u has the factors of user ``perm[u]``: the shuffled
    control for a plug-in (the built-ins permute their own targets the same way)."""
    out = copy.deepcopy(teacher)
    with torch.no_grad():
        out.user.weight.copy_(teacher.user.weight[torch.as_tensor(perm)])
    return out


def arm_job(spec: DataSpec, seed: int, arm: str, dim: int, grid, sched: Schedule,
            teacher: BPRMF | None = None, kd: dict | None = None) -> dict:
    """Tune one arm on one seed (its grid on the select half of validation; a KD arm's grid
    holds its α and τ too, :func:`kd_grid`; ``kd``: {"k": RD's top-K}), score the chosen
    model on test once and on the held-out half of validation (``gate`` columns: the data the
    teacher gate reads, which chose neither its checkpoint nor its hyperparameters)."""
    data = load(spec, seed)
    method, control = base_method(arm), arm.partition(" / ")[2]
    shuffle = user_permutation(data.n_users, seed + 7919) if control.startswith("shuffled") \
        else None

    def fit_config(config):
        if method in ("teacher", "student"):
            return fit(data, dim, config, seed, sched)
        values = {k: v for k, v in config.items() if k not in ("lr", "reg")}
        margin, cand = kd_loss(method, teacher, data, {method: {**values, "k": kd["k"]}},
                               shuffle)
        return fit(data, dim, config, seed, sched, kd=margin, rd=cand)

    kept = {}

    def score_test(m):  # the chosen model on test, once; its users' scores kept
        kept.update(evaluate(m, data, "test", (sched.k,), name=f"{arm} dim {dim}",
                             per_user=True))
        return {k: float(v.mean()) for k, v in kept.items()}

    t = tune(arm, seed, grid, fit_config, score_test, keep_model=True)
    held_out = evaluate(t.model, data, "gate", (sched.k,), name=f"{arm} dim {dim}",
                        first_hit=False)
    row = {"dataset": spec.dataset, "seed": seed, "arm": arm, "dim": dim,
           "params": n_params(t.model), "valid": t.valid, **t.chosen, **t.test,
           **{gate_col(m): v for m, v in held_out.items()}}
    trials = [{"dataset": spec.dataset, "seed": seed, "arm": arm, "dim": dim, **tr["config"],
               f"validation {sched.metric}": tr["valid"], "epochs": tr.get("epochs"),
               "diverged": tr.get("diverged", False), "chosen": tr["config"] == t.chosen}
              for tr in t.trials]
    per_user = {"users": ranking_task(data, "test").users.astype("int32"),
                **{m: kept[m].astype("float32") for m in test_metrics(sched.k)[:2]}}
    return {"row": row, "trials": trials, "model": t.model, "per_user": per_user}


def test_metrics(k: int) -> list[str]:
    """The test metrics a result row holds (``kdkit.recsys.metrics.evaluate`` at cut-off k)."""
    return [f"Recall@{k}", f"NDCG@{k}", "MRR", f"HR@{k}"]

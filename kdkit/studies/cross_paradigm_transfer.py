"""cross_paradigm on a transfer set: the source's synthetic generator, drawn per seed with an
unlabelled transfer set from the same distribution, so that a student can learn from a teacher
of another model family something it does not have already.

Per seed, one draw of the source's ``make_classification`` generator (50 features, 25
informative, 12 redundant, 5 classes, 2 clusters per class, class_sep 0.8; ``random_state`` =
the seed) is dealt into five parts: ``train`` (labelled), ``val`` (picks every arm's
hyperparameters), ``gate`` (judges the teacher gate and the control gate: it picked nothing),
``transfer`` (unlabelled for every arm but the oracle) and ``test`` (read once, at the end).

Arms of one student model per teacher → student pathway (:mod:`kdkit.transfer_set` names
them), every one trained for the same number of gradient steps (the arms with transfer rows get
``epochs · n_train / (n_train + n_transfer)`` epochs) and tuned on ``val`` over a grid of the
same size:

* ``alone``: the training rows, label smoothing ε over ``ls_grid`` (the regulariser KD is
  often mistaken for: Yuan et al., 2020, *Revisiting knowledge distillation via label smoothing
  regularization*, CVPR);
* ``oof``: the training rows only, with the teacher's out-of-fold soft targets (what the
  sound mode of :mod:`kdkit.studies.cross_paradigm` does); α, T over ``kd_grid``;
* ``kd``: the training rows (true labels) and the transfer rows with the teacher's targets
  (Buciluǎ et al., 2006; Hinton et al., 2015): α·CE(argmax) + (1 − α)·T²·KL; α, T over
  ``kd_grid``;
* ``self``: the same with the targets of the student alone (self-training control); ``kd_grid``;
* ``oracle``: the transfer rows with their true labels; ``ls_grid``;
* ``hard``: the transfer rows with the teacher's argmax as hard labels (what the soft targets
  add beyond the teacher's decisions); ``ls_grid``;
* ``stack``: the student on [x, p_T(x)] (out-of-fold p_T on the training rows); ``ls_grid``. Not
  a compression: its size and its prediction include the teacher's.

Teachers keep the source's hyperparameters and are fitted on the training rows.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.base import clone

from .. import methods as kd_methods
from ..jobs import Job
from ..paradigms.families import FAMILIES, n_parameters
from ..paradigms.federated import federated_soft_targets, source_client
from ..paradigms.oof import oof_proba
from ..paradigms.soft_mlp import SoftTargetMLP
from ..paradigms.temperature import dynamic_temperature
from ..stats import set_seed
from .cross_paradigm_pathways import (  # noqa: F401  (re-exported: the study's one namespace)
    ARM_COLUMNS,
    FED_CLIENTS,
    GATE_DATA,
    LABELS,
    PLUGIN_KIND,
    WHERE,
    arm_values,
    cross_coefficients,
    gated_pathways,
    headline,
    innovation_claims,
    leave_one_teacher_out,
    metrics,
    pathway_gate,
    pathway_table,
    pathways,
    plugin_arms,
    sizes_table,
    student_values,
    transfer_study_claims,
)

PARTS = ("train", "val", "gate", "transfer", "test")
GENERATOR = {"n_features": 50, "n_informative": 25, "n_redundant": 12, "n_classes": 5,
             "n_clusters_per_class": 2, "class_sep": 0.8}


def plugin_targets(name: str, proba: np.ndarray, seed: int) -> np.ndarray:
    """The transfer rows' targets of plug-in ``name`` from the teacher's ``proba``, checked:
    the same shape, finite, non-negative rows that sum to 1."""
    q = np.asarray(kd_methods.get(PLUGIN_KIND, name)(proba.copy(), seed), dtype=float)
    if q.shape != proba.shape or not np.isfinite(q).all() or (q < 0).any() or \
            not np.allclose(q.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"method '{name}' must return targets of shape {proba.shape} whose "
                         "rows are distributions (non-negative, summing to 1)")
    return q


@lru_cache(maxsize=8)
def draw(seed: int, sizes: tuple) -> dict:
    """One seed's draw of the generator dealt into :data:`PARTS` (``sizes``: their row counts,
    in that order): {part: (X, y)}. The generator shuffles its rows, so the parts are i.i.d.
    samples of one distribution."""
    X, y = skd.make_classification(n_samples=int(sum(sizes)), random_state=seed, **GENERATOR)
    cuts = np.cumsum((0,) + tuple(sizes))
    return {part: (X[a:b], y[a:b]) for part, a, b in zip(PARTS, cuts[:-1], cuts[1:])}


def _sizes(p: dict) -> tuple:
    return tuple(int(p["transfer_rows"][k]) for k in PARTS)


def teacher_outputs(seed: int, kind: str, *, sizes: tuple, folds: int) -> dict:
    """One teacher on one seed (a job): fitted on the training rows, its probabilities on every
    other part, its out-of-fold probabilities on the training rows, its size."""
    d = draw(seed, sizes)
    (Xtr, ytr) = d["train"]
    set_seed(seed)
    make = FAMILIES[kind].teacher(seed)
    full = clone(make).fit(Xtr, ytr)
    proba = {part: full.predict_proba(d[part][0]) for part in PARTS if part != "train"}
    proba["train"] = oof_proba(make, Xtr, ytr, folds=folds, seed=seed)
    return {"seed": seed, "teacher": kind, "proba": proba, "n_params": n_parameters(full),
            "accuracy": {part: float((full.classes_[proba[part].argmax(1)] == d[part][1]).mean())
                         for part in ("gate", "test")}}


def smoothed(y: np.ndarray, n_classes: int, eps: float) -> np.ndarray:
    """Label-smoothed one-hot targets (1 − ε)·onehot(y) + ε / C."""
    return (1 - eps) * np.eye(n_classes)[y] + eps / n_classes


def _pick(fits) -> dict:
    """The fit with the best validation accuracy (the first on ties)."""
    return max(fits, key=lambda f: (f["val"], -f["order"]))


def _fit_arm(make, configs, X, y, parts, *, extra=None) -> dict:
    """Fit one arm once per grid config (``configs``: list of (label, model kwargs, soft
    targets for the fit rows)) and keep the one that validation picks: its accuracy on val,
    gate and test, its config and its probabilities on the transfer rows."""
    fits = []
    for order, (label, kw, soft) in enumerate(configs):
        model = make(**kw).fit(X, y, soft_targets=soft)
        acc = {part: float((model.predict(parts[part][0]) == parts[part][1]).mean())
               for part in ("val", "gate", "test")}
        fits.append({**acc, "order": order, "config": label, "model": model})
    best = _pick(fits)
    out = {k: best[k] for k in ("val", "gate", "test", "config")}
    out["n_params"] = n_parameters(best["model"])
    if extra is not None:
        out["transfer_proba"] = best["model"].predict_proba(extra)
    return out


def students_on_transfer(seed: int, student: str, teachers: list[dict], *, sizes: tuple,
                         kd_grid, ls_grid, epochs: int, methods=()) -> list[dict]:
    """Every arm of one student on one seed (a job), for every teacher: one row per arm (and
    per pathway for the teacher's arms) with its validation-picked config and accuracies.
    ``methods``: plug-ins of kind ``tabular-targets``, each an arm trained as ``kd`` is, on
    its own targets for the transfer rows."""
    d = draw(seed, sizes)
    (Xtr, ytr), (Xtf, ytf) = d["train"], d["transfer"]
    set_seed(seed)
    C = int(ytr.max()) + 1
    short = max(1, round(epochs * len(Xtr) / (len(Xtr) + len(Xtf))))
    base = {"seed": seed, "student": student}

    def make(steps=epochs, **kw):
        model = FAMILIES[student].student(seed, epochs=steps, **kw)
        if not isinstance(model, SoftTargetMLP):
            raise ValueError(f"the transfer-set design trains gradient students; {student!r} "
                             "is not one")
        return model

    def ls(eps_y, steps):  # the label-smoothing grid: α = 0, T = 1
        return [(f"ε = {e:g}", {"steps": steps, "alpha": 0.0, "temperature": 1.0},
                 smoothed(eps_y, C, e)) for e in ls_grid]

    def kd(soft, steps):  # the α, T grid on the given soft targets
        return [(f"α = {a:g}, T = {t:g}", {"steps": steps, "alpha": a, "temperature": t}, soft)
                for a, t in kd_grid]

    rows = []
    alone = _fit_arm(make, ls(ytr, epochs), Xtr, ytr, d, extra=Xtf)
    rows.append({**base, "teacher": "", "arm": "alone",
                 **{k: v for k, v in alone.items() if k != "transfer_proba"}})
    X2, onehot = np.vstack([Xtr, Xtf]), np.eye(C)[ytr]

    def with_transfer(proba):  # CE on argmax, KL on the tempered targets; true labels on train
        return (np.concatenate([ytr, proba.argmax(1)]), np.vstack([onehot, proba]))

    y_self, q_self = with_transfer(alone["transfer_proba"])
    rows.append({**base, "teacher": "", "arm": "self",
                 **_fit_arm(make, kd(q_self, short), X2, y_self, d)})
    y_or = np.concatenate([ytr, ytf])
    rows.append({**base, "teacher": "", "arm": "oracle",
                 **_fit_arm(make, ls(y_or, short), X2, y_or, d)})
    for t in teachers:
        p, who = t["proba"], {**base, "teacher": t["teacher"]}
        rows.append({**who, "arm": "oof", **_fit_arm(make, kd(p["train"], epochs), Xtr, ytr, d)})
        y_kd, q_kd = with_transfer(p["transfer"])
        rows.append({**who, "arm": "kd", **_fit_arm(make, kd(q_kd, short), X2, y_kd, d)})
        rows.append({**who, "arm": "hard", **_fit_arm(make, ls(y_kd, short), X2, y_kd, d)})
        for m in methods:
            y_m, q_m = with_transfer(plugin_targets(m, p["transfer"], seed))
            rows.append({**who, "arm": m, **_fit_arm(make, kd(q_m, short), X2, y_m, d)})
        stacked = {part: (np.hstack([d[part][0], p[part]]), d[part][1])
                   for part in ("val", "gate", "test")}
        st = _fit_arm(make, ls(ytr, epochs), np.hstack([Xtr, p["train"]]), ytr, stacked)
        st["n_params"] += t["n_params"]  # the stacked student needs its teacher
        rows.append({**who, "arm": "stack", **st})
    return rows




def fed_client(name: str, seed: int):
    """An unfitted federated client of class ``name`` (:data:`FED_CLIENTS`)."""
    return source_client(seed) if name == "rf100" else FAMILIES[name].teacher(seed)


def innovations_on_transfer(seed: int, teacher: dict | None, *, sizes: tuple, student: str,
                            n_clients: int, temperature: float,
                            epochs: int, clients: tuple = ("rf100",)) -> list[dict]:
    """The innovations a transfer set makes testable, each against its fair control (a job;
    one row per variant with its accuracy on val, gate and test):

    * **federated** distillation (no labels at the server), for each client class of
      ``clients`` (:data:`FED_CLIENTS`: the source's 100-tree forests, or a teacher family):
      ``n_clients`` clients fitted on a Dirichlet(0.5) non-IID (or an IID) split of the
      training rows label the transfer rows, averaged by client size
      (:mod:`kdkit.paradigms.federated`); the control is one model of the same class fitted on
      all training rows, labelling the same rows (rows carry ``client`` and ``split``:
      non-IID, IID or central). The student learns
      from the training rows' true labels and the transfer rows' aggregated targets (α = 0,
      T = 1), for as many steps as the other arms;
    * **dynamic temperature** T = T0 (1 + 0.1 H̄) against the fixed T0 it scales, for KD on the
      transfer set from ``teacher`` (α = 0.5; as many steps), when one is given."""
    d = draw(seed, sizes)
    (Xtr, ytr), Xtf = d["train"], d["transfer"][0]
    set_seed(seed)
    C = int(ytr.max()) + 1
    rows = []

    def add(group, variant, model, **extra):
        rows.append({"seed": seed, "group": group, "variant": variant, "client": "",
                     "split": "", **extra,
                     **{part: float((model.predict(d[part][0]) == d[part][1]).mean())
                        for part in ("val", "gate", "test")}})

    def make(steps, **kw):
        return FAMILIES[student].student(seed, epochs=steps, **kw)

    X2 = np.vstack([Xtr, Xtf])
    steps = max(1, round(epochs * len(Xtr) / len(X2)))
    for client in clients:
        label = FED_CLIENTS[client]
        make_client = lambda c=client: fed_client(c, seed)  # noqa: E731
        central = clone(make_client()).fit(Xtr, ytr).predict_proba(Xtf)
        for split, variant, q in (
                ("non-IID", f"{n_clients} non-IID {label} clients (Dirichlet 0.5)", "dirichlet"),
                ("IID", f"{n_clients} IID {label} clients", "iid"),
                ("central", f"central {label} (same model class)", central)):
            if isinstance(q, str):
                q = federated_soft_targets(make_client, Xtr, ytr, Xtf, n_clients=n_clients,
                                           seed=seed, split=q)
            y2, q2 = np.concatenate([ytr, q.argmax(1)]), np.vstack([np.eye(C)[ytr], q])
            add("federated", variant, make(steps, alpha=0.0, temperature=1.0,
                                           classes=np.arange(C)).fit(X2, y2, soft_targets=q2),
                client=client, split=split,
                labelling=float((q.argmax(1) == d["transfer"][1]).mean()))
    if teacher is None:
        return rows
    p = teacher["proba"]["transfer"]
    y2, q2 = np.concatenate([ytr, p.argmax(1)]), np.vstack([np.eye(C)[ytr], p])
    for variant, T in ((f"fixed T0 = {temperature:g}", temperature),
                       ("dynamic T = T0 (1 + 0.1 H)", dynamic_temperature(p, t0=temperature))):
        add("dynamic temperature", variant, make(steps, alpha=0.5, temperature=T,
                                                 classes=np.arange(C)).fit(
            X2, y2, soft_targets=q2), temperature=T)
    return rows


def run_transfer(p: dict, runner) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Teachers (one job per seed × teacher), then students (one job per seed × student) and
    the innovations (one job per seed; dynamic temperature when ``innovations_teacher`` is a
    transfer teacher):
    (one row per seed, pathway and arm, teachers included as arm ``teacher``; one row per seed
    and innovation variant)."""
    sizes = _sizes(p)
    tjobs = [Job(teacher_outputs, (s, t), {"sizes": sizes, "folds": p["folds"]},
                 name=f"transfer seed {s} teacher {t}")
             for s in p["seeds"] for t in p["transfer_teachers"]]
    teachers = runner.run(tjobs, "transfer-set teachers")
    by = {}
    for t in teachers:
        by.setdefault(t["seed"], []).append(t)
    grid = [tuple(map(float, c)) for c in p["kd_grid"]]
    sjobs = [Job(students_on_transfer, (s, st, by[s]),
                 {"sizes": sizes, "kd_grid": grid, "ls_grid": list(map(float, p["ls_grid"])),
                  "epochs": p["epochs"], "methods": tuple(p.get("transfer_methods") or ())},
                 name=f"transfer seed {s} student {st}")
             for s in p["seeds"] for st in p["transfer_students"]]
    rows = [r for done in runner.run(sjobs, "transfer-set students") for r in done]
    kind = p["innovations_teacher"]
    ijobs = [Job(innovations_on_transfer, (s, next((t for t in by[s] if t["teacher"] == kind),
                                                   None)),
                 {"sizes": sizes, "student": p["innovations_student"],
                  "n_clients": p["n_clients"],
                  "temperature": p["temperature"], "epochs": p["epochs"],
                  "clients": tuple(p.get("transfer_federated_clients") or ("rf100",))},
                 name=f"transfer seed {s} innovations")
             for s in p["seeds"]]
    innov = pd.DataFrame([r for done in runner.run(ijobs, "transfer-set innovations")
                          for r in done])
    rows += [{"seed": t["seed"], "student": "", "teacher": t["teacher"], "arm": "teacher",
              "val": None, "gate": t["accuracy"]["gate"], "test": t["accuracy"]["test"],
              "config": "the source's", "n_params": t["n_params"]} for t in teachers]
    return pd.DataFrame(rows), innov


# ------------------------------------------------------------------ tables


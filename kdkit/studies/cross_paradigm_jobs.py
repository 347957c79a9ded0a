"""cross_paradigm's jobs (:mod:`kdkit.studies.cross_paradigm`): the data sets and their
splits, one teacher on one seed (:func:`teacher_job`), every student of a seed
(:func:`students_job`), the innovations on a seed (:func:`innovations_job`) and the source's
procedure on one split (:func:`faithful_job`).

A job's cache key covers the kdkit modules this one imports (``kdkit.jobs``), so a change to
the study's claims or tables keeps every finished job.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, train_test_split

from ..data.tabular_file import load_tabular_file
from ..paradigms import compatibility as compat
from ..paradigms.curriculum import fit_curriculum
from ..paradigms.faithful import run_faithful
from ..paradigms.families import FAMILIES, MODEL_FAMILY, n_parameters
from ..paradigms.feature_distill import mlp_hidden
from ..paradigms.federated import federated_soft_targets
from ..paradigms.multi_teacher import attention_weights, combine
from ..paradigms.munge import transfer_set
from ..paradigms.oof import oof_proba
from ..paradigms.stream import stream_distill
from ..paradigms.temperature import dynamic_temperature
from ..stats import set_seed

DATASETS = ("breast_cancer", "digits", "wine", "iris", "synthetic_small", "synthetic_medium",
            "synthetic_scaled")
METHODS = ("hard", "soft", "soft+transfer")
TEACHERS = ("lr", "lr_poly", "rf", "mlp", "dnn", "svm", "gb", "ensemble")
STUDENTS = ("lr", "rf", "mlp", "dnn")
SOURCE = ("Cross-Paradigm Knowledge Distillation (HeteroKD-BigData, IEEE Big Data 2025)",
          "https://github.com/mahdinaser/HeteroKD-BigData")
SYNTHETIC = {"synthetic_small": (10_000, 50), "synthetic_medium": (50_000, 100),
             "synthetic_scaled": (2_000, 50)}


TABLE_SUFFIXES = (".csv", ".parquet")


def is_file(name: str) -> bool:
    """A data set named by the path of a user's table (:mod:`kdkit.data.tabular_file`)."""
    return str(name).lower().endswith(TABLE_SUFFIXES)


def dataset_name(name: str) -> str:
    """A short name for figures and file names: a table's file stem, else the name."""
    return Path(name).stem if is_file(name) else name


def load_dataset(name: str, seed: int = 42, label: str = "label"):
    """(X, y) of a bundled sklearn set, the source's ``make_classification`` sets (small:
    10,000 × 50, medium: 50,000 × 100; ``synthetic_scaled``: 2,000 × 50, same generator) drawn
    with ``random_state=seed`` (the source's is 42), or a user's CSV or Parquet table whose
    ``label`` column is the class (every other column a numeric feature)."""
    loaders = {"breast_cancer": skd.load_breast_cancer, "digits": skd.load_digits,
               "wine": skd.load_wine, "iris": skd.load_iris}
    if name in loaders:
        return loaders[name](return_X_y=True)
    if is_file(name):
        data = load_tabular_file(name, label)
        return data.X, data.y
    if name not in SYNTHETIC:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}, or the "
                         "path of a .csv or .parquet table")
    n, d = SYNTHETIC[name]
    return skd.make_classification(n_samples=n, n_features=d, n_informative=d // 2,
                                   n_redundant=d // 4, n_classes=5, n_clusters_per_class=2,
                                   class_sep=0.8, random_state=seed)


def split(X, y, seed: int):
    """Stratified 80/20 split."""
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)


@lru_cache(maxsize=32)
def seed_split(dataset: str, seed: int, label: str = "label"):
    """The data of one seed: its own draw of a synthetic set and its own split."""
    X, y = load_dataset(dataset, seed if dataset in SYNTHETIC else 42, label)
    return split(X, y, seed)


def _timed_predict(model, X) -> tuple[np.ndarray, float]:
    """Probabilities and the prediction time per sample in microseconds."""
    t0 = time.perf_counter()
    p = model.predict_proba(X)
    return p, (time.perf_counter() - t0) / len(X) * 1e6


def _holdout(y, seed: int, folds: int):
    """Fold 0 of the out-of-fold split: (fit rows, held-out rows) of the training split."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return next(iter(cv.split(np.zeros(len(y)), y)))


def teacher_job(dataset: str, seed: int, kind: str, *, folds: int, transfer_ratio: float,
                max_gram: int = 400, hints: bool = False, label: str = "label") -> dict:
    """One teacher on one dataset and seed (a job): its out-of-fold probabilities (and hidden
    layers) on the training rows, its held-out-fold model's outputs for the compatibility
    score, and the fully fitted teacher's outputs on test rows and on the transfer set."""
    Xtr, Xte, ytr, yte = seed_split(dataset, seed, label)
    set_seed(seed)
    make = FAMILIES[kind].teacher(seed)
    fit_rows, held = _holdout(ytr, seed, folds)
    out = {"held": {}, "hidden": None}
    hidden = np.zeros((len(Xtr), 0))

    def hook(model, test_idx):
        nonlocal hidden
        if test_idx is held or np.array_equal(test_idx, held):
            g = held[np.random.default_rng(seed).permutation(len(held))[:max_gram]]
            out["held"] = {"rows": g, "gram": compat.gram(model, Xtr[g]),
                           "proba": model.predict_proba(Xtr[g])}
        if hints:
            h = mlp_hidden(model, Xtr[test_idx])
            if hidden.shape[1] == 0:
                hidden = np.zeros((len(Xtr), h.shape[1]))
            hidden[test_idx] = h

    oof = oof_proba(make, Xtr, ytr, folds=folds, seed=seed, fold_hook=hook)
    t0 = time.perf_counter()
    full = clone(make).fit(Xtr, ytr)
    fit_s = time.perf_counter() - t0
    p_te, us = _timed_predict(full, Xte)
    X_aug = transfer_set(Xtr, int(transfer_ratio * len(Xtr)), seed=seed)
    classes = np.unique(ytr)
    if hints:
        sd = hidden.std(axis=0)
        out["hidden"] = (hidden - hidden.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return {**out, "dataset": dataset, "seed": seed, "teacher": kind, "oof": oof,
            "oof_accuracy": float((classes[oof.argmax(1)] == ytr).mean()),
            "test_proba": p_te, "predict_us": us, "fit_s": fit_s,
            "accuracy": float((full.classes_[p_te.argmax(1)] == yte).mean()),
            "n_params": n_parameters(full),
            "aug_proba": full.predict_proba(X_aug) if len(X_aug) else
            np.empty((0, len(classes)))}


def _record(rows, model, role, teacher, student, method, X_eval, yte, base, extra_us=0.0):
    p, us = _timed_predict(model, X_eval)
    rows.append({**base, "role": role, "teacher": teacher, "student": student, "method": method,
                 "accuracy": float((model.classes_[p.argmax(1)] == yte).mean()),
                 "n_params": n_parameters(model), "predict_us": us + extra_us})
    return p


def students_job(dataset: str, seed: int, teachers: list[dict], *, students, methods,
                 temperature: float, alpha: float, transfer_ratio: float, folds: int,
                 label: str = "label") -> dict:
    """Every student of one dataset and seed (a job): the baselines (with their out-of-fold
    accuracy, for the teacher gate), every pathway × method, stacking, and the compatibility
    score of every pathway on the held-out fold."""
    Xtr, Xte, ytr, yte = seed_split(dataset, seed, label)
    set_seed(seed)
    classes = np.unique(ytr)
    base = {"dataset": dataset, "seed": seed}
    X_aug = transfer_set(Xtr, int(transfer_ratio * len(Xtr)), seed=seed)
    fit_rows, held = _holdout(ytr, seed, folds)
    rows, comp, valid = [], [], []
    for t in teachers:
        rows.append({**base, "role": "teacher", "teacher": t["teacher"], "student": "",
                     "method": "teacher", "accuracy": t["accuracy"], "n_params": t["n_params"],
                     "predict_us": t["predict_us"]})
        valid.append({**base, "model": f"teacher {t['teacher']}", "oof_accuracy":
                      t["oof_accuracy"]})
    for s in students:
        def make(s=s, **kw):
            return FAMILIES[s].student(seed, **{"alpha": alpha, "temperature": temperature,
                                                **kw})
        baseline = make().fit(Xtr, ytr)
        _record(rows, baseline, "student", "", s, "baseline", Xte, yte, base)
        oof_s = oof_proba(make(), Xtr, ytr, folds=folds, seed=seed)
        valid.append({**base, "model": f"student {s}",
                      "oof_accuracy": float((classes[oof_s.argmax(1)] == ytr).mean())})
        held_model = make().fit(Xtr[fit_rows], ytr[fit_rows])
        for t in teachers:
            p_tr, hard = t["oof"], classes[t["oof"].argmax(1)]
            for m in methods:
                if m == "hard":
                    model = make().fit(Xtr, hard)
                elif m == "soft":
                    model = make().fit(Xtr, ytr, soft_targets=p_tr)
                else:  # soft+transfer: the same number of gradient steps as the others
                    n, n_aug = len(Xtr), len(X_aug)
                    kw = {"epochs": max(1, round(make().epochs * n / (n + n_aug)))} \
                        if hasattr(make(), "epochs") else {}
                    fit_kw = {} if kw else {"reference_rows": n}
                    y_aug = classes[t["aug_proba"].argmax(1)]
                    model = make(**kw).fit(np.vstack([Xtr, X_aug]), np.concatenate([ytr, y_aug]),
                                           soft_targets=np.vstack([p_tr, t["aug_proba"]]),
                                           **fit_kw)
                _record(rows, model, "student", t["teacher"], s, m, Xte, yte, base)
            stack = make(alpha=1.0).fit(np.hstack([Xtr, p_tr]), ytr)
            # the stacked student needs the teacher's probabilities first: its time adds up
            _record(rows, stack, "stacking", t["teacher"], s, "stacking",
                    np.hstack([Xte, t["test_proba"]]), yte, base, t["predict_us"])
            rows[-1]["n_params"] += t["n_params"]  # its size includes the teacher's
            h = t["held"]
            sc = compat.compatibility(FAMILIES[t["teacher"]].traits, FAMILIES[s].traits,
                                      h["gram"], compat.gram(held_model, Xtr[h["rows"]]),
                                      h["proba"], held_model.predict_proba(Xtr[h["rows"]]))
            comp.append({**base, "teacher": t["teacher"], "student": s,
                         "same_paradigm": MODEL_FAMILY[t["teacher"]] == MODEL_FAMILY[s],
                         **sc})
    return {"rows": rows, "comp": comp, "valid": valid}


def _stream_oof_accuracy(Xtr, ytr, *, folds: int, seed: int) -> float:
    """Out-of-fold accuracy of the stream student alone (true labels), on the folds of the
    teachers' out-of-fold outputs."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    hits = 0.0
    for fit_idx, held_idx in cv.split(np.zeros(len(ytr)), ytr):
        _, curve = stream_distill(Xtr[fit_idx], ytr[fit_idx], Xtr[held_idx], ytr[held_idx],
                                  targets="labels", seed=seed)
        hits += curve[-1] * len(held_idx)
    return float(hits / len(ytr))


def innovation_gates(dataset: str, seed: int, teachers: dict, p_student: np.ndarray, ytr,
                     *, student: str, teacher: str, stream_student: float) -> list[dict]:
    """The out-of-fold accuracies (training split) of each innovation's teacher and student
    alone: one row per pathway, for its teacher gate."""
    classes = np.unique(ytr)
    acc = lambda p: float((classes[p.argmax(1)] == ytr).mean())  # noqa: E731
    pool = sorted(teachers)
    mix = combine([teachers[k]["oof"] for k in pool], np.full(len(pool), 1 / len(pool)))
    s_acc = acc(p_student)
    main = acc(teachers[teacher]["oof"])
    rows = [{"kind": "main", "pathway": f"{teacher} → {student}", "teacher": main,
             "student": s_acc},
            {"kind": "pool", "pathway": f"multi-teacher pool ({', '.join(pool)}, uniform) → "
             f"{student}", "teacher": acc(mix), "student": s_acc},
            {"kind": "stream", "pathway": f"{teacher} → stream student", "teacher": main,
             "student": stream_student}]
    if "mlp" in teachers:
        rows.append({"kind": "hints", "pathway": f"mlp → {student}",
                     "teacher": acc(teachers["mlp"]["oof"]), "student": s_acc})
    return [{"dataset": dataset, "seed": seed, **r} for r in rows]


def innovations_job(dataset: str, seed: int, teachers: dict, *, student: str,
                    teacher: str, temperature: float, alpha: float, n_clients: int,
                    client: str, folds: int) -> dict:
    """Every innovation the source names, on one dataset and seed: ``rows`` (one per variant)
    and ``gate`` (the out-of-fold accuracies of each pathway's teacher and student alone,
    :func:`innovation_gates`). Every teacher output a student learns from is out of fold
    (``teachers``: kind → teacher_job)."""
    Xtr, Xte, ytr, yte = seed_split(dataset, seed)
    set_seed(seed)
    classes = np.unique(ytr)
    p_tr = teachers[teacher]["oof"]
    make = lambda **kw: FAMILIES[student].student(  # noqa: E731
        seed, **{"alpha": alpha, "temperature": temperature, **kw})
    rows = []

    def add(group, variant, model=None, acc=None, **extra):
        if acc is None:
            acc = float((model.predict(Xte) == yte).mean())
        rows.append({"dataset": dataset, "seed": seed, "group": group, "variant": variant,
                     "accuracy": acc, **extra})

    add("reference", "no teacher", make().fit(Xtr, ytr))
    add("reference", f"soft, T = {temperature:g}", make().fit(Xtr, ytr, soft_targets=p_tr))
    t_dyn = dynamic_temperature(p_tr, t0=3.0)
    add("dynamic temperature", "fixed T0 = 3",
        make(temperature=3.0).fit(Xtr, ytr, soft_targets=p_tr))
    add("dynamic temperature", "dynamic T = T0 (1 + 0.1 H)",
        make(temperature=t_dyn).fit(Xtr, ytr, soft_targets=p_tr), temperature=t_dyn)
    pool = sorted(teachers)
    probs = [teachers[k]["oof"] for k in pool]
    w_rand = np.random.default_rng(seed).uniform(size=len(pool))
    for name, w in (("random weights (source)", w_rand / w_rand.sum()),
                    ("uniform", np.full(len(pool), 1 / len(pool))),
                    ("attention", attention_weights(probs))):
        add("multi-teacher", name, make().fit(Xtr, ytr, soft_targets=combine(probs, w)))
    if hasattr(make(), "warm_start"):
        add("curriculum", "easy → hard, 3 stages", fit_curriculum(make(), Xtr, ytr, p_tr))
    if hasattr(make(), "hint_weight") and teachers.get("mlp", {}).get("hidden") is not None:
        mlp = teachers["mlp"]
        add("feature-level", "soft + hints (mlp teacher)",
            make().fit(Xtr, ytr, soft_targets=mlp["oof"], hints=mlp["hidden"]))
        add("feature-level", "soft only (mlp teacher)",
            make().fit(Xtr, ytr, soft_targets=mlp["oof"]))
    # federated: no labels at the server; every teacher labels the same shared unlabeled set,
    # points no client or teacher trained on
    X_shared = transfer_set(Xtr, len(Xtr), seed=seed + 1)
    clients = lambda: FAMILIES[client].faithful_student(seed)  # noqa: E731
    for name, split_kind in ((f"{n_clients} non-IID clients (Dirichlet 0.5)", "dirichlet"),
                             (f"{n_clients} IID clients", "iid")):
        fed = federated_soft_targets(clients, Xtr, ytr, X_shared, n_clients=n_clients,
                                     seed=seed, split=split_kind)
        add("federated", name, make(alpha=0.0).fit(X_shared, classes[fed.argmax(1)],
                                                   soft_targets=fed))
    pooled = clone(clients()).fit(Xtr, ytr).predict_proba(X_shared)
    add("federated", f"central {client} on the pooled data (same model class)",
        make(alpha=0.0).fit(X_shared, classes[pooled.argmax(1)], soft_targets=pooled))
    big = FAMILIES[teacher].teacher(seed).fit(Xtr, ytr).predict_proba(X_shared)
    add("federated", f"central {teacher} teacher (larger class)",
        make(alpha=0.0).fit(X_shared, classes[big.argmax(1)], soft_targets=big))
    for targets in ("labels", "hard", "soft"):
        _, curve = stream_distill(Xtr, ytr, Xte, yte, targets=targets, teacher_probs=p_tr,
                                  temperature=temperature, seed=seed)
        add("stream", {"labels": "true labels", "hard": "teacher hard labels",
                       "soft": "teacher soft labels"}[targets], acc=curve[-1], curve=curve)
    # last, so that the variants above draw exactly what they drew before the gate existed
    gate = innovation_gates(dataset, seed, teachers,
                            oof_proba(make(), Xtr, ytr, folds=folds, seed=seed), ytr,
                            student=student, teacher=teacher,
                            stream_student=_stream_oof_accuracy(Xtr, ytr, folds=folds,
                                                                seed=seed))
    return {"rows": rows, "gate": gate}


def faithful_job(dataset: str, seed: int) -> pd.DataFrame:
    """The source's procedure on one split of ``dataset`` (split and model seed ``seed``; a
    job): one row per pair and procedure with its test accuracy (no timings, so that reruns
    give identical tables)."""
    X, y = load_dataset(dataset)
    Xtr, Xte, ytr, yte = split(X, y, seed)
    r = run_faithful(Xtr, ytr, Xte, yte, seed=seed).drop(columns=["fit_s", "predict_s"])
    return r.assign(dataset=dataset, seed=seed)

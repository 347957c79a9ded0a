"""The cross_paradigm study (source: "Cross-Paradigm Knowledge Distillation",
HeteroKD-BigData, IEEE Big Data 2025).

Three designs side by side:

* **transfer set** (:mod:`.cross_paradigm_transfer`, the primary claims): the source's generator
  drawn per seed with an unlabelled transfer set from the same distribution; per teacher →
  student pathway, KD on the transfer set against the student alone, a self-training control,
  out-of-fold soft targets on the training rows and a true-label oracle, every arm tuned on
  validation with a grid of the same size and gated by its own teacher on rows that picked
  nothing;
* **faithful** (``paradigms.faithful``): the source's five real procedures with its models, one
  stratified 80/20 split with seed 42, exactly as its code runs them (teacher outputs on the
  teacher's own training rows included), so its mode means can be regenerated;
* **sound** (training rows only): students that really learn from a teacher
  (``paradigms.soft_mlp`` for linear and neural students, ``paradigms.soft_weighting`` for
  the tree student), over several seeds (each seed its own stratified split, and its own draw
  of the synthetic set), against the no-teacher baseline of the same model class; every
  innovation the source names, implemented and measured against its own control; and the
  compatibility score tested as a predictor.

What the sound mode does so that a comparison measures transfer:

* **out-of-fold teacher outputs** (``paradigms.oof``): soft targets, hard labels, stacking
  features, hints, the multi-teacher weights and the stream's labels come from teachers that
  did not see the row; the teacher fitted on all training rows labels test rows and new points;
* **the same budget**: the transfer-set arm trains for as many gradient steps as the others and
  the soft forest grows trees of the same size (its row counts are scaled by the expansion);
  the stacked students are the same kdkit students as the soft-target ones (on [x, p_T(x)]);
* **validation, not test, for what is decided before training**: the teacher's and the
  student's accuracies out of fold on the training split gate every transfer claim (the teacher
  must beat the student alone) — per pathway where a claim is about one pathway (each
  innovation: its teacher, or its mix of teachers, against its own student alone,
  :func:`innovation_gates`), the teachers' mean where a claim averages over teachers — and the
  compatibility score is computed on a held-out fold of the training split. No gate reads a
  test accuracy.

Methods per teacher → student pathway: ``hard`` (the teacher's argmax labels), ``soft``
(α·CE + (1 − α)·T²·KL on the teacher's tempered probabilities), ``soft+transfer`` (the same plus
a transfer set of ``transfer_ratio`` × n_train synthetic points labelled by the teacher), and
``stacking`` (reported apart, not a compression: the student on [x, p_T(x)] at train and test
time). The work runs as jobs (``kdkit.jobs``): one per dataset × seed × teacher, then one per
dataset × seed for the students.
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
from ..jobs import Job
from ..paradigms import compatibility as compat
from ..paradigms.curriculum import fit_curriculum
from ..paradigms.faithful import SEED_MODE_MEANS, mode_means, run_faithful
from ..paradigms.families import FAMILIES, MODEL_FAMILY, n_parameters
from ..paradigms.feature_distill import mlp_hidden
from ..paradigms.federated import federated_soft_targets
from ..paradigms.multi_teacher import attention_weights, combine
from ..paradigms.munge import transfer_set
from ..paradigms.oof import oof_proba
from ..paradigms.stream import stream_distill
from ..paradigms.temperature import dynamic_temperature
from ..params import require, require_data
from ..stats import mean_ci, paired_test, set_seed
from .cross_paradigm_claims import (  # the claims; the notebook and tests reach them here
    GATE_DATA,  # noqa: F401
    SOURCE_CROSS,  # noqa: F401
    SOURCE_SAME,  # noqa: F401
    _fast_student_claims,  # noqa: F401
    _innovation_claims,  # noqa: F401
    claims,  # noqa: F401
    compat_claims,  # noqa: F401
    gap_claims,  # noqa: F401
    gap_per_seed,  # noqa: F401
    gate_for,  # noqa: F401
    pathway_gate,  # noqa: F401
    pooled_gate,  # noqa: F401
)

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


def check_params(p: dict) -> None:
    for key, allowed in (("datasets", DATASETS), ("faithful_datasets", DATASETS),
                         ("teachers", TEACHERS), ("students", STUDENTS),
                         ("methods", METHODS)):
        bad = sorted(set(p[key]) - set(allowed) - {d for d in p[key] if key == "datasets"
                                                   and is_file(d)})
        more = ", or the path of a .csv or .parquet table" if key == "datasets" else ""
        require(not bad, f"{key}: unknown {bad}; allowed: {', '.join(allowed)}{more}")
    for ds in filter(is_file, p["datasets"]):  # the data contract, before a kernel starts
        require_data("datasets", load_tabular_file, ds, p.get("label_column", "label"))
    require(p["datasets"] and p["teachers"] and p["students"] and p["methods"],
            "datasets, teachers, students and methods must each name at least one entry")
    require(len(p["seeds"]) >= 1, "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["temperature"] > 0, f"temperature must be > 0, got {p['temperature']}")
    require(0 <= p["alpha"] <= 1, f"alpha must lie in [0, 1], got {p['alpha']}")
    require(p["transfer_ratio"] >= 0, "transfer_ratio must be ≥ 0")
    require(p["folds"] >= 2, f"folds must be at least 2, got {p['folds']}")
    require(p["innovations_dataset"] in DATASETS,
            f"innovations_dataset must be one of {', '.join(DATASETS)}")
    require(p["n_clients"] >= 2, "n_clients must be at least 2")
    require(p["innovations_teacher"] in TEACHERS,
            f"innovations_teacher must be one of {', '.join(TEACHERS)}")
    require(p["innovations_student"] in STUDENTS,
            f"innovations_student must be one of {', '.join(STUDENTS)}")
    check_transfer_params(p)
    require(FAMILIES.get(p["federated_client"]) is not None
            and FAMILIES[p["federated_client"]].faithful_student is not None,
            "federated_client must be one of lr, rf, mlp, dnn, svm")


def check_transfer_params(p: dict) -> None:
    """The transfer-set design's parameters (:mod:`.cross_paradigm_transfer`)."""
    from .cross_paradigm_transfer import PARTS

    bad = sorted(set(p["transfer_teachers"]) - set(TEACHERS))
    require(not bad, f"transfer_teachers: unknown {bad}; allowed: {', '.join(TEACHERS)}")
    bad = sorted(set(p["transfer_students"]) - {"lr", "mlp", "dnn"})
    require(not bad, f"transfer_students: {bad} cannot take the same gradient steps; allowed: "
            "lr, mlp, dnn")
    rows = p["transfer_rows"]
    require(isinstance(rows, dict) and set(rows) == set(PARTS)
            and all(int(v) >= 10 for v in rows.values()),
            f"transfer_rows must give at least 10 rows for each of {', '.join(PARTS)}")
    require(len(p["kd_grid"]) >= 1 and all(len(c) == 2 and 0 <= c[0] <= 1 and c[1] > 0
                                            for c in p["kd_grid"]),
            "kd_grid is a list of [alpha, T] pairs with alpha in [0, 1] and T > 0")
    require(len(p["ls_grid"]) == len(p["kd_grid"]) and all(0 <= e < 1 for e in p["ls_grid"]),
            "ls_grid (label smoothing of the arms without soft targets) must hold as many "
            "values in [0, 1) as kd_grid: every arm gets a grid of the same size")
    require(p["epochs"] >= 1, "epochs must be at least 1")
    from .. import methods as kd_methods
    from .cross_paradigm_transfer import ARM_COLUMNS, FED_CLIENTS, PLUGIN_KIND

    fed = list(p.get("transfer_federated_clients") or ["rf100"])
    bad = sorted(set(fed) - set(FED_CLIENTS))
    require(not bad and len(set(fed)) == len(fed),
            f"transfer_federated_clients: unknown or repeated {bad or fed}; allowed: "
            f"{', '.join(FED_CLIENTS)}")

    kd_methods.check_names(PLUGIN_KIND, p.get("transfer_methods") or [], (),
                           key="transfer_methods")
    clash = sorted(set(p.get("transfer_methods") or []) & set(ARM_COLUMNS))
    require(not clash, f"transfer_methods: {clash} are built-in arms; name plug-ins by their "
            "import path (mypkg.targets:sharpen)")


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


def run_sound(p: dict, runner) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Teachers (one job each), then students (one job per dataset and seed)."""
    label = p.get("label_column", "label")
    tjobs = [Job(teacher_job, (ds, s, t), {"folds": p["folds"], "label": label,
                                           "transfer_ratio": p["transfer_ratio"]},
                 name=f"{ds} seed {s} teacher {t}")
             for ds in p["datasets"] for s in p["seeds"] for t in p["teachers"]]
    teachers = runner.run(tjobs, "teachers (out of fold)")
    by = {}
    for t in teachers:
        by.setdefault((t["dataset"], t["seed"]), []).append(t)
    sjobs = [Job(students_job, (ds, s, by[(ds, s)]),
                 {"students": p["students"], "methods": p["methods"],
                  "temperature": p["temperature"], "alpha": p["alpha"],
                  "transfer_ratio": p["transfer_ratio"], "folds": p["folds"],
                  "label": label},
                 name=f"{ds} seed {s} students") for ds in p["datasets"] for s in p["seeds"]]
    done = runner.run(sjobs, "students")
    return (pd.DataFrame([r for d in done for r in d["rows"]]),
            pd.DataFrame([r for d in done for r in d["comp"]]),
            pd.DataFrame([r for d in done for r in d["valid"]]))


def gains(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed, pathway and method: accuracy − the same student's baseline."""
    st = rows[rows["role"].isin(["student", "stacking"])]
    base = st[st["method"] == "baseline"].set_index(["dataset", "seed", "student"])["accuracy"]
    out = st[st["method"] != "baseline"].copy()
    out["baseline"] = base.reindex(
        pd.MultiIndex.from_frame(out[["dataset", "seed", "student"]])).to_numpy()
    out["gain"] = out["accuracy"] - out["baseline"]
    return out


def gain_table(g: pd.DataFrame) -> pd.DataFrame:
    """Mean gain per dataset × pathway × method with its paired CI and p-value."""
    out = []
    for (ds, t, s, m), h in g.groupby(["dataset", "teacher", "student", "method"], sort=False):
        rec = {"dataset": ds, "teacher": t, "student": s, "method": m,
               "accuracy": h["accuracy"].mean(), "baseline": h["baseline"].mean()}
        if len(h) >= 2:
            c = paired_test(h["accuracy"], h["baseline"])
            rec.update(gain=c.mean_diff, gain_lo=c.ci_low, gain_hi=c.ci_high, p=c.p_value,
                       test=c.test)
        else:
            rec.update(gain=float(h["gain"].iloc[0]), gain_lo=None, gain_hi=None, p=None,
                       test="")
        out.append(rec)
    return pd.DataFrame(out)


# ------------------------------------------------------------------ innovations


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


def run_innovations(p: dict, runner) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per seed and variant, the pathways' out-of-fold gate table)."""
    ds = p["innovations_dataset"]
    kinds = sorted({p["innovations_teacher"], "rf", "mlp", "svm"})
    tjobs = [Job(teacher_job, (ds, s, k), {"folds": p["folds"], "transfer_ratio": 0.0,
                                           "hints": k == "mlp"},
                 name=f"{ds} seed {s} teacher {k}") for s in p["seeds"] for k in kinds]
    done = runner.run(tjobs, "innovation teachers")
    by = {}
    for t in done:
        by.setdefault(t["seed"], {})[t["teacher"]] = t
    ijobs = [Job(innovations_job, (ds, s, by[s]),
                 {"student": p["innovations_student"], "teacher": p["innovations_teacher"],
                  "temperature": p["temperature"], "alpha": p["alpha"],
                  "n_clients": p["n_clients"], "client": p["federated_client"],
                  "folds": p["folds"]}, name=f"{ds} seed {s} innovations")
             for s in p["seeds"]]
    done = runner.run(ijobs, "innovations")
    return (pd.DataFrame([r for d in done for r in d["rows"]]),
            pd.DataFrame([r for d in done for r in d["gate"]]))


def faithful_job(dataset: str, seed: int) -> pd.DataFrame:
    """The source's procedure on one split of ``dataset`` (split and model seed ``seed``; a
    job): one row per pair and procedure with its test accuracy (no timings, so that reruns
    give identical tables)."""
    X, y = load_dataset(dataset)
    Xtr, Xte, ytr, yte = split(X, y, seed)
    r = run_faithful(Xtr, ytr, Xte, yte, seed=seed).drop(columns=["fit_s", "predict_s"])
    return r.assign(dataset=dataset, seed=seed)


def faithful_over_seeds(p: dict, runner) -> pd.DataFrame:
    """The source's procedure replayed on every seed's split of each ``faithful_datasets``
    entry: the decomposition of its cross − same gap over seeds (:func:`gap_claims`). Empty
    when ``replay_seeds`` is false (on the 10,000-row synthetic set a replay takes ~2.5 min a
    seed on one core)."""
    if not p.get("replay_seeds", True):
        return pd.DataFrame()
    jobs = [Job(faithful_job, (ds, s), name=f"faithful {ds} seed {s}")
            for ds in p["faithful_datasets"] for s in p["seeds"]]
    return pd.concat(runner.run(jobs, "faithful replay over seeds"), ignore_index=True)


def faithful_study(datasets, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-pair rows, mode means vs the source's) for each dataset."""
    rows, means = [], []
    for ds in datasets:
        X, y = load_dataset(ds)
        Xtr, Xte, ytr, yte = split(X, y, seed)
        r = run_faithful(Xtr, ytr, Xte, yte, seed=seed)
        r.insert(0, "dataset", ds)
        rows.append(r)
        ours = mode_means(r)
        for mode, v in ours.items():
            ref = SEED_MODE_MEANS.get(ds, {}).get(mode)
            means.append({"dataset": ds, "mode": mode, "ours": v, "source": ref,
                          "difference": None if ref is None else v - ref})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(means)


# ------------------------------------------------------------------ tables


def compression_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and model: accuracy with CI, size and inference time per sample."""
    df = rows.copy()
    df["model"] = np.where(df["role"] == "teacher", "teacher " + df["teacher"],
                           np.where(df["method"] == "baseline", df["student"] + " (no teacher)",
                                    df["teacher"] + " → " + df["student"] + " " + df["method"]))
    out = []
    for (ds, role, method, model), h in df.groupby(["dataset", "role", "method", "model"],
                                                   sort=False):
        e = mean_ci(h["accuracy"])
        out.append({"dataset": ds, "role": role, "method": method, "model": model,
                    "accuracy": e.mean, "accuracy_lo": e.ci_low, "accuracy_hi": e.ci_high,
                    "n_params": int(h["n_params"].median()),
                    "predict_us": float(h["predict_us"].median())})
    return pd.DataFrame(out)


def headline(g: pd.DataFrame) -> str:
    st = g[(g["role"] == "student") & (g["method"] == "soft")]
    by = st.groupby("dataset")["gain"].mean()
    return ("Soft-target KD with out-of-fold teacher outputs, mean gain over the no-teacher "
            "student: " + ", ".join(f"{d} {v:+.4f}" for d, v in by.items()) + ".")


def metrics_tree(g: pd.DataFrame, comp: pd.DataFrame, innov: pd.DataFrame,
                 faithful_means: pd.DataFrame, *, seeds) -> dict:
    """Deterministic numbers for metrics.json (no timings)."""
    st = g[g["role"] == "student"]
    soft = st[st["method"] == "soft"]
    head = {"soft-target gain (mean over pathways)": float(soft["gain"].mean()),
            "seeds": len(seeds)}
    diffs = faithful_means["difference"].dropna().abs()
    if len(diffs):
        head["faithful max |diff| vs source mode means"] = float(diffs.max())
    out = {"headline": head,
           "gain_by_method": {m: float(h["gain"].mean()) for m, h in g.groupby("method")},
           "faithful_mode_means": {f"{r.dataset}/{r.mode}": float(r.ours)
                                   for r in faithful_means.itertuples()},
           "soft_gain": {f"{k[0]}/{k[1]}->{k[2]}": float(v) for k, v in
                         soft.groupby(["dataset", "teacher", "student"])["gain"].mean().items()},
           "compatibility": {f"{k[0]}/{k[1]}->{k[2]}": float(v) for k, v in
                             comp.groupby(["dataset", "teacher", "student"])["C"].mean().items()},
           "innovations": {f"{k[0]}/{k[1]}": float(v) for k, v in
                           innov.groupby(["group", "variant"])["accuracy"].mean().items()}
           if len(innov) else {}}
    return out

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

import numpy as np
import pandas as pd

from ..data.tabular_file import load_tabular_file
from ..jobs import Job
from ..paradigms.faithful import SEED_MODE_MEANS, mode_means, run_faithful
from ..paradigms.families import FAMILIES
from ..params import require, require_data
from ..stats import mean_ci, paired_test
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
from .cross_paradigm_jobs import (  # noqa: F401  (the jobs and data; one namespace)
    DATASETS,
    METHODS,
    SOURCE,
    STUDENTS,
    SYNTHETIC,
    TABLE_SUFFIXES,
    TEACHERS,
    _holdout,
    _record,
    _stream_oof_accuracy,
    _timed_predict,
    dataset_name,
    faithful_job,
    innovation_gates,
    innovations_job,
    is_file,
    load_dataset,
    seed_split,
    split,
    students_job,
    teacher_job,
)


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

"""The bpr_kd study (source: "Knowledge Distillation for Recommender System Efficiency"):
an MF teacher distilled into smaller MF students with a hybrid BPR + soft loss.

Protocol, built so that every compared arm gets the same chance:

* **data**: each seed draws its own split (and its own synthetic data set) unless
  ``data_seed`` fixes it; per-user 8:1:1 (RecBole's RS) or leave-one-out;
* **models**: BPR-MF with biases trained by per-sample SGD (``recsys.bpr_sgd``, kdkit's fast
  path), early stopping on validation NDCG@K (restoring the best epoch);
* **tuning parity**: every arm — the teacher, the student alone at each size, each KD method
  and each control — picks its learning rate and regularisation from the *same* grid on
  validation, per seed and size (``kdkit.tuning``), and is scored on test once;
* **KD hyperparameters** (α and τ of the two readings, RD's α) are chosen before the main run
  on the validation split of the first seed (the α × τ sweep), then fixed for every seed;
* **controls** telling transfer from regularisation: the same KD loss from a *born-again*
  teacher (the tuned student alone of the same size) and from a *shuffled* teacher (the real
  teacher's scores permuted across users). A transfer claim is supported only when the real
  teacher beats both, and judged only when the teacher beats the student alone on the
  **held-out half of validation** (``evaluate(..., "gate")``: users that chose neither a
  checkpoint nor a hyperparameter; early stopping and tuning read the other half, "valid");
* **claims**: every claim has an id; the study's ``primary`` param names the source's headline
  claims (synthetic set, student 32 — the setting closest to the source's), ``delta`` the
  smallest effect of interest per metric. The source's *sizes* (44 %, −6 %, …) are separate
  size claims, not testable here: its synthetic generator is undisclosed (ours only matches its
  500 users + 1,000 items) and MovieLens-100k is another data set.

The work runs as jobs (``kdkit.jobs``): (1) teachers and students alone, (2) the KD sweep,
(3) every KD arm and control; each job seeds itself, so the tables do not depend on where the
jobs ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..claims import (
    Claim,
    Deltas,
    beats_controls,
    paired_claim,
    size_claim,
    teacher_gate,
    value_verdict,
)
from ..data.load import load_interactions
from ..distill.bpr_kd import margin_kd, user_permutation
from ..distill.ranking import candidate_kd
from ..jobs import Job
from ..params import require
from ..recsys.bpr_mf import BPRMF, n_params
from ..recsys.bpr_sgd import train_bpr_sgd
from ..recsys.latency import latency_per_user
from ..recsys.metrics import evaluate
from ..stats import mean_ci, paired_test, set_seed, summarize
from ..tuning import check_parity, expand, tune

KD_METHODS = ("kd_margin", "kd_sigmoid", "rd")
CONTROLS = ("born-again", "shuffled")
LABELS = {"teacher": "Teacher", "student": "Student alone", "kd_margin": "KD, margin reading",
          "kd_sigmoid": "KD, sigmoid reading", "rd": "Ranking distillation"}
SPLITS = ("ratio", "loo")
SOURCE = ("Knowledge Distillation for Recommender System Efficiency (BPR-MF, hybrid loss)",
          "")


def gate_col(metric: str) -> str:
    """The column of ``metric`` on the held-out half of validation (the gates' data)."""
    return f"gate {metric}"


def arm_name(method: str, control: str | None = None) -> str:
    return method if control is None else f"{method} / {control} teacher"


def arm_label(arm: str) -> str:
    method, _, control = arm.partition(" / ")
    label = LABELS.get(method, method)
    return f"{label}, {control}" if control else label


# ------------------------------------------------------------------ parameters


def check_params(p: dict) -> None:
    """Study-specific checks beyond types, run by ``kdkit run`` before anything trains."""
    require(p["datasets"], "datasets is empty; give at least one of synthetic, ml-100k, or a "
            "folder with train.csv/valid.csv/test.csv")
    for ds in p["datasets"]:
        require(ds in ("synthetic", "ml-100k") or Path(ds).expanduser().is_dir(),
                f"datasets: unknown '{ds}'; allowed: synthetic, ml-100k, or an existing folder "
                "with train.csv/valid.csv/test.csv")
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["split"] in SPLITS, f"split '{p['split']}' is not one of {', '.join(SPLITS)}")
    for name in ("teacher_dim", "k", "rd_k", "max_epochs", "eval_every", "patience", "threads",
                 "workers"):
        require(p[name] >= 1, f"{name} must be at least 1, got {p[name]}")
    require(p["student_dims"] and all(d >= 1 for d in p["student_dims"]),
            "student_dims must be a non-empty list of sizes ≥ 1")
    require(all(d < p["teacher_dim"] for d in p["student_dims"]),
            f"student_dims must be smaller than teacher_dim ({p['teacher_dim']})")
    bad = sorted(set(p["methods"]) - set(KD_METHODS))
    require(not bad, f"methods has unknown {bad}; allowed: {', '.join(KD_METHODS)}")
    bad = sorted(set(p["controls"]) - set(CONTROLS))
    require(not bad, f"controls has unknown {bad}; allowed: {', '.join(CONTROLS)}")
    for name in ("kd_alphas", "rd_alphas"):
        require(p[name] and all(a > 0 for a in p[name]), f"{name} must be positive values")
    require(all(a <= 1 for a in p["kd_alphas"]), "kd_alphas must lie in (0, 1]")
    require(p["kd_temperatures"] and all(t > 0 for t in p["kd_temperatures"]),
            "kd_temperatures must be > 0")
    require(p["grid"], "grid is empty; give {dataset or 'default': {lr: [...], reg: [...]}}")
    for ds, g in p["grid"].items():
        require(ds == "default" or ds in p["datasets"] or ds in ("synthetic", "ml-100k"),
                f"grid names '{ds}', which is not a data set; allowed: default, "
                f"{', '.join(p['datasets'])}")
        require(isinstance(g, dict) and set(g) == {"lr", "reg"},
                f"grid['{ds}'] must be a mapping with exactly lr and reg lists")
        require(all(isinstance(v, list) and v and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in v)
            for v in g.values()), f"grid['{ds}'] values must be non-empty lists of numbers > 0")
    sizes = {len(expand(grid_for(p, ds))) for ds in p["datasets"]}
    require(len(sizes) == 1, "every data set's grid must have the same number of points")


def grid_for(p: dict, dataset: str) -> dict:
    return p["grid"].get(dataset, p["grid"].get("default"))


# ------------------------------------------------------------------ data and training


@dataclass(frozen=True)
class DataSpec:
    dataset: str
    split: str
    data_seed: int | None
    synthetic: tuple
    ml100k_path: str | None


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
    raise ValueError(f"unknown method '{method}'; allowed: {', '.join(KD_METHODS)}")


def arm_job(spec: DataSpec, seed: int, arm: str, dim: int, grid: dict, sched: Schedule,
            teacher: BPRMF | None = None, kd: dict | None = None) -> dict:
    """Tune one arm on one seed (its grid on the select half of validation), score the chosen
    model on test once and on the held-out half of validation (``gate`` columns: the data the
    teacher gate reads, which chose neither its checkpoint nor its hyperparameters)."""
    data = load(spec, seed)
    method, _, control = arm.partition(" / ")
    shuffle = user_permutation(data.n_users, seed + 7919) if control.startswith("shuffled") \
        else None

    def fit_config(config):
        if method in ("teacher", "student"):
            return fit(data, dim, config, seed, sched)
        margin, cand = kd_loss(method, teacher, data, kd, shuffle)
        return fit(data, dim, config, seed, sched, kd=margin, rd=cand)

    t = tune(arm, seed, grid, fit_config,
             lambda m: evaluate(m, data, "test", (sched.k,), name=f"{arm} dim {dim}"),
             keep_model=True)
    held_out = evaluate(t.model, data, "gate", (sched.k,), name=f"{arm} dim {dim}",
                        first_hit=False)
    row = {"dataset": spec.dataset, "seed": seed, "arm": arm, "dim": dim,
           "params": n_params(t.model), "valid": t.valid, **t.chosen, **t.test,
           **{gate_col(m): v for m, v in held_out.items()}}
    trials = [{"dataset": spec.dataset, "seed": seed, "arm": arm, "dim": dim, **tr["config"],
               f"validation {sched.metric}": tr["valid"], "epochs": tr.get("epochs"),
               "diverged": tr.get("diverged", False), "chosen": tr["config"] == t.chosen}
              for tr in t.trials]
    return {"row": row, "trials": trials, "model": t.model}


def kd_sweep_job(spec: DataSpec, seed: int, dim: int, config: dict, sched: Schedule,
                 teacher: BPRMF, method: str, values: dict) -> dict:
    """One point of the KD hyperparameter sweep: validation score only (test untouched)."""
    data = load(spec, seed)
    kd = {method: {**values, "k": values.get("k", 10)}}
    margin, cand = kd_loss(method, teacher, data, kd)
    try:
        _, valid, info = fit(data, dim, config, seed, sched, kd=margin, rd=cand)
    except FloatingPointError:  # a diverged point is never chosen
        valid, info = float("nan"), {"epochs": None}
    return {"dataset": spec.dataset, "seed": seed, "method": method, **values,
            f"validation {sched.metric}": valid, "epochs": info["epochs"]}


# ------------------------------------------------------------------ the study


def run(p: dict, runner, progress=print) -> dict:
    """Every stage of the study (module docstring); returns its tables and models."""
    say = progress or (lambda m: None)
    sched = Schedule(p["max_epochs"], p["eval_every"], p["patience"], p["k"])
    synthetic = (("n_users", p["synthetic_users"]), ("n_items", p["synthetic_items"]),
                 ("density", p["synthetic_density"]))
    specs = {ds: DataSpec(ds, p["split"], p["data_seed"], synthetic, p["ml100k_path"])
             for ds in p["datasets"]}
    seeds, dims = p["seeds"], sorted(p["student_dims"])
    arms = [arm_name(m, c) for m in p["methods"] for c in (None, *p["controls"])]
    check_parity({a: grid_for(p, ds) for ds in specs for a in ["teacher", "student", *arms]})

    # stage 1: teachers and students alone
    stage1 = [Job(arm_job, (specs[ds], s, "teacher", p["teacher_dim"], grid_for(p, ds), sched),
                  name=f"{ds} seed {s} teacher") for ds in specs for s in seeds]
    stage1 += [Job(arm_job, (specs[ds], s, "student", d, grid_for(p, ds), sched),
                   name=f"{ds} seed {s} student-{d}") for ds in specs for s in seeds
               for d in dims]
    done = runner.run(stage1, "teachers and students alone")
    models = {(r["row"]["dataset"], r["row"]["seed"], r["row"]["arm"], r["row"]["dim"]):
              r["model"] for r in done}
    chosen = {(r["row"]["dataset"], r["row"]["seed"], r["row"]["arm"], r["row"]["dim"]):
              {"lr": r["row"]["lr"], "reg": r["row"]["reg"]} for r in done}
    say("stage 1 done: " + ", ".join(
        f"{ds} teacher {np.mean([r['row'][sched.metric] for r in done if r['row']['dataset'] == ds and r['row']['arm'] == 'teacher']):.4f}"  # noqa: E501
        for ds in specs))

    # stage 2: the KD hyperparameters, on validation of the first seed at the largest size
    s0, d0 = seeds[0], dims[-1]
    sweep_jobs = []
    for ds in specs:
        teacher, config = models[(ds, s0, "teacher", p["teacher_dim"])], \
            chosen[(ds, s0, "student", d0)]
        for m in p["methods"]:
            if m == "kd_sigmoid":
                values = [{"alpha": a, "temperature": t} for a in p["kd_alphas"]
                          for t in p["kd_temperatures"]]
            elif m == "kd_margin":
                values = [{"alpha": a} for a in p["kd_alphas"]]
            else:
                values = [{"alpha": a, "k": p["rd_k"]} for a in p["rd_alphas"]]
            sweep_jobs += [Job(kd_sweep_job, (specs[ds], s0, d0, config, sched, teacher, m, v),
                               name=f"{ds} {m} {v}") for v in values]
    sweep = pd.DataFrame(runner.run(sweep_jobs, "KD hyperparameters (validation)"))
    col = f"validation {sched.metric}"
    kd = {}
    for ds in specs:
        kd[ds] = {}
        for m in p["methods"]:
            g = sweep[(sweep["dataset"] == ds) & (sweep["method"] == m)]
            best = g.loc[g[col].idxmax()]
            kd[ds][m] = {k: (float(best[k]) if k != "k" else int(best[k]))
                         for k in ("alpha", "temperature", "k") if k in g and pd.notna(best[k])}
    say("KD hyperparameters: " + "; ".join(f"{ds} {m} {v}" for ds in kd
                                            for m, v in kd[ds].items()))

    # stage 3: KD arms and controls, every seed and size
    stage3 = []
    for ds in specs:
        for s in seeds:
            for d in dims:
                for arm in arms:
                    method, _, control = arm.partition(" / ")
                    teacher = models[(ds, s, "student", d)] if control.startswith("born") \
                        else models[(ds, s, "teacher", p["teacher_dim"])]
                    stage3.append(Job(arm_job, (specs[ds], s, arm, d, grid_for(p, ds), sched,
                                                teacher, kd[ds]), name=f"{ds} seed {s} {arm}-{d}"))
    done += runner.run(stage3, "KD arms and controls")
    for r in done:
        row = r["row"]
        models[(row["dataset"], row["seed"], row["arm"], row["dim"])] = r["model"]
    results = pd.DataFrame([r["row"] for r in done])
    trials = pd.DataFrame([t for r in done for t in r["trials"]])
    return {"results": results, "trials": trials, "kd_sweep": sweep, "kd": kd,
            "models": models, "schedule": asdict(sched)}


def latency(models: dict, datasets, seeds, teacher_dim: int, dim: int, k: int,
            repeats: int = 3) -> pd.DataFrame:
    """Single-user and batched top-k latency of the teacher, the student alone and the
    margin-KD student (the source's three models), timed together per seed."""
    rows = []
    for ds in datasets:
        for s in seeds:
            chosen = {"teacher": models[(ds, s, "teacher", teacher_dim)],
                      "student": models[(ds, s, "student", dim)]}
            if (ds, s, "kd_margin", dim) in models:
                chosen["kd_margin"] = models[(ds, s, "kd_margin", dim)]
            n_users = chosen["teacher"].n_users
            timed = latency_per_user(chosen, np.arange(n_users), k=k, repeats=repeats, seed=s)
            for arm, t in timed.items():
                rows.append({"dataset": ds, "seed": s, "arm": arm, **t})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ claims


SOURCE_VALUES = {("teacher", "Recall"): 0.140, ("teacher", "NDCG"): 0.0658,
                 ("student", "Recall"): 0.097, ("student", "NDCG"): 0.0500,
                 ("kd_margin", "Recall"): 0.091, ("kd_margin", "NDCG"): 0.0432}
SOURCE_DIMS = (64, 32)  # the source's teacher and student sizes


def claim_id(what: str, dim: int | None = None, ds: str | None = None) -> str:
    """A claim's id in the claims table: ``what@dim/dataset``, e.g.
    ``kd_margin<student@32/synthetic`` (the ``primary`` param lists such ids)."""
    return what + (f"@{dim}" if dim is not None else "") + (f"/{ds}" if ds is not None else "")


def source_dim(dims) -> int:
    """The student size closest to the source's (32; the larger on a tie)."""
    return min(dims, key=lambda d: (abs(d - SOURCE_DIMS[1]), -d))


def source_differs(ds: str, teacher_dim: int, dim: int, k: int = 10) -> str:
    """How this setting differs from the source's (empty where it would match): the reason its
    single-run sizes (+44 %, −6 %, …) are not held against ours. No data set here matches: the
    source's synthetic generator is undisclosed and its ranking protocol unstated."""
    parts = [("our synthetic set shares only the source's 500 users + 1,000 items (the source's "
              "generator is undisclosed, its ranking protocol unstated)") if ds == "synthetic"
             else f"{ds} is not the source's (undisclosed) synthetic data"]
    if (teacher_dim, dim) != SOURCE_DIMS:
        parts.append(f"teacher {teacher_dim} / student {dim}, not the source's "
                     f"{SOURCE_DIMS[0]} / {SOURCE_DIMS[1]}")
    if k != 10:
        parts.append(f"@{k}, not the source's @10")
    return "; ".join(parts)


def _wide(results, ds, col, dim=None):
    """Per seed (rows) and arm (columns): ``col`` on data set ``ds`` at student size ``dim``
    (the teacher always included)."""
    g = results[results["dataset"] == ds]
    if dim is not None:
        g = g[(g["dim"] == dim) | (g["arm"] == "teacher")]
    return g.pivot_table(index="seed", columns="arm", values=col)


def _size_claims(results: pd.DataFrame, teacher_dim: int, dim: int) -> list[Claim]:
    """Parameter counts read off the models trained on the synthetic set (the source's
    setting: 500 users + 1,000 items); descriptive."""
    syn = results[results["dataset"] == "synthetic"]
    teacher = syn.loc[syn["arm"] == "teacher", "params"]
    student = syn.loc[(syn["arm"] == "student") & (syn["dim"] == dim), "params"]
    texts = [("Teacher MF-64 has 97,500 parameters", "97500", "params:teacher"),
             ("Students MF-32 have 49,500 parameters", "49500", "params:student"),
             ("Compression ratio 1.97×", "1.97", "params:ratio"),
             ("49.5% model compression", "49.5", "params:reduction")]
    d = "descriptive"
    if teacher.empty or student.empty or (teacher_dim, dim) != SOURCE_DIMS:
        return [Claim(t, v, None, None, None, "not testable",
                      "needs the synthetic set with a dim-64 teacher and a dim-32 student",
                      id=i, family=d) for t, v, i in texts]
    t_params, s_params = int(teacher.iloc[0]), int(student.iloc[0])
    ratio = t_params / s_params
    reduction = 100 * (1 - 1 / ratio)
    note = "counted on the trained models: embeddings + one bias per user and item"
    (t0, v0, i0), (t1, v1, i1), (t2, v2, i2), (t3, v3, i3) = texts
    return [
        Claim(t0, v0, t_params, None, None, value_verdict(97_500, t_params, t_params), note,
              id=i0, family=d),
        Claim(t1, v1, s_params, None, None, value_verdict(49_500, s_params, s_params), note,
              id=i1, family=d),
        Claim(t2, v2, round(ratio, 4), None, None,
              value_verdict(1.97, ratio, ratio, rel_tol=0.005), "teacher / student parameters",
              id=i2, family=d),
        Claim(t3, v3, round(reduction, 2), None, None,
              value_verdict(49.5, reduction, reduction),
              f"the reduction is {reduction:.1f}%; 49.5 is the student's size in thousands of "
              "parameters", id=i3, family=d),
    ]


def claims(results: pd.DataFrame, lat: pd.DataFrame, *, teacher_dim: int, dims, k: int = 10,
           methods=KD_METHODS, controls=CONTROLS, delta=None) -> list[Claim]:
    """The source's claims, each against what this run measured, at every student size.

    Every claim has an id (:func:`claim_id`); ``delta`` (the study's ``delta`` param or a
    :class:`~kdkit.claims.Deltas`) gives the smallest effect of interest of each metric to the
    direction claims. The source's single-run sizes are separate size claims, at the student
    size closest to its own, not testable where the setting differs (:func:`source_differs`).
    Parameter counts, absolute values and latencies are descriptive."""
    R = f"Recall@{k}"
    deltas = delta if isinstance(delta, Deltas) else Deltas(delta)
    near = source_dim(dims)
    out = _size_claims(results, teacher_dim, near)
    for ds in results["dataset"].unique():
        g = results[results["dataset"] == ds]
        for (arm, metric), v in SOURCE_VALUES.items():
            sel = g[(g["arm"] == arm) & ((g["dim"] == near) | (arm == "teacher"))]
            if len(sel):
                e = mean_ci(sel[f"{metric}@{k}"])
                out.append(Claim(f"{arm_label(arm)} {metric}@{k} = {v} [{ds}]", str(v), e.mean,
                                 e.ci_low, e.ci_high, "not testable",
                                 "an absolute value on the source's undisclosed synthetic data; "
                                 "ours is another data set, shown for scale",
                                 id=claim_id(f"value:{arm}:{metric}@{k}", None, ds),
                                 family="descriptive"))
        wide_r = _wide(results, ds, R, near)
        if {"teacher", "student"} <= set(wide_r):
            tag = f"(dim {near}) [{ds}]"
            rel = 0.140 / 0.097 - 1
            out.append(paired_claim(wide_r["teacher"], wide_r["student"], ">",
                                    f"Teacher beats the student alone on {R} {tag}",
                                    "0.140 vs 0.097",
                                    "both tuned on validation with the same grid: a "
                                    "measurement, not an artefact of tuning",
                                    key=claim_id("teacher>student", near, ds), relative=True,
                                    **deltas.kwargs(R)))
            out.append(size_claim(wide_r["teacher"], wide_r["student"],
                                  f"Teacher beats the student alone on {R} by the source's "
                                  f"44% {tag}", rel,
                                  differs=source_differs(ds, teacher_dim, near, k),
                                  source_value=f"0.140 vs 0.097 ({rel:+.1%})",
                                  key=claim_id("size:teacher>student", near, ds)))
        for dim in dims:
            out += _transfer_claims(results, ds, dim, k, methods, controls, deltas,
                                    sizes=dim == near, teacher_dim=teacher_dim)
    out += _latency_claims(lat, max(dims))
    return out


def _transfer_claims(results, ds, dim, k, methods, controls, deltas, *, sizes=False,
                     teacher_dim=SOURCE_DIMS[0]) -> list[Claim]:
    """The claims about what KD does at student size ``dim``, each gated on the teacher
    beating the student alone on the held-out half of validation (``gate`` columns)."""
    R, N = f"Recall@{k}", f"NDCG@{k}"
    wr, wn = _wide(results, ds, R, dim), _wide(results, ds, N, dim)
    held = _wide(results, ds, gate_col(N), dim)
    if not {"teacher", "student"} <= set(held):
        return []
    gate = teacher_gate(held["teacher"], held["student"], metric=N)
    tag = f"(dim {dim}) [{ds}]"
    differs = source_differs(ds, teacher_dim, dim, k)
    out = []
    specs = [("kd_margin", "margin reading", R, "", "0.091 vs 0.097", 0.091 / 0.097 - 1, wr),
             ("kd_margin", "margin reading", N, ":NDCG", "0.0432 vs 0.0500",
              0.0432 / 0.0500 - 1, wn),
             ("kd_sigmoid", "sigmoid reading", R, "", "0.091 vs 0.097", 0.091 / 0.097 - 1, wr)]
    for arm, reading, metric, suffix, sv, rel, w in specs:
        if arm in methods and arm in w:
            what = f"{arm}<student{suffix}"
            text = f"Negative transfer: KD ({reading}) below the student alone on {metric}"
            out.append(paired_claim(w[arm], w["student"], "<", f"{text} {tag}", sv,
                                    key=claim_id(what, dim, ds), relative=True, gates=[gate],
                                    **deltas.kwargs(metric)))
            if sizes:
                out.append(size_claim(w[arm], w["student"],
                                      f"{text} by the source's {abs(rel):.0%} {tag}", rel,
                                      differs=differs, source_value=f"{sv} ({rel:+.1%})",
                                      key=claim_id(f"size:{what}", dim, ds), gates=[gate]))
    if "rd" in wr and "kd_margin" in wr:
        out.append(paired_claim(wr["rd"], wr["kd_margin"], ">",
                                f"Ranking distillation beats the hybrid loss on {R} {tag}",
                                "suggested remedy (no value)",
                                "the source's diagnosis: needs ranking-aware strategies",
                                key=claim_id("rd>kd_margin", dim, ds), relative=True,
                                gates=[gate], **deltas.kwargs(R)))
    for m in methods:
        ctrl = {c: wr[arm_name(m, c)] for c in controls if arm_name(m, c) in wr}
        if m in wr and ctrl:
            out.append(beats_controls(
                wr[m], ctrl, f"{arm_label(m)} transfers the teacher's knowledge: beats the "
                f"born-again and shuffled-teacher controls on {R} {tag}", "",
                "transfer beyond regularisation: the same loss from a same-size or a "
                "shuffled teacher", key=claim_id(f"{m}>controls", dim, ds), gates=[gate]))
    return out


def _latency_claims(lat: pd.DataFrame, dim: int) -> list[Claim]:
    """Latency (descriptive): the direction over seeds, and the source's size, which is not
    testable here (one timing on other hardware)."""
    specs = [("kd_margin", "teacher", "<", "Distilled student is {}faster than the teacher",
              "6% ", "0.173 vs 0.185 ms", 0.173 / 0.185 - 1, "latency:kd_margin<teacher"),
             ("student", "teacher", ">", "Standard student is {}slower than the teacher",
              "21% ", "0.224 vs 0.185 ms", 0.224 / 0.185 - 1, "latency:student>teacher"),
             ("kd_margin", "student", "<", "Distilled student is {}faster than the standard "
              "student (same architecture)", "23% ", "0.173 vs 0.224 ms", 0.173 / 0.224 - 1,
              "latency:kd_margin<student")]
    note = "median single-user top-10 latency in ms; timings vary per run"
    differs = ("timed on this machine; the source's milliseconds come from one run on other "
               "hardware and software")
    out = []
    for ds, g in lat.groupby("dataset", sort=False):
        w = g.pivot_table(index="seed", columns="arm", values="latency_ms")
        for a, b, e, t, by, s, rel, key in specs:
            if a in w and b in w:
                out.append(paired_claim(w[a], w[b], e, f"{t.format('')} (dim {dim}) [{ds}]", s,
                                        note, key=claim_id(key, None, ds),
                                        family="descriptive", relative=True))
                out.append(size_claim(w[a], w[b], f"{t.format(by)} (dim {dim}) [{ds}]", rel,
                                      differs=differs, source_value=s, note=note,
                                      key=claim_id(f"size:{key}", None, ds),
                                      family="descriptive"))
    return out


# ------------------------------------------------------------------ tables and summaries


PAIRED_COLUMNS = ["dataset", "dim", "comparison", "metric", "mean_diff", "ci_low", "ci_high",
                  "p_value", "test", "n"]


def paired_table(results: pd.DataFrame, metric: str, pairs, dims) -> pd.DataFrame:
    """Paired tests A − B over seeds, per data set and student size (empty with < 2 seeds)."""
    out = []
    for ds in results["dataset"].unique():
        for dim in dims:
            wide = _wide(results, ds, metric, dim)
            for a, b in pairs:
                if a in wide and b in wide and len(wide) >= 2:
                    c = paired_test(wide[a], wide[b])
                    out.append({"dataset": ds, "dim": dim, "comparison": f"{a} − {b}",
                                "metric": metric, "mean_diff": c.mean_diff, "ci_low": c.ci_low,
                                "ci_high": c.ci_high, "p_value": c.p_value, "test": c.test,
                                "n": c.n})
    return pd.DataFrame(out, columns=PAIRED_COLUMNS)


def summary_table(results: pd.DataFrame, k: int) -> pd.DataFrame:
    """Mean and 95 % CI of every test metric per data set, arm and size."""
    s = summarize(results, by=["dataset", "arm", "dim", "params"],
                  metrics=[f"Recall@{k}", f"NDCG@{k}", "MRR", f"HR@{k}"])
    return s.assign(arm=s["arm"].map(arm_label))


def tuning_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per data set, arm and size: how often each (lr, reg) was chosen and the mean
    validation score of the chosen model."""
    g = results.groupby(["dataset", "arm", "dim", "lr", "reg"], sort=False)
    return g.agg(chosen_on_seeds=("seed", "size"), validation=("valid", "mean")).reset_index()


def findings(paired: pd.DataFrame, metric: str, min_seeds: int = 5) -> str:
    """One line per data set, size and comparison: difference, 95 % CI and p, in words
    (no claim of significance with fewer than ``min_seeds`` seeds, nor before Holm: the claims
    table says what holds)."""
    lines = []
    for rec in paired[paired["metric"] == metric].to_dict("records"):
        extra = "" if rec["n"] >= min_seeds else f", {rec['n']} seeds: too few for a verdict"
        lines.append(f"{rec['dataset']:>10} dim {rec['dim']:>2}: {rec['comparison']:<26} "
                     f"{metric} {rec['mean_diff']:+.4f} [{rec['ci_low']:+.4f}, "
                     f"{rec['ci_high']:+.4f}], p = {rec['p_value']:.3g} ({rec['test']}{extra})")
    return "\n".join(lines) if lines else "fewer than two seeds: no paired comparison"


def headline(results: pd.DataFrame, k: int, dims) -> str:
    """One sentence for the report index."""
    parts = []
    R = f"Recall@{k}"
    for ds in results["dataset"].unique():
        w = _wide(results, ds, R, max(dims))
        if {"teacher", "student"} <= set(w):
            gain = {m: (w[m] - w["student"]).mean() for m in KD_METHODS if m in w}
            best = max(gain, key=gain.get) if gain else None
            parts.append(f"{ds}: teacher {w['teacher'].mean():.3f} vs student "
                         f"{w['student'].mean():.3f}"
                         + (f", best KD ({best}) {gain[best]:+.4f}" if best else ""))
    return f"{R} at dim {max(dims)}, tuned arms — " + "; ".join(parts) + "."


def metrics_tree(results: pd.DataFrame, kd: dict, k: int, dims) -> dict:
    """``metrics.json``: mean and CI of every metric per data set and ``arm-dim``, the chosen
    KD hyperparameters, and a short headline."""
    metrics = (f"Recall@{k}", f"NDCG@{k}")
    s = summarize(results, by=["dataset", "arm", "dim", "params"], metrics=metrics)
    tree, head = {}, {}
    for rec in s.to_dict("records"):
        tree.setdefault(rec["dataset"], {})[f"{rec['arm']}-{rec['dim']}"] = {
            "params": rec["params"],
            **{m: {"mean": rec[m], "ci_low": rec[f"{m}_lo"], "ci_high": rec[f"{m}_hi"]}
               for m in metrics}}
        if rec["arm"] in ("teacher", "student", *KD_METHODS) and \
                (rec["dim"] == max(dims) or rec["arm"] == "teacher"):
            head[f"{rec['dataset']} {rec['arm']}-{rec['dim']} {metrics[0]}"] = round(
                rec[metrics[0]], 4)
    return {"headline": head, "results": tree, "kd_hyperparameters": kd}


def explore(spec: DataSpec, seed: int, teacher: BPRMF, config: dict, sched: Schedule, *,
            dim: int, method: str, values: dict) -> dict:
    """The notebook's interactive explorer: one KD student against the student alone on
    validation (seed ``seed``, the student's chosen lr and reg)."""
    data = load(spec, seed)
    alone = fit(data, dim, config, seed, sched)[1]
    margin, cand = kd_loss(method, teacher, data, {method: {**values, "k": 10}})
    kd_valid = fit(data, dim, config, seed, sched, kd=margin, rd=cand)[1]
    return {f"student alone, validation {sched.metric}": alone,
            f"{method}, validation {sched.metric}": kd_valid, "difference": kd_valid - alone}


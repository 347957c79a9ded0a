"""The bpr_kd study (source: "Knowledge Distillation for Recommender System Efficiency"):
an MF teacher distilled into smaller MF students with a hybrid BPR + soft loss.

Protocol, built so that every compared arm gets the same chance:

* **data**: each seed draws its own split (and its own synthetic data set) unless
  ``data_seed`` fixes it; per-user 8:1:1 (RecBole's RS) or leave-one-out;
* **models**: BPR-MF with biases trained by per-sample SGD (``recsys.bpr_sgd``, kdkit's fast
  path), early stopping on validation NDCG@K (restoring the best epoch);
* **tuning parity**: every arm gets a grid of the same size on validation, per seed and size
  (``kdkit.tuning``): the teacher and the student alone lr × reg; each KD method and each
  control lr × its own KD settings (α, and τ for the sigmoid reading) at the regularisation the
  student alone chose (:func:`kd_grid`); a diverged point is recorded, never chosen, and the
  parity table counts the points that trained; the chosen model is scored on test once;
* **controls** telling transfer from regularisation: the same KD loss from a *born-again*
  teacher (the tuned student alone of the same size) and from a *shuffled* teacher (the real
  teacher's scores permuted across users). A control must be sound: one that falls below the
  student alone by more than δ on held-out validation is degenerate and left out. A transfer
  claim is supported only when the real teacher beats every sound control, and judged only
  when the teacher beats the student alone on the **held-out half of validation**
  (``evaluate(..., "gate")``: users that chose neither a checkpoint nor a hyperparameter; early
  stopping and tuning read the other half, "valid");
* **claims**: every claim has an id; the study's ``primary`` param names the source's headline
  claims (synthetic set, student 32 — the setting closest to the source's), ``delta`` the
  smallest effect of interest per metric. The source's *sizes* (44 %, −6 %, …) are separate
  size claims, not testable here: its synthetic generator is undisclosed and MovieLens-100k is
  another data set.

The work runs as jobs (``kdkit.jobs``): (1) teachers and students alone, (2) every KD arm and
control; each job seeds itself, so the tables do not depend on where the jobs ran.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from .. import methods as kd_methods
from ..data.load import load_interactions
from ..jobs import Job
from ..params import require, require_data
from ..recsys.bpr_mf import BPRMF
from ..recsys.latency import latency_per_user
from ..stats import paired_test, summarize
from ..tuning import check_parity, expand
from .bpr_claims import (  # noqa: F401  (the study's public names, in one place)
    SOURCE_DIMS,
    SOURCE_SHAPE,
    SOURCE_VALUES,
    _wide,
    claim_id,
    claim_ids,
    claims,
    fresh_users,
    source_differs,
    source_dim,
    user_diffs,
)
from .bpr_jobs import (  # noqa: F401
    CONTROLS,
    KD_METHODS,
    LABELS,
    PLUGIN_KIND,
    DataSpec,
    Schedule,
    arm_job,
    arm_label,
    arm_name,
    base_method,
    dose_arm,
    fit,
    gate_col,
    grid_for,
    kd_arms,
    kd_grid,
    kd_loss,
    load,
    shuffled_teacher,
    specs_from,
    test_metrics,
)

SPLITS = ("ratio", "loo")
SOURCE = ("Knowledge Distillation for Recommender System Efficiency (BPR-MF, hybrid loss)",
          "")


# ------------------------------------------------------------------ parameters


def check_params(p: dict) -> None:
    """Study-specific checks beyond types, run by ``kdkit run`` before anything trains."""
    require(p["datasets"], "datasets is empty; give at least one of synthetic, ml-100k, or a "
            "folder with train.csv/valid.csv/test.csv")
    for ds in p["datasets"]:
        require(ds in ("synthetic", "ml-100k") or Path(ds).expanduser().exists(),
                f"datasets: unknown '{ds}'; allowed: synthetic, ml-100k, a split folder with "
                "train.csv/valid.csv/test.csv, or an interaction file (user,item[,timestamp]; "
                "docs/data-contracts.md)")
        if ds not in ("synthetic", "ml-100k"):  # the data contract, before a kernel starts
            require_data("datasets", load_interactions, ds, split_how=p["split"], seed=0)
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
    kd_methods.check_names(PLUGIN_KIND, p["methods"], KD_METHODS)
    bad = sorted(set(p["controls"]) - set(CONTROLS))
    require(not bad, f"controls has unknown {bad}; allowed: {', '.join(CONTROLS)}")
    bad = sorted(set(p["methods"]) - set(p["kd_grid"]))
    require(not bad, f"kd_grid has no points for {bad}; give each KD method a list of "
            "settings, e.g. kd_sigmoid: [{alpha: 0.3, temperature: 2.0}, ...]")
    for m, points in p["kd_grid"].items():
        require(m in KD_METHODS or m in p["methods"], f"kd_grid names unknown method '{m}'; "
                f"allowed: {', '.join(dict.fromkeys([*KD_METHODS, *p['methods']]))}")
        if m not in KD_METHODS:  # a plug-in's settings: any names, numbers > 0
            require(isinstance(points, list) and points and all(
                isinstance(v, dict) and v and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0
                    for x in v.values()) and not {"lr", "reg"} & set(v) for v in points),
                f"kd_grid['{m}'] must be a non-empty list of settings, each a mapping of "
                f"names (not lr or reg) to numbers > 0; got {points}")
            continue
        allowed = {"kd_margin": {"alpha"}, "kd_sigmoid": {"alpha", "temperature"},
                   "rd": {"alpha"}}[m]
        require(isinstance(points, list) and points and all(
            isinstance(v, dict) and "alpha" in v and set(v) <= allowed
            and all(isinstance(x, (int, float)) and x > 0 for x in v.values())
            for v in points), f"kd_grid['{m}'] must be a non-empty list of settings with "
            f"alpha (and only {', '.join(sorted(allowed))}), each > 0; got {points}")
        require(m == "rd" or all(v["alpha"] <= 1 for v in points),
                f"kd_grid['{m}']: alpha must lie in (0, 1] (the hybrid loss's weight)")
    require(isinstance(p.get("doses", {}), dict),
            "doses must map a KD method to fixed α values, e.g. {kd_margin: [0.3, 0.6]}")
    for m, alphas in p.get("doses", {}).items():
        require(m in ("kd_margin", "kd_sigmoid"), f"doses names '{m}'; allowed: kd_margin, "
                "kd_sigmoid (the hybrid loss's readings, whose α is a weight in (0, 1])")
        require(isinstance(alphas, list) and alphas and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and 0 < a <= 1
            for a in alphas), f"doses['{m}'] must be a non-empty list of α in (0, 1]; got "
            f"{alphas}")
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
    for ds in p["datasets"]:
        n = len(expand(grid_for(p, ds)))
        for m in p["methods"]:
            kd = len(kd_grid(grid_for(p, ds), p["kd_grid"][m], reg=0.0))
            require(kd == n, f"tuning parity: {m} on {ds} gets lr ({len(grid_for(p, ds)['lr'])}"
                    f" values) × kd_grid ({len(p['kd_grid'][m])} points) = {kd} points, the "
                    f"student alone {n}; give kd_grid['{m}'] {n // len(grid_for(p, ds)['lr'])}"
                    " points")


# ------------------------------------------------------------------ the study


def run(p: dict, runner, progress=print) -> dict:
    """Every stage of the study (module docstring); returns its tables and models."""
    say = progress or (lambda m: None)
    sched = Schedule(p["max_epochs"], p["eval_every"], p["patience"], p["k"])
    specs = specs_from(p)
    seeds, dims = p["seeds"], sorted(p["student_dims"])
    arms = [arm_name(m, c) for m in p["methods"] for c in (None, *p["controls"])]
    check_parity({**{(ds, a): grid_for(p, ds) for ds in specs for a in ("teacher", "student")},
                  **{(ds, a): kd_grid(grid_for(p, ds), p["kd_grid"][a.partition(" / ")[0]],
                                      reg=0.0) for ds in specs for a in arms}})

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

    # stage 2: KD arms and controls, every seed and size, α and τ tuned with lr (kd_grid)
    stage2 = []
    for ds in specs:
        for s in seeds:
            for d in dims:
                reg = chosen[(ds, s, "student", d)]["reg"]
                for arm in arms:
                    method, _, control = arm.partition(" / ")
                    teacher = models[(ds, s, "student", d)] if control.startswith("born") \
                        else models[(ds, s, "teacher", p["teacher_dim"])]
                    grid = kd_grid(grid_for(p, ds), p["kd_grid"][method], reg=reg)
                    stage2.append(Job(arm_job, (specs[ds], s, arm, d, grid, sched, teacher,
                                                {"k": p["rd_k"]}),
                                      name=f"{ds} seed {s} {arm}-{d}"))
                # the source's question at the source's dose: α fixed, the student alone's
                # lr and reg (its chosen point), nothing tuned
                for method, alphas in p.get("doses", {}).items():
                    for a in alphas:
                        point = [{**chosen[(ds, s, "student", d)], "alpha": a}]
                        stage2.append(Job(arm_job, (specs[ds], s, dose_arm(method, a), d, point,
                                                    sched, models[(ds, s, "teacher",
                                                                   p["teacher_dim"])],
                                                    {"k": p["rd_k"]}),
                                          name=f"{ds} seed {s} {dose_arm(method, a)}-{d}"))
    done += runner.run(stage2, "KD arms and controls")
    users = {}
    for r in done:
        row = r["row"]
        key = (row["dataset"], row["seed"], row["arm"], row["dim"])
        models[key] = r["model"]
        users[key] = r.get("per_user")
    results = pd.DataFrame([r["row"] for r in done])
    trials = pd.DataFrame([t for r in done for t in r["trials"]])
    return {"results": results, "trials": trials, "models": models, "users": users,
            "schedule": asdict(sched)}


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
    s = summarize(results, by=["dataset", "arm", "dim", "params"], metrics=test_metrics(k))
    return s.assign(arm=s["arm"].map(arm_label))


def tuning_summary(results: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Per data set, arm and size: how often each setting (lr, reg and, for KD arms, α and τ)
    was chosen, the mean validation score of the chosen models, and ``edge``: the settings
    chosen at an end of their range in that arm's grid (a grid that does not bracket the
    optimum: the best may lie outside it)."""
    keys = [c for c in ("lr", "reg", "alpha", "temperature") if c in results]
    r = results.copy()
    edges = []
    for rec in r.to_dict("records"):
        t = trials[(trials["dataset"] == rec["dataset"]) & (trials["arm"] == rec["arm"])
                   & (trials["dim"] == rec["dim"]) & (trials["seed"] == rec["seed"])]
        at = [k for k in keys if k in t and t[k].nunique() > 2 and pd.notna(rec[k])
              and rec[k] in (t[k].min(), t[k].max())]
        edges.append(", ".join(at))
    r["edge"] = edges
    g = r.fillna({k: "–" for k in keys}).groupby(["dataset", "arm", "dim", *keys, "edge"],
                                                  sort=False)
    return g.agg(chosen_on_seeds=("seed", "size"), validation=("valid", "mean")).reset_index()


def parity_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per data set, arm and size: grid points per seed, and how many trained (a diverged
    point counts as tried but never chosen): tuning parity counted on the points that
    trained, not the nominal grid."""
    g = trials.assign(trained=~trials["diverged"].astype(bool)).groupby(
        ["dataset", "arm", "dim", "seed"], sort=False)
    per = g.agg(points=("trained", "size"), trained=("trained", "sum")).reset_index()
    return per.groupby(["dataset", "arm", "dim"], sort=False).agg(
        points=("points", "max"), trained_min=("trained", "min"),
        trained_mean=("trained", "mean")).reset_index()


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


def primary_dim(primary, dims) -> int:
    """The student size of the declared primary claims (the ``@N`` of their ids, the most
    common one), else the largest size."""
    found = [int(m.group(1)) for p in (primary or ()) if (m := re.search(r"@(\d+)", str(p)))]
    found = [d for d in found if d in list(dims)]
    return max(set(found), key=found.count) if found else max(dims)


def headline(results: pd.DataFrame, k: int, dims, primary=()) -> str:
    """One sentence for the report index, at the primary claims' student size."""
    parts = []
    R = f"Recall@{k}"
    dim = primary_dim(primary, dims)
    for ds in results["dataset"].unique():
        w = _wide(results, ds, R, dim)
        if {"teacher", "student"} <= set(w):
            gain = {m: (w[m] - w["student"]).mean() for m in kd_arms(w.columns)}
            best = max(gain, key=gain.get) if gain else None
            parts.append(f"{ds}: teacher {w['teacher'].mean():.3f} vs student "
                         f"{w['student'].mean():.3f}"
                         + (f", best KD ({best}) {gain[best]:+.4f}" if best else ""))
    return f"{R} at dim {dim}, tuned arms — " + "; ".join(parts) + "."


def metrics_tree(results: pd.DataFrame, k: int, dims) -> dict:
    """``metrics.json``: mean and CI of every metric per data set and ``arm-dim``, the KD
    hyperparameters each KD arm chose most often, and a short headline."""
    metrics = (f"Recall@{k}", f"NDCG@{k}")
    s = summarize(results, by=["dataset", "arm", "dim", "params"], metrics=metrics)
    tree, head = {}, {}
    for rec in s.to_dict("records"):
        tree.setdefault(rec["dataset"], {})[f"{rec['arm']}-{rec['dim']}"] = {
            "params": rec["params"],
            **{m: {"mean": rec[m], "ci_low": rec[f"{m}_lo"], "ci_high": rec[f"{m}_hi"]}
               for m in metrics}}
        if " / " not in rec["arm"] and \
                (rec["dim"] == max(dims) or rec["arm"] == "teacher"):
            head[f"{rec['dataset']} {rec['arm']}-{rec['dim']} {metrics[0]}"] = round(
                rec[metrics[0]], 4)
    kd = {}
    # the KD settings a grid point held (alpha, temperature, a plug-in's own names): every
    # column but the row's identity, lr, reg, the test metrics and the gate columns (named "@")
    cols = [c for c in results.columns if "@" not in c and c not in
            ("dataset", "seed", "arm", "dim", "params", "valid", "lr", "reg", *test_metrics(k))]
    for (ds, arm, dim), g in results[results["arm"].isin(kd_arms(results["arm"]))].groupby(
            ["dataset", "arm", "dim"]):
        picks = [tuple((c, float(r[c])) for c in cols if pd.notna(r[c]))
                 for r in g.to_dict("records")]
        # a tie goes to the first seed's pick (max over the list, not a set: a set's order
        # follows string hashing, which differs between processes)
        kd.setdefault(ds, {})[f"{arm}-{dim}"] = dict(max(picks, key=picks.count))
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

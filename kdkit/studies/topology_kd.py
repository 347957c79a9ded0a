"""The topology_kd study (source: KnowRecDistill, a project built on Kang, Hwang, Kweon & Yu,
"Topology Distillation for Recommender System", KDD 2021).

A frozen teacher is distilled into students of several sizes (ratios φ of the teacher's
dimension) by plain BPR ("student"), FTD and HTD, every model under one training protocol:

* **main protocol** (MovieLens-100k): BPR-MF without biases, N(0, 0.01) initialisation, a sum
  of BPR losses over each batch, Adam with weight decay, one uniform negative per positive, and
  **early stopping on validation** Recall@K for every model (teacher, student alone, FTD, HTD;
  the same optimiser settings and the same stopping rule for each, chosen on validation before
  the study); each seed draws its own leave-one-out tie order and its own initialisations;
  students start from another initialisation than the teacher, so a student as large as the
  teacher is not the teacher itself;
* **reference protocol** (the paper's, read from its code; ``patience = 0``): Adam lr 1e-3,
  weight decay 1e-3, batch 1,024, 100 epochs with the last one reported and test Recall@50
  logged every 10 epochs, λ = 0.001, α = 0.5, K = 30 groups — on the paper's fixed CiteULike
  split it reproduces the paper's log (``params/topology_kd-citeulike.yaml``).

A claim that FTD or HTD transfers knowledge is judged only where the teacher beats the student
alone of that size on the **held-out half of validation** (``evaluate(..., "gate")``: users
whose items chose neither a checkpoint nor a setting; early stopping reads the other half),
each model scored there once, as chosen. Every claim has an id (e.g. ``htd>ftd@4``); the
study's ``primary`` param declares the paper's headline ones and ``delta`` the smallest effect
of interest. The paper's effect sizes (from its code's CiteULike log: FTD +18 %, HTD +28 % over
the dim-10 student) are separate size claims, judged only on that split under the reference
protocol at the logged sizes; elsewhere they are not testable and say why. The work runs as
jobs (``kdkit.jobs``): the teachers, then every student, each job seeding itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from .. import methods
from ..claims import teacher_gate
from ..data.load import load_interactions
from ..jobs import Job
from ..params import require, require_data
from ..stats import summarize
from ..tuning import expand, off_edge
from . import topology_jobs  # noqa: F401  (the jobs module, for tests that stand in for a job)
from .topology_claims import (  # noqa: F401
    REFERENCE_CITEULIKE,
    SMALL_REGIME,
    SOURCE,
    TOLERANCE,
    claim_id,
    claim_ids,
    claims,
    size_setting,
    user_matrix,
)
from .topology_jobs import (  # noqa: F401
    KIND,
    LABELS,
    METHODS,
    DataSpec,
    Protocol,
    build_model,
    is_citeulike,
    label,
    load,
    loss_for,
    model_job,
    reference_scores,
    train_one,
    tuning_job,
)


def check_params(p: dict) -> None:
    """Study-specific checks run by ``kdkit run`` before anything trains."""
    require(p["methods"], f"methods is empty; give some of {', '.join(METHODS)} or a KD "
            "method's import path (mypkg.losses:my_loss, see kdkit.methods)")
    methods.check_names(KIND, p["methods"], METHODS)
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["student_dims"] and all(d >= 1 for d in p["student_dims"]),
            "student_dims must be a non-empty list of sizes ≥ 1")
    require(p["loss_reduction"] in ("sum", "mean"), "loss_reduction must be sum or mean")
    for name in ("teacher_dim", "epochs", "batch_size", "k", "n_groups", "threads", "workers",
                 "ncf_teacher_dim", "ncf_student_dim", "ncf_teacher_layers",
                 "ncf_student_layers"):
        require(p[name] >= 1, f"{name} must be at least 1, got {p[name]}")
    require(p["patience"] >= 0 and p["eval_every"] >= 0,
            "patience and eval_every must be ≥ 0 (patience 0: the reference protocol)")
    require(p["patience"] == 0 or p["eval_every"] >= 1,
            "early stopping (patience > 0) needs eval_every ≥ 1")
    require(0 <= p["htd_alpha"] <= 1, f"htd_alpha must lie in [0, 1], got {p['htd_alpha']}")
    require(p["kd_sizes"] in ("all", "taught"), f"kd_sizes must be all or taught, got "
            f"{p['kd_sizes']!r}")
    require(p["kd_sizes"] == "all" or "student" in p["methods"],
            "kd_sizes: taught needs the student alone (methods must include student)")
    require(p["converge_epochs"] == 0 or (p["patience"] == 0 and p["eval_every"] >= 1
                                          and p["converge_epochs"] > p["epochs"]
                                          and p["converge_patience"] >= 1),
            "converge_epochs (going on past the reference run to convergence) needs the "
            "reference protocol (patience 0), eval_every ≥ 1, converge_patience ≥ 1 and "
            f"converge_epochs > epochs; got converge_epochs {p['converge_epochs']}, epochs "
            f"{p['epochs']}, patience {p['patience']}")
    if p["grid"] is not None:
        require(isinstance(p["grid"], dict) and p["grid"]
                and set(p["grid"]) <= {"lr", "weight_decay"}
                and all(isinstance(v, list) and v and all(
                    isinstance(x, (int, float)) and x >= 0 for x in v)
                    for v in p["grid"].values()),
                "grid must map lr and/or weight_decay to non-empty lists of numbers ≥ 0, e.g. "
                f"{{lr: [0.002, 0.005], weight_decay: [0.0001, 0.001]}}; got {p['grid']}")
        tune = [p["tune_seed"]] if isinstance(p["tune_seed"], int) else p["tune_seed"]
        require(tune and all(isinstance(s, int) and s >= 0 and s not in _seed_list(p["seeds"])
                             for s in tune) and len(set(tune)) == len(tune),
                "tune_seed must be a seed ≥ 0 or a list of distinct ones that no claim uses; "
                f"got {p['tune_seed']}")
        require(isinstance(p.get("extend_edges", 0), int) and p.get("extend_edges", 0) >= 0,
                f"extend_edges must be an integer ≥ 0; got {p.get('extend_edges')}")
        require(p["tune_dim"] is None or p["tune_dim"] in p["student_dims"],
                f"tune_dim must be one of student_dims {p['student_dims']} (or null: tune "
                f"every size); got {p['tune_dim']}")
    if p["data_dir"] is not None:  # the data contract, checked before a kernel starts
        require(Path(p["data_dir"]).expanduser().exists(),
                f"data_dir {p['data_dir']} does not exist (a split folder with train.csv, "
                "valid.csv and test.csv, or an interaction file; docs/data-contracts.md)")
        require_data("data_dir", load_interactions, p["data_dir"], split_how="loo", seed=0)


def _seed_list(seeds) -> list:
    if isinstance(seeds, dict):
        return list(range(seeds.get("max", 0)))
    return list(seeds)


def protocol_from(p: dict) -> Protocol:
    return Protocol(epochs=p["epochs"], lr=p["lr"], batch_size=p["batch_size"],
                    weight_decay=p["weight_decay"], reduction=p["loss_reduction"],
                    init_std=p["init_std"], eval_every=p["eval_every"], patience=p["patience"],
                    k=p["k"], td_lambda=p["td_lambda"], htd_alpha=p["htd_alpha"],
                    n_groups=p["n_groups"], converge_epochs=p["converge_epochs"],
                    converge_patience=p["converge_patience"])


# How far an axis may grow off its grid's edge (kdkit.tuning.off_edge): Adam's learning rate
# within 1e-5–0.1, weight decay within 0–0.1.
TUNE_LIMITS = {"lr": (1e-5, 0.1), "weight_decay": (0.0, 0.1)}


def tune_settings(spec: DataSpec, p: Protocol, runner, grid, *, seed, teacher_dim: int,
                  student_dims, methods, student_seed: int = 1, device: str = "cpu",
                  apply_dims=None, extend_edges: int = 0, limits: dict | None = None):
    """Tuning parity on tuning seeds that no claim uses (``seed``: one or a list): every arm —
    the teacher, the student alone and each KD method at each size of ``student_dims`` — is
    trained at every point of the same ``grid`` (``{"lr": [...], "weight_decay": [...]}``,
    :func:`kdkit.tuning.expand`) on every tuning seed, each to early stopping on validation,
    and keeps the point with the best mean validation score over the tuning seeds (ties: the
    earlier point; a point that diverged on any seed is never chosen). The KD arms distil, on
    each tuning seed, that seed's teacher at the teacher's chosen point. With
    ``extend_edges = n``, one rule for every arm (:func:`kdkit.tuning.off_edge`): while an arm's
    choice sits on an edge of an axis, that axis grows one step beyond it and the new points
    are trained, at most n times (``limits``: :data:`TUNE_LIMITS` by
    default). With ``apply_dims``, ``student_dims`` is
    one size and its choice per method holds at every size of ``apply_dims``.

    Returns ({(method, dim): chosen config}, the tuning table: one row per arm, point and
    tuning seed, with the point's ``extension`` (0: the declared grid) and whether the chosen
    point still sits on an edge)."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    limits = TUNE_LIMITS if limits is None else limits
    common = {"device": device}
    done: list = []   # (method, dim, config, seed, extension, job output or None)
    grids: dict = {}

    def run(arms, todo, teachers, extension):
        jobs = [Job(tuning_job, (spec, s, m, d, replace(p, **c)),
                    {**common, **({} if m == "teacher" else {"student_seed": student_seed}),
                     **({"teacher": teachers[s]} if teachers else {})},
                    name=f"tuning {m}-{d} {c} seed {s}")
                for m, d in arms for c in todo[(m, d)] for s in seeds]
        out = iter(runner.run(jobs, "tuning"))
        done.extend((m, d, c, s, extension, next(out))
                    for m, d in arms for c in todo[(m, d)] for s in seeds)

    def stage(arms, teachers=None):
        for arm in arms:
            grids[arm] = grid
        run(arms, {arm: expand(grid) for arm in arms}, teachers, 0)
        for extension in range(1, extend_edges + 1):
            chosen = _choose(done, seeds)
            grown = {arm: off_edge(grids[arm], chosen[arm], limits) for arm in arms
                     if arm in chosen}
            grown = {arm: g for arm, g in grown.items() if g is not None}
            if not grown:
                break
            tried = {arm: [c for m, d, c, *_ in done if (m, d) == arm] for arm in grown}
            todo = {arm: [c for c in expand(g) if c not in tried[arm]]
                    for arm, g in grown.items()}
            grids.update(grown)
            run(list(grown), todo, teachers, extension)

    stage([("teacher", teacher_dim)])
    if "student" in methods:
        stage([("student", d) for d in student_dims])
    chosen = _choose(done, seeds)
    teachers = {s: o["model"] for m, d, c, s, _, o in done
                if m == "teacher" and c == chosen[("teacher", teacher_dim)]}
    stage([(m, d) for d in student_dims for m in methods if m != "student"], teachers)
    chosen = _choose(done, seeds)
    table = pd.DataFrame([{"method": label(m), "dim": d, "tuning seed": s, **c,
                           "valid": None if o is None else o["row"]["valid"],
                           "epochs": None if o is None else o["row"]["epochs"],
                           "diverged": o is None, "extension": x,
                           "chosen": c == chosen.get((m, d)),
                           "edge": c == chosen.get((m, d))
                           and off_edge(grids[(m, d)], c, limits) is not None}
                          for m, d, c, s, x, o in done])
    if apply_dims is not None:
        tuned = list(student_dims)[0]
        chosen = {**{k: c for k, c in chosen.items() if k[0] == "teacher"},
                  **{(m, d): c for (m, t), c in chosen.items() if m != "teacher" and t == tuned
                     for d in apply_dims}}
    return chosen, table


def _choose(done, seeds) -> dict:
    """Per arm, the point with the best mean validation score over ``seeds`` (ties: the
    earlier point); a point that diverged on a seed, or lacks one, is never chosen."""
    scores: dict = {}
    for m, d, c, s, _, o in done:
        key = (m, d, tuple(sorted(c.items())))
        scores.setdefault(key, (c, {}))[1][s] = None if o is None else o["row"]["valid"]
    best: dict = {}
    for (m, d, _), (c, by_seed) in scores.items():
        vals = [by_seed.get(s) for s in seeds]
        if any(v is None for v in vals):
            continue
        mean = sum(vals) / len(vals)
        if (m, d) not in best or mean > best[(m, d)][1]:
            best[(m, d)] = (c, mean)
    return {k: c for k, (c, _) in best.items()}


def taught_sizes(results: pd.DataFrame, metric: str) -> dict:
    """Per student size, the precondition of a transfer claim: does the teacher beat the
    student alone on the held-out half of validation (the ``gate`` column, scores of the chosen
    checkpoints on users that chose none of them; :func:`kdkit.claims.teacher_gate`)?"""
    out = {}
    for dim, g in results[results["method"] == "student"].groupby("dim"):
        t = results[results["method"] == "teacher"].set_index("seed")["gate"]
        s = g.set_index("seed")["gate"]
        out[int(dim)] = teacher_gate(t.loc[s.index], s, metric=metric)
    return out


def capacity_study(spec: DataSpec, p: Protocol, runner, *, teacher_dim: int, student_dims,
                   methods, seeds, kind: str = "mf", teacher_layers: int = 2,
                   student_layers: int = 2, student_seed: int = 1, device: str = "cpu",
                   kd_sizes: str = "all", settings: dict | None = None):
    """The teachers and the students alone (one job each), then every KD method at every
    student size — or, with ``kd_sizes="taught"``, only at the sizes where the teacher beats
    the student alone on the held-out half of validation (:func:`taught_sizes`, decided before
    any KD student is trained). ``settings`` ({(method, dim): {"lr": …, "weight_decay": …}},
    from :func:`tune_settings`) overrides the protocol's optimiser settings per arm.

    Returns (results: one row per model, curves, models: {(seed, method, dim): model}, users:
    {(kind, seed, method, dim): each reading's per-user test scores} for :func:`claims`).
    """
    common = {"kind": kind, "device": device}
    settings = settings or {}

    def arm(method, dim):
        q = replace(p, **settings.get((method, dim), {}))
        # the teacher is the reference run's (the model the students distil); only the
        # students go on to convergence
        return replace(q, converge_epochs=0) if method == "teacher" else q

    first = [Job(model_job, (spec, s, "teacher", teacher_dim, arm("teacher", teacher_dim)),
                 {**common, "layers": teacher_layers}, name=f"{kind} teacher seed {s}")
             for s in seeds]
    teachers = runner.run(first, f"{kind} teachers")
    by_seed = {s: t["model"] for s, t in zip(seeds, teachers)}
    student = {**common, "layers": student_layers, "student_seed": student_seed}
    alone = runner.run([Job(model_job, (spec, s, "student", d, arm("student", d)), student,
                            name=f"{kind} student-{d} seed {s}")
                        for s in seeds for d in student_dims] if "student" in methods else [],
                       f"{kind} students alone")
    done = teachers + alone
    dims = list(student_dims)
    if kd_sizes == "taught" and alone:
        rows = pd.DataFrame([d["row"] for d in done])
        gates = taught_sizes(rows, p.metric)
        dims = [d for d in student_dims if gates[d].ok]
    jobs = [Job(model_job, (spec, s, m, d, arm(m, d)), {**student, "teacher": by_seed[s]},
                name=f"{kind} {m}-{d} seed {s}")
            for s in seeds for d in dims for m in methods if m != "student"]
    done += runner.run(jobs, f"{kind} KD students")
    results = pd.DataFrame([d["row"] for d in done])
    results["phi"] = results["dim"] / teacher_dim
    curves = pd.DataFrame([c for d in done for c in d["curve"]])
    models = {(d["row"]["seed"], d["row"]["method"], d["row"]["dim"]): d["model"] for d in done}
    users = {(kind, d["row"]["seed"], d["row"]["method"], d["row"]["dim"]): d["per_user"]
             for d in done if "per_user" in d}
    return results, curves, models, users


def convergence_table(results: pd.DataFrame, metric: str, epochs: int) -> pd.DataFrame:
    """Per model (mean over seeds): test ``metric`` at epoch ``epochs`` (the reference run, with
    the paper's logged value where it has one) and at the best validation checkpoint of the
    same run continued to convergence, its epoch, how long it ran and whether it hit the
    ceiling (then it had not converged)."""
    conv = f"converged {metric}"
    mf = results[(results["model"] == "mf") & results[conv].notna()]
    g = mf.groupby(["method", "dim"], sort=False)
    out = g.agg(**{f"epoch {epochs}": (metric, "mean"), "converged": (conv, "mean"),
                   "best epoch": ("converged epoch", "mean"), "ran": ("converged ran", "max"),
                   "capped": ("converged capped", "sum")}).reset_index()
    out.insert(2, "paper (epoch 100)", [REFERENCE_CITEULIKE.get(m, {}).get(d)
                                        for m, d in zip(out["method"], out["dim"])])
    out["change"] = out["converged"] - out[f"epoch {epochs}"]
    out["method"] = out["method"].map(label)
    return out


def gap_closed(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per seed and size: (method − student) / (teacher − student), the share of the
    teacher–student gap a method closes."""
    out = []
    for (ds, kind, seed), g in results.groupby(["dataset", "model", "seed"], sort=False):
        teacher = g.loc[g["method"] == "teacher", metric].iloc[0]
        for dim, h in g[g["method"] != "teacher"].groupby("dim"):
            by = h.set_index("method")[metric]
            if "student" not in by:
                continue
            gap = teacher - by["student"]
            for m in by.index.drop("student"):
                out.append({"dataset": ds, "model": kind, "seed": seed, "dim": dim, "method": m,
                            "gain": by[m] - by["student"], "teacher_gap": gap,
                            "gap_closed": (by[m] - by["student"]) / gap if gap else float("nan")})
    return pd.DataFrame(out)


def headline(results: pd.DataFrame, metric: str, teacher_dim: int) -> str:
    mf = results[results["model"] == "mf"]
    parts = []
    for dim, g in mf[mf["method"] != "teacher"].groupby("dim"):
        m = g.groupby("method")[metric].mean()
        parts.append(f"dim {dim}: " + ", ".join(f"{label(k)} {v:.3f}" for k, v in m.items()))
    t = mf.loc[mf["method"] == "teacher", metric].mean()
    return f"{metric}, teacher (dim {teacher_dim}) {t:.3f}; " + "; ".join(parts) + "."


def metrics_tree(results: pd.DataFrame, gaps: pd.DataFrame, metric: str, *, seeds, dataset,
                 citeulike: bool) -> dict:
    """``metrics.json``: a headline (teacher and each method at the smallest size), then the
    mean of every model's final metric and its early-stopping epoch, and the gap closed."""
    means = results.groupby(["model", "method", "dim"])[[metric, "epochs"]].mean()
    tree: dict = {}
    for (kind, method, dim), v in means.iterrows():
        tree.setdefault(kind, {})[f"{method}-{dim}"] = {metric: v[metric],
                                                         "epochs": v["epochs"]}
    head = {}
    mf = results[results["model"] == "mf"]
    if len(mf):
        small = mf.loc[mf["method"] != "teacher", "dim"].min()
        head[f"teacher {metric}"] = round(float(mf.loc[mf["method"] == "teacher",
                                                       metric].mean()), 4)
        for m in METHODS:
            sel = mf[(mf["method"] == m) & (mf["dim"] == small)]
            if len(sel):
                head[f"{m}-{small} {metric}"] = round(float(sel[metric].mean()), 4)
    gap = gaps.groupby(["model", "method", "dim"])["gap_closed"].mean() if len(gaps) else {}
    return {"headline": head, "results": tree, "seeds": list(seeds), "dataset": dataset,
            "citeulike": citeulike,
            "gap_closed": {f"{k}:{m}-{d}": v for (k, m, d), v in dict(gap).items()
                           if v == v}}  # NaN (no teacher–student gap) is left out


def summary_table(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    s = summarize(results, by=["model", "method", "dim", "phi"],
                  metrics=[metric, "NDCG@10", "valid", "gate", "epochs"])
    return s.assign(method=s["method"].map(label))


def explore(spec: DataSpec, seed: int, teacher, p: Protocol, *, method: str, dim: int,
            td_lambda: float, n_groups: int, device: str = "cpu") -> dict:
    """The notebook's explorer: one FTD or HTD student with another λ (and K) against the
    student alone, on validation (first seed)."""
    data = load(spec, seed)
    q = replace(p, td_lambda=td_lambda, n_groups=n_groups)
    out = {}
    for m in ("student", method):
        _, _, _, info = train_one(data, m, dim, q, teacher=teacher, seed=seed + 1,
                                  device=device)
        out[f"{label(m)}, validation {p.metric}"] = info["valid"]
    return out

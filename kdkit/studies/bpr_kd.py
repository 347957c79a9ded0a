"""The bpr_kd study (seed 001): MF teacher → smaller MF student with hybrid BPR + soft loss.

``run_seed`` trains, for one dataset and seed, the teacher (dim 64), the standard student
(dim 32, BPR only), the distilled student under each reading of the seed's soft loss, and a
Ranking-Distillation student; every model is evaluated by full ranking on the test split.
Helpers for the α × τ grid, latency and the claims table live here too, so the notebook is a
narrative of short calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..claims import Claim, effect_verdict, value_verdict
from ..distill.bpr_kd import make_hybrid_kd
from ..distill.ranking import make_ranking_distillation
from ..params import require
from ..recsys.bpr_mf import BPRMF, n_params
from ..recsys.latency import latency_per_user
from ..recsys.metrics import evaluate
from ..recsys.train import train_bpr
from ..stats import mean_ci, paired_test, prediction_interval, set_seed, summarize

METHODS = ("teacher", "student", "kd_margin", "kd_sigmoid", "rd")
LABELS = {"teacher": "Teacher (MF-64)", "student": "Standard student (BPR)",
          "kd_margin": "Distilled, margin MSE", "kd_sigmoid": "Distilled, sigmoid MSE",
          "rd": "Ranking distillation"}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int
    weight_decay: float

    def for_dataset(self, name: str, per_dataset: dict) -> TrainConfig:
        over = per_dataset.get(name, {})
        unknown = set(over) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"per_dataset['{name}'] has unknown keys {sorted(unknown)}; "
                             f"allowed: {sorted(self.__dataclass_fields__)}")
        return replace(self, **over)

    def kwargs(self) -> dict:
        return dict(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                    weight_decay=self.weight_decay)


@dataclass(frozen=True)
class KDConfig:
    alpha: float = 0.5
    temperature: float = 2.0
    rd_k: int = 10
    rd_lambda: float = 5.0
    rd_mu: float = 0.1
    rd_alpha: float = 0.5
    rd_weighting: str = "hybrid"


SPLITS = ("ratio", "loo")


def check_params(p: dict) -> None:
    """Study-specific checks beyond types, run by ``kdkit run`` before anything trains.

    Raises ``ValueError`` naming the parameter and what is allowed.
    """
    require(p["datasets"], "datasets is empty; give at least one of synthetic, ml-100k, a folder")
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(p["split"] in SPLITS, f"split '{p['split']}' is not one of {', '.join(SPLITS)}")
    bad = sorted(set(p["extra_methods"]) - set(METHODS[1:]))
    require(not bad, f"extra_methods has unknown {bad}; allowed: {', '.join(METHODS[1:])}")
    for name in ("epochs", "batch_size", "teacher_dim", "student_dim", "k", "rd_k", "threads"):
        require(p[name] >= 1, f"{name} must be at least 1, got {p[name]}")
    require(all(d >= 1 for d in p["extra_student_dims"]), "extra_student_dims must be ≥ 1")
    for name in ("alpha", "rd_alpha"):
        require(0 <= p[name] <= 1, f"{name} must lie in [0, 1], got {p[name]}")
    require(all(0 <= a <= 1 for a in p["grid_alphas"]), "grid_alphas must lie in [0, 1]")
    require(p["temperature"] > 0 and all(t > 0 for t in p["grid_temperatures"]),
         "temperature and grid_temperatures must be > 0")
    known = {"synthetic", "ml-100k", *p["datasets"]}
    bad = sorted(set(p["grid_datasets"]) - known)
    require(not bad, f"grid_datasets has unknown {bad}; allowed: {', '.join(sorted(known))} "
         "(the sweep runs on those also in datasets)")
    fields = TrainConfig.__dataclass_fields__
    for ds, over in p["per_dataset"].items():
        require(ds in known, f"per_dataset names '{ds}', which is not a dataset; allowed: "
             f"{', '.join(sorted(known))}")
        require(isinstance(over, dict), f"per_dataset['{ds}'] must be a mapping of "
             f"{', '.join(fields)}")
        for key, value in over.items():
            require(key in fields, f"per_dataset['{ds}'] has unknown key '{key}'; allowed: "
                 f"{', '.join(fields)}")
            kind = fields[key].type
            ok = (isinstance(value, int) and not isinstance(value, bool)) if kind == "int" \
                else isinstance(value, (int, float)) and not isinstance(value, bool)
            require(ok, f"per_dataset['{ds}']['{key}'] must be {kind}, got {value!r}")


def fit_mf(data, dim: int, cfg: TrainConfig, seed: int, loss_fn=None) -> BPRMF:
    """A BPR-MF of size ``dim`` trained on ``data`` (with ``loss_fn`` if given)."""
    set_seed(seed)
    model = BPRMF(data.n_users, data.n_items, dim)
    train_bpr(model, data, seed=seed, loss_fn=loss_fn, **cfg.kwargs())
    return model


def train_student(data, teacher, method: str, *, dim: int, cfg: TrainConfig, kd: KDConfig,
                  seed: int):
    """One student trained by ``method`` (student | kd_margin | kd_sigmoid | rd)."""
    if method == "student":
        loss = None
    elif method in ("kd_margin", "kd_sigmoid"):
        loss = make_hybrid_kd(teacher, alpha=kd.alpha, temperature=kd.temperature,
                              reading=method.removeprefix("kd_"))
    elif method == "rd":
        loss = make_ranking_distillation(teacher, data.matrix("train"), k=kd.rd_k,
                                         lam=kd.rd_lambda, mu=kd.rd_mu, alpha=kd.rd_alpha,
                                         weighting=kd.rd_weighting, seed=seed)
    else:
        raise ValueError(f"unknown method '{method}'; allowed: {', '.join(METHODS)}")
    return fit_mf(data, dim, cfg, seed, loss)


def run_seed(data, seed: int, *, teacher_dim: int, student_dim: int, cfg: TrainConfig,
             kd: KDConfig, methods=METHODS[1:], extra_dims=(), extra_methods=(), ks=(10,),
             latency_repeats: int = 3):
    """Train and evaluate, on one seed, the teacher and a student per method (at
    ``student_dim``, and at each of ``extra_dims`` for ``extra_methods``); return
    (metric rows, latency rows)."""
    teacher = fit_mf(data, teacher_dim, cfg, seed)
    models = {("teacher", teacher_dim): teacher}
    plan = [(m, student_dim) for m in methods] + [(m, d) for d in extra_dims
                                                  for m in extra_methods]
    for m, dim in plan:
        models[(m, dim)] = train_student(data, teacher, m, dim=dim, cfg=cfg, kd=kd, seed=seed)
    rows, lat = [], []
    timings = latency_per_user(models, np.arange(data.n_users), k=max(ks),
                               repeats=latency_repeats, seed=seed)
    for (m, dim), model in models.items():
        base = {"dataset": data.name, "method": m, "dim": dim, "seed": seed,
                "params": n_params(model)}
        rows.append({**base, **evaluate(model, data, "test", ks)})
        lat.append({**base, **timings[(m, dim)]})
    return rows, lat


def alpha_temperature_grid(data, seeds, *, teacher_dim, student_dim, cfg: TrainConfig,
                           alphas, temperatures, reading: str, ks=(10,)) -> pd.DataFrame:
    """Validation metrics of the distilled student over α × τ, minus the standard student's.

    Uses the validation split only, so choosing α and τ from it does not touch test.
    """
    rows = []
    metric = f"Recall@{max(ks)}"
    for seed in seeds:
        teacher = fit_mf(data, teacher_dim, cfg, seed)
        base = evaluate(fit_mf(data, student_dim, cfg, seed), data, "valid", ks)[metric]
        for a in alphas:
            for t in temperatures:
                loss = make_hybrid_kd(teacher, alpha=a, temperature=t, reading=reading)
                student = fit_mf(data, student_dim, cfg, seed, loss)
                val = evaluate(student, data, "valid", ks)[metric]
                rows.append({"dataset": data.name, "seed": seed, "alpha": a, "temperature": t,
                             metric: val, "delta": val - base})
    return pd.DataFrame(rows)


PAIRED_COLUMNS = ["dataset", "comparison", "metric", "mean_diff", "ci_low", "ci_high",
                  "p_value", "p_wilcoxon", "n"]


def paired_table(results: pd.DataFrame, metric: str, pairs) -> pd.DataFrame:
    """Paired tests A − B over seeds, per dataset, for each (A, B) method pair
    (empty with fewer than two seeds)."""
    out = []
    for ds, g in results.groupby("dataset", sort=False):
        wide = g.pivot_table(index="seed", columns="method", values=metric)
        for a, b in pairs:
            if a in wide and b in wide and len(wide) >= 2:
                c = paired_test(wide[a], wide[b])
                out.append({"dataset": ds, "comparison": f"{a} − {b}", "metric": metric,
                            **c.as_dict()})
    return pd.DataFrame(out, columns=PAIRED_COLUMNS)


def _size_claims(results: pd.DataFrame, teacher_dim: int, student_dim: int) -> list[Claim]:
    """Parameter counts read off the models trained on the synthetic set (the seed's setting)."""
    syn = results[results["dataset"] == "synthetic"]
    teacher = syn.loc[(syn["method"] == "teacher") & (syn["dim"] == teacher_dim), "params"]
    student = syn.loc[(syn["method"] == "student") & (syn["dim"] == student_dim), "params"]
    texts = [("Teacher MF-64 has 97,500 parameters", "97500"),
             ("Students MF-32 have 49,500 parameters", "49500"),
             ("Compression ratio 1.97×", "1.97"), ("49.5% model compression", "49.5")]
    if teacher.empty or student.empty:
        return [Claim(t, v, None, None, None, "not testable", "the synthetic set was not run")
                for t, v in texts]
    t_params, s_params = int(teacher.iloc[0]), int(student.iloc[0])
    ratio = t_params / s_params
    reduction = 100 * (1 - 1 / ratio)
    note = "counted on the trained models: embeddings + one bias per user and item"
    return [
        Claim(*texts[0], t_params, None, None, value_verdict(97_500, t_params, t_params), note),
        Claim(*texts[1], s_params, None, None, value_verdict(49_500, s_params, s_params), note),
        Claim(*texts[2], round(ratio, 4), None, None,
              value_verdict(1.97, ratio, ratio, rel_tol=0.005), "teacher / student parameters"),
        Claim(*texts[3], round(reduction, 2), None, None,
              value_verdict(49.5, reduction, reduction),
              f"the reduction is {reduction:.1f}%; 49.5 is the student's size in thousands of "
              "parameters"),
    ]


def claims(results: pd.DataFrame, latency: pd.DataFrame, *, teacher_dim: int, student_dim: int,
           k: int = 10) -> list[Claim]:
    """The seed's claims, each against what this run measured."""
    R, N = f"Recall@{k}", f"NDCG@{k}"
    out = _size_claims(results, teacher_dim, student_dim)
    main = results[results["dim"].isin([teacher_dim, student_dim])]
    seed_values = {("teacher", R): 0.140, ("teacher", N): 0.0658, ("student", R): 0.097,
                   ("student", N): 0.0500, ("kd_margin", R): 0.091, ("kd_margin", N): 0.0432}
    for ds, g in main.groupby("dataset", sort=False):
        for (m, metric), v in seed_values.items():
            vals = g.loc[g["method"] == m, metric]
            if len(vals) == 0:
                continue
            e = mean_ci(vals)
            out.append(Claim(f"{LABELS[m]} {metric} = {v} [{ds}]", str(v), e.mean, e.ci_low,
                             e.ci_high, "not testable",
                             "absolute value on the seed's undisclosed synthetic data; ours is "
                             "a different data set, shown for scale"))
        out += _direction_claims(g, ds, R, N)
    out += _latency_claims(latency[latency["dim"].isin([teacher_dim, student_dim])])
    return out


def _paired_claim(g, a, b, metric, expect, text, seed_value, claimed_rel=None, note=""):
    """A direction claim "a − b has sign ``expect``", judged over the seeds in ``g``.

    ``claimed_rel`` is the seed's single-run relative effect a/b − 1; it is held against the
    95 % prediction interval of our per-seed relative differences (see ``kdkit.claims``).
    """
    wide = g.pivot_table(index="seed", columns="method", values=metric)
    if a not in wide or b not in wide or len(wide) < 2:
        return None
    c = paired_test(wide[a], wide[b])
    rel = wide[a] / wide[b] - 1
    lo, hi = prediction_interval(rel)
    verdict = effect_verdict(c.mean_diff, c.p_value, expect, claimed=claimed_rel,
                             interval=(lo, hi))
    text_rel = f"{100 * rel.mean():+.1f}% (one run: {100 * lo:+.1f} to {100 * hi:+.1f})"
    if claimed_rel is not None:
        text_rel += f" vs the seed's {100 * claimed_rel:+.1f}%"
    note = (f"{a} − {b} over {c.n} paired seeds, p = {c.p_value:.3g}; relative {text_rel}. "
            f"{note}").strip()
    return Claim(text, seed_value, c.mean_diff, c.ci_low, c.ci_high, verdict, note)


def _direction_claims(g, ds, R, N):
    specs = [
        ("teacher", "student", R, ">", f"Teacher beats the standard student on {R} by 44% [{ds}]",
         "0.140 vs 0.097", 0.140 / 0.097 - 1, ""),
        ("kd_margin", "student", R, "<",
         f"Negative transfer: distilled student 6% below standard on {R} [{ds}], margin reading",
         "0.091 vs 0.097", 0.091 / 0.097 - 1, "the seed's single run allows no test"),
        ("kd_margin", "student", N, "<",
         f"Negative transfer: distilled student 14% below standard on {N} [{ds}], margin reading",
         "0.0432 vs 0.0500", 0.0432 / 0.0500 - 1, ""),
        ("kd_sigmoid", "student", R, "<",
         f"Negative transfer: distilled student 6% below standard on {R} [{ds}], sigmoid reading",
         "0.091 vs 0.097", 0.091 / 0.097 - 1, ""),
        ("rd", "kd_margin", R, ">",
         f"A ranking-aware KD (RD) beats the hybrid loss on {R} [{ds}]",
         "suggested remedy (no value)", None, "the seed's diagnosis: needs specialised "
         "strategies"),
    ]
    out = [_paired_claim(g, a, b, m, e, t, s, c, n) for a, b, m, e, t, s, c, n in specs]
    return [c for c in out if c is not None]


def _latency_claims(lat: pd.DataFrame):
    specs = [("kd_margin", "teacher", "<", "Distilled student is 6% faster than the teacher",
              "0.173 vs 0.185 ms", 0.173 / 0.185 - 1),
             ("student", "teacher", ">", "Standard student is 21% slower than the teacher",
              "0.224 vs 0.185 ms", 0.224 / 0.185 - 1),
             ("kd_margin", "student", "<", "Distilled student is 23% faster than the standard "
              "student (same architecture)", "0.173 vs 0.224 ms", 0.173 / 0.224 - 1)]
    out = []
    for ds, g in lat.groupby("dataset", sort=False):
        for a, b, e, t, s, rel in specs:
            c = _paired_claim(g, a, b, "latency_ms", e, f"{t} [{ds}]", s, rel,
                              "Median single-user top-10 latency in ms; timings vary per run.")
            if c is not None:
                out.append(c)
    return out


def findings(paired: pd.DataFrame, metric: str) -> str:
    """One line per dataset and comparison: difference, 95 % CI and p-value, in words."""
    lines = []
    for rec in paired[paired["metric"] == metric].to_dict("records"):
        sig = "significant" if rec["p_value"] < 0.05 else "not significant"
        lines.append(f"{rec['dataset']:>10}: {rec['comparison']:<22} {metric} "
                     f"{rec['mean_diff']:+.4f} [{rec['ci_low']:+.4f}, {rec['ci_high']:+.4f}], "
                     f"p = {rec['p_value']:.3g} ({sig}, n = {rec['n']})")
    return "\n".join(lines) if lines else "fewer than two seeds: no paired comparison"


def metrics_tree(results: pd.DataFrame, paired: pd.DataFrame, *, student_dim: int,
                 metrics=("Recall@10", "NDCG@10")) -> dict:
    """``metrics.json`` content: a short headline, then mean and CI of every metric per
    dataset and ``method-dim``, and the paired tests."""
    summary = summarize(results, by=["dataset", "method", "dim", "params"], metrics=metrics)
    tree, headline = {}, {}
    for rec in summary.to_dict("records"):
        tree.setdefault(rec["dataset"], {})[f"{rec['method']}-{rec['dim']}"] = {
            "params": rec["params"],
            **{m: {"mean": rec[m], "ci_low": rec[f"{m}_lo"], "ci_high": rec[f"{m}_hi"]}
               for m in metrics}}
        if rec["method"] == "student" and rec["dim"] == student_dim:
            headline[f"{rec['dataset']} student {metrics[0]}"] = round(rec[metrics[0]], 4)
    for rec in paired[paired["metric"] == metrics[0]].to_dict("records"):
        if rec["comparison"] in ("kd_margin − student", "kd_sigmoid − student",
                                 "rd − student"):
            headline[f"{rec['dataset']} {rec['comparison']}"] = round(rec["mean_diff"], 4)
    return {"headline": headline, "results": tree, "paired": paired.to_dict("records")}

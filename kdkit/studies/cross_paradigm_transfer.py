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
from ..claims import Claim, Deltas, Gate, paired_claim, teacher_gate
from ..jobs import Job
from ..paradigms.families import FAMILIES, MODEL_FAMILY, n_parameters
from ..paradigms.federated import federated_soft_targets, source_client
from ..paradigms.oof import oof_proba
from ..paradigms.soft_mlp import SoftTargetMLP
from ..paradigms.temperature import dynamic_temperature
from ..stats import mean_ci, set_seed
from ..transfer_set import ARM_LABELS, control_gate, transfer_claims

PARTS = ("train", "val", "gate", "transfer", "test")
GENERATOR = {"n_features": 50, "n_informative": 25, "n_redundant": 12, "n_classes": 5,
             "n_clusters_per_class": 2, "class_sep": 0.8}
GATE_DATA = "held-out gate rows"
LABELS = {**ARM_LABELS, "oof": "out-of-fold soft targets (training rows)", "stack": "stacking",
          "hard": "teacher's hard labels (transfer rows)", "teacher": "teacher"}
ARM_COLUMNS = ("teacher", "alone", "oof", "kd", "hard", "self", "oracle", "stack")
WHERE = "the source's generator"
PLUGIN_KIND = "tabular-targets"  # a user's soft-target method (``kdkit.methods``)


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


# The federated clients' model classes: the source's RF(100), or a teacher family's large model.
FED_CLIENTS = {"rf100": "RF(100), the source's"} | {k: k for k in FAMILIES}


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


def student_values(rows: pd.DataFrame, student: str, part: str = "test") -> pd.DataFrame:
    """Per-seed accuracies on ``part`` of a student's arms without a teacher (alone, self,
    oracle)."""
    st = rows[(rows["student"] == student) & (rows["teacher"] == "")]
    return st.pivot(index="seed", columns="arm", values=part).sort_index()


def arm_values(rows: pd.DataFrame, teacher: str, student: str, part: str = "test"):
    """Per-seed accuracies on ``part`` of one pathway's arms (index seed; columns alone, kd,
    self, oracle, oof, stack, teacher)."""
    st = rows[rows["student"] == student]
    own = st[st["teacher"] == teacher].pivot(index="seed", columns="arm", values=part)
    shared = student_values(rows, student, part)
    tea = rows[(rows["arm"] == "teacher") & (rows["teacher"] == teacher)].set_index("seed")[part]
    return pd.concat([shared, own], axis=1).assign(teacher=tea).sort_index()


def plugin_arms(rows: pd.DataFrame) -> list[str]:
    """The arms of plug-in methods in ``rows`` (every arm that is not a built-in one)."""
    return [a for a in dict.fromkeys(rows["arm"]) if a not in ARM_COLUMNS]


def pathways(rows: pd.DataFrame) -> list[tuple[str, str]]:
    st = rows[(rows["arm"] == "kd")]
    return list(dict.fromkeys(zip(st["teacher"], st["student"])))


def pathway_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per pathway: the mean test accuracy of every arm, its gain over the student alone with a
    95 % CI over seeds, the teacher's lead on the gate rows and whether that lead passes the
    teacher gate (a gated-out pathway's KD claims are not judged)."""
    out = []
    for t, s in pathways(rows):
        v, g = arm_values(rows, t, s), arm_values(rows, t, s, "gate")
        rec = {"teacher": t, "student": s, "family": f"{MODEL_FAMILY[t]} → {MODEL_FAMILY[s]}",
               "teacher lead (gate)": float((g["teacher"] - g["alone"]).mean()),
               "teacher teaches": bool(pathway_gate(rows, t, s).ok)}
        for arm in (a for a in ARM_COLUMNS if a in v):
            rec[arm if arm != "teacher" else "teacher accuracy"] = float(v[arm].mean())
        e = mean_ci(v["kd"] - v["alone"])
        rec.update({"kd − alone": e.mean, "kd − alone lo": e.ci_low, "kd − alone hi": e.ci_high})
        out.append(rec)
    return pd.DataFrame(out)


def sizes_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Median stored numbers and mean test accuracy per model; a stacked student's size
    includes its teacher's (the SVM's support vectors count)."""
    df = rows.copy()
    df["model"] = np.where(df["arm"] == "teacher", "teacher " + df["teacher"],
                           np.where(df["teacher"] == "", df["student"] + " " + df["arm"],
                                    df["teacher"] + " → " + df["student"] + " " + df["arm"]))
    return df.groupby(["arm", "model"], sort=False).agg(
        n_params=("n_params", "median"), accuracy=("test", "mean")).reset_index()


# ------------------------------------------------------------------ claims


def pathway_gate(rows: pd.DataFrame, teacher: str, student: str) -> Gate:
    """The teacher beats the student alone on the gate rows (which picked nothing), paired over
    seeds."""
    g = arm_values(rows, teacher, student, "gate")
    return teacher_gate(g["teacher"], g["alone"], metric="accuracy",
                        what=f"the teacher ({teacher})", than=f"the {student} alone",
                        data=GATE_DATA)


def _gain_rows(rows: pd.DataFrame, paths) -> pd.DataFrame:
    """One row per seed and pathway of ``paths``: the KD gain (kd − alone, test) and whether
    teacher and student are of different model families."""
    recs = []
    for t, s in paths:
        v = arm_values(rows, t, s)
        recs += [{"seed": seed, "teacher": t, "student": s,
                  "gain": v.at[seed, "kd"] - v.at[seed, "alone"],
                  "cross": float(MODEL_FAMILY[t] != MODEL_FAMILY[s])} for seed in v.index]
    return pd.DataFrame(recs)


def cross_coefficients(rows: pd.DataFrame, gated: list[tuple[str, str]]) -> pd.Series:
    """Per seed, the least-squares coefficient of ``cross`` (teacher and student of different
    model families) in the two-way fixed-effects model

        gain(t, s) = b_cross · cross(t, s) + a_t + c_s,

    over the gated pathways (gain = kd − alone on test). The teacher effect a_t absorbs how
    good a teacher is, the student effect c_s how much a student can take, so b_cross is
    identified only by teachers that teach students of both kinds — a difference in
    differences, not a comparison of one same-family cell with the rest (kdkit issue 37).
    Empty when the design cannot identify it (rank-deficient or no residual degree of
    freedom)."""
    df = _gain_rows(rows, gated)
    if df.empty or df["cross"].nunique() < 2:
        return pd.Series(dtype=float)
    teachers, students = sorted(df["teacher"].unique()), sorted(df["student"].unique())
    out = {}
    for seed, h in df.groupby("seed"):
        X = np.column_stack([h["cross"], *[(h["teacher"] == t).to_numpy(float) for t in teachers],
                             *[(h["student"] == s).to_numpy(float) for s in students[1:]]])
        if len(h) <= X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
            return pd.Series(dtype=float)
        out[seed] = float(np.linalg.lstsq(X, h["gain"].to_numpy(), rcond=None)[0][0])
    return pd.Series(out).sort_index()


def leave_one_teacher_out(rows: pd.DataFrame, gated: list[tuple[str, str]]) -> pd.DataFrame:
    """cross>same's coefficient on every gated pathway, then without each teacher in turn:
    mean and 95 % CI over seeds, and how many same- and cross-family pathways remain. A
    result carried by one teacher shows here."""
    out = []
    for drop in [""] + sorted({t for t, _ in gated}):
        paths = [(t, s) for t, s in gated if t != drop]
        coef = cross_coefficients(rows, paths)
        same = sum(MODEL_FAMILY[t] == MODEL_FAMILY[s] for t, s in paths)
        rec = {"left out": drop or "(none)", "same-family pathways": same,
               "cross-family pathways": len(paths) - same}
        if len(coef) >= 2:
            e = mean_ci(coef)
            rec.update({"cross − same": e.mean, "lo": e.ci_low, "hi": e.ci_high})
        else:
            rec.update({"cross − same": np.nan, "lo": np.nan, "hi": np.nan})
        out.append(rec)
    return pd.DataFrame(out)


def gated_pathways(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """The pathways whose teacher beats the student alone on the gate rows."""
    return [(t, s) for t, s in pathways(rows) if pathway_gate(rows, t, s).ok]


def _pooled(rows, paths, a: str, b: str) -> tuple[pd.Series, pd.Series]:
    """Per seed, the mean over ``paths`` of arms ``a`` and ``b`` (test accuracy)."""
    va = pd.concat([arm_values(rows, t, s)[a] for t, s in paths], axis=1).mean(axis=1)
    vb = pd.concat([arm_values(rows, t, s)[b] for t, s in paths], axis=1).mean(axis=1)
    return va, vb


def transfer_study_claims(rows: pd.DataFrame, innov: pd.DataFrame | None = None, *,
                          innovations: tuple[str, str] | None = None,
                          delta: dict | None = None) -> list[Claim]:
    """The source's headline claims on the transfer-set design: per pathway (gated by its own
    teacher), then pooled over the gated pathways; with ``innov`` the innovations too
    (``innovations``: their teacher → student pathway, whose gate the dynamic temperature
    needs)."""
    acc = Deltas(delta).kwargs("accuracy")
    out, gated = [], []
    controls = {}
    for s in dict.fromkeys(rows.loc[rows["arm"] == "alone", "student"]):
        g = student_values(rows, s, "gate")
        controls[s] = control_gate(g["self"], g["alone"], delta=acc["delta"],
                                   data=f"{GATE_DATA} accuracy")
    for t, s in pathways(rows):
        gate, v = pathway_gate(rows, t, s), arm_values(rows, t, s)
        if gate.ok:
            gated.append((t, s))
        where = f"{t} → {s}, {WHERE}"
        out += transfer_claims(v, where=where, suffix=f"@{t}>{s}", teacher_gate=gate,
                               control=controls[s], **acc)
        if "hard" in v:
            out.append(paired_claim(v["kd"], v["hard"], ">", "KD's soft targets beat the "
                                    f"teacher's hard labels on the same transfer rows ({where})",
                                    key=f"kd>hard@{t}>{s}", gates=[gate], **acc))
        out.append(paired_claim(v["kd"], v["oof"], ">", "KD on the transfer set beats "
                                f"out-of-fold soft targets on the training rows only ({where})",
                                key=f"kd>oof@{t}>{s}", gates=[gate], **acc))
        out.append(paired_claim(v["stack"], v["teacher"], ">", "Stacking beats its own teacher "
                                f"({where})", key=f"stack>teacher@{t}>{s}", **acc))
    names = ", ".join(f"{t} → {s}" for t, s in gated) or "none"
    pooled_gate = Gate(bool(gated), f"gated pathways: {names}" if gated else
                       "no pathway's teacher beats its student alone on the gate rows")
    paths = gated or pathways(rows)
    kd, alone = _pooled(rows, paths, "kd", "alone")
    out.append(paired_claim(kd, alone, ">", "Distillation improves the student (KD on a "
                            f"transfer set, mean over the gated pathways, {WHERE})",
                            "its transfer modes 82.8 % vs baseline 81.1 %",
                            f"pathways: {names}", key="kd>alone", gates=[pooled_gate], **acc))
    if "hard" in rows["arm"].values:
        va, vb = _pooled(rows, paths, "kd", "hard")
        out.append(paired_claim(va, vb, ">", "KD's soft targets beat the teacher's hard labels "
                                f"on the same transfer rows (mean over the gated pathways, "
                                f"{WHERE})", "", "what the probabilities add beyond the "
                                "teacher's decisions", key="kd>hard", gates=[pooled_gate], **acc))
    coef = cross_coefficients(rows, gated)
    if len(coef):
        out.append(paired_claim(coef, np.zeros(len(coef)), ">", "Cross-family transfer gains "
                                "more than same-family transfer (KD on a transfer set, teacher "
                                "and student fixed effects)", "82.33 % vs 79.26 % (+3.07)",
                                "per-seed coefficient of cross-family in gain = b·cross + "
                                "teacher effect + student effect over the gated pathways "
                                f"({names}); families: linear (lr, lr_poly), kernel (RBF SVM), "
                                "tree, neural (mlp, dnn), ensemble; the leave-one-teacher-out "
                                "table shows what each teacher carries",
                                key="cross>same", **acc))
    else:
        out.append(Claim("Cross-family transfer gains more than same-family transfer (KD on a "
                         "transfer set)", "82.33 % vs 79.26 % (+3.07)", None, None, None,
                         "not testable", "the gated pathways cannot separate family from "
                         "teacher and student (no teacher teaches students of both families; "
                         f"gated: {names})", id="cross>same"))
    same = [(t, s) for t, s in paths if MODEL_FAMILY[t] == MODEL_FAMILY[s]]
    cross = [(t, s) for t, s in paths if MODEL_FAMILY[t] != MODEL_FAMILY[s]]
    if same and cross:
        e = mean_ci(_pooled(rows, cross, "kd", "kd")[0] - _pooled(rows, same, "kd", "kd")[0])
        out.append(Claim("The source's accuracy gap: cross- minus same-family students",
                         "+3.07 points (82.33 % vs 79.26 %)", e.mean, e.ci_low, e.ci_high,
                         "not testable", "descriptive, beside cross>same: a gap in the KD "
                         "students' accuracies mixes the student's own accuracy with the "
                         "transfer; the regression separates them", id="cross-same:accuracy-gap",
                         family="descriptive"))
    for m in plugin_arms(rows):  # a user's method: pooled over the same gated pathways
        label = kd_methods.label(PLUGIN_KIND, m)
        va, vb = _pooled(rows, paths, m, "alone")
        out.append(paired_claim(va, vb, ">", f"{label} improves the student (its targets on "
                                f"the transfer set, mean over the gated pathways, {WHERE})",
                                key=f"{m}>alone", gates=[pooled_gate], **acc))
        va, vb = _pooled(rows, paths, m, "kd")
        out.append(paired_claim(va, vb, ">", f"{label} beats KD on the same transfer rows (mean "
                                f"over the gated pathways, {WHERE})", key=f"{m}>kd",
                                gates=[pooled_gate], **acc))
    st, tea = _pooled(rows, paths, "stack", "teacher")
    out.append(paired_claim(st, tea, ">", "Stacking beats its own teacher (mean over the gated "
                            f"pathways, {WHERE})", "89.1 %", f"pathways: {names} (where the "
                            "teacher beats the student alone; elsewhere stacking beats a weak "
                            "teacher by the student's own accuracy); the stacked student needs "
                            "the teacher at prediction time and its size includes the teacher's",
                            key="stack>teacher", gates=[pooled_gate], **acc))
    st, kd = _pooled(rows, paths, "stack", "kd")
    out.append(paired_claim(st, kd, ">", "Stacking beats KD on the transfer set (mean over the "
                            f"gated pathways, {WHERE})", "89.1 % (its best method)",
                            key="stack>kd", gates=[pooled_gate], **acc))
    if innov is not None:
        gate = pathway_gate(rows, *innovations) if innovations in pathways(rows) else None
        innov_student = innovations[1] if innovations else None
        who = innov_student if innov_student in set(rows["student"]) else None
        out += innovation_claims(innov, gate, delta=delta, alone=None if who is None else
                                 student_values(rows, who, "gate")["alone"])
    return out


def innovation_claims(innov: pd.DataFrame, gate: Gate | None, *, delta: dict | None = None,
                      alone: pd.Series | None = None) -> list[Claim]:
    """Federated vs central (per client class, the first one's ``fed~central`` and
    ``iid>noniid``, the others' suffixed ``:client``) and dynamic vs fixed temperature on the
    transfer set; ``gate``: the teacher gate of the dynamic-temperature pathway; ``alone``: the
    same student alone's per-seed accuracy on the gate rows — a central reference is a sound
    control only when its student is not below that by more than δ (a degenerate reference
    makes any federated arm "as good")."""
    if innov.empty:
        return []
    acc = Deltas(delta).kwargs("accuracy")
    piv = innov.pivot_table(index="seed", columns="variant", values="test")

    def col(match):
        hits = [c for c in piv if match(c)]
        return piv[hits[0]] if hits else None

    out = []
    fed_rows = innov[innov["group"] == "federated"]
    for i, client in enumerate(dict.fromkeys(fed_rows["client"])):
        rows = fed_rows[fed_rows["client"] == client]
        by = {k: rows.pivot_table(index="seed", columns="split", values=v)
              for k, v in (("test", "test"), ("gate", "gate"))}
        fed, central, iid = (by["test"].get(k) for k in ("non-IID", "central", "IID"))
        if fed is None or central is None:
            continue
        sound = [] if alone is None else [
            control_gate(by["gate"]["central"], alone.reindex(by["gate"].index),
                         delta=acc["delta"], name="the central reference's student",
                         data=f"{GATE_DATA} accuracy")]
        label, tag = FED_CLIENTS.get(client, client), "" if i == 0 else f":{client}"
        out.append(paired_claim(fed, central, "=", "Federated distillation from non-IID clients "
                                f"is as good as a central model ({WHERE}, transfer set, "
                                f"{label} clients)", "88.71 % with privacy preservation",
                                f"{label} clients (averaged by size) and a central model of "
                                "the same class label the same transfer rows; no labels at the "
                                "server; the student learns from the training rows and those "
                                "targets; supported only if no difference larger than δ is "
                                "shown", key=f"fed~central{tag}", gates=sound, **acc))
        if iid is not None:
            out.append(paired_claim(iid, fed, ">", "A non-IID split costs the federated student "
                                    f"accuracy (IID clients beat non-IID ones; {WHERE}, "
                                    f"transfer set, {label} clients)",
                                    key=f"iid>noniid{tag}", **acc))
    dyn, fixed = col(lambda c: c.startswith("dynamic T")), col(lambda c: c.startswith("fixed T0"))
    if dyn is not None and fixed is not None:
        t = innov.loc[innov["variant"].str.startswith("dynamic T"), "temperature"]
        t0 = innov.loc[innov["variant"].str.startswith("fixed T0"), "temperature"].iloc[0]
        out.append(paired_claim(dyn, fixed, ">", "Dynamic temperature beats the fixed T0 it "
                                f"scales (KD on a transfer set, {WHERE})", "",
                                f"T = T0 (1 + 0.1 H̄) moves T by at most 10 % (here "
                                f"{t.mean() / t0 - 1:+.1%}); an effect that small sits far "
                                "below δ, so no number of seeds can support this claim: it can "
                                "end only as equivalent within ±δ", key="dynT>fixT",
                                gates=[gate] if gate is not None else [], **acc))
    return out


def headline(rows: pd.DataFrame) -> str:
    tab = pathway_table(rows)
    best = tab.loc[tab["kd − alone"].idxmax()]
    gated = set(gated_pathways(rows))
    ok = tab[[(t, s) in gated for t, s in zip(tab["teacher"], tab["student"])]]
    mean = (f"mean over the {len(ok)} pathways whose teacher beats the student on the gate "
            f"rows {ok['kd − alone'].mean():+.4f}" if len(ok) else
            "no pathway's teacher beats its student on the gate rows")
    return (f"On a transfer set of the source's generator, KD gains {best['kd − alone']:+.4f} "
            f"over the student alone on {best['teacher']} → {best['student']} ({mean}).")


def metrics(rows: pd.DataFrame) -> dict:
    tab = pathway_table(rows)
    return {f"{r['teacher']}->{r['student']}": {arm: float(r[arm if arm != "teacher" else
                                                               "teacher accuracy"])
                                                 for arm in ARM_COLUMNS
                                                 if (arm if arm != "teacher" else
                                                     "teacher accuracy") in r}
            for _, r in tab.iterrows()}

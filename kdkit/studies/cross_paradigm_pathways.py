"""cross_paradigm's transfer-set analysis (source: HeteroKD-BigData, IEEE Big Data 2025): the
arms' labels and columns, per-pathway values and gates (the teacher beats the student alone
on the held-out gate rows), the cross-family coefficients (teacher and student family effects,
leave-one-teacher-out), the claims of the transfer study and of the source's innovations, the
headline and the metrics. The jobs that produce the rows live in
:mod:`kdkit.studies.cross_paradigm_transfer`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import methods as kd_methods
from ..claims import Claim, Deltas, Gate, paired_claim, teacher_gate
from ..paradigms.families import FAMILIES, MODEL_FAMILY
from ..stats import mean_ci
from ..transfer_set import ARM_LABELS, control_gate, transfer_claims

GATE_DATA = "held-out gate rows"
LABELS = {**ARM_LABELS, "oof": "out-of-fold soft targets (training rows)", "stack": "stacking",
          "hard": "teacher's hard labels (transfer rows)", "teacher": "teacher"}
ARM_COLUMNS = ("teacher", "alone", "oof", "kd", "hard", "self", "oracle", "stack")
WHERE = "the source's generator"
PLUGIN_KIND = "tabular-targets"  # a user's soft-target method (``kdkit.methods``)
# The federated clients' model classes: the source's RF(100), or a teacher family's large model.
FED_CLIENTS = {"rf100": "RF(100), the source's"} | {k: k for k in FAMILIES}


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

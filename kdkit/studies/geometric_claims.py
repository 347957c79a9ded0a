"""geometric_kd's claims (source: "Geometric Knowledge Distillation via Procrustes Analysis
for Efficient Motion Sequence Classification", imics-lab, DSP 2025): the arms' labels, the
source's single-run numbers and setting (:func:`differs_from_source`), the held-out gates and
the claims table (:func:`claims`), the metrics and the headline. The jobs that produce what
they read live in :mod:`kdkit.studies.geometric_kd`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import Claim, Deltas, Gate, paired_claim, size_claim, teacher_gate
from ..stats import mean_ci
from ..transfer_set import ARM_LABELS, ARMS, control_gate, transfer_claims

SRC_CE, SRC_KD, SRC_UNIF = ("CE, source's model", "KD source targets, source's model",
                            "KD uniform teacher, source's model (control)")


# controls of what KD hands over (kdkit issue 37): the teacher's hard labels on the transfer
# rows; true labels corrupted to the teacher's accuracy there; and, for a student that does not
# see view-normalised input, the student alone with it ("view") or with random turns and
# scales of every batch ("augment"): the invariance Procrustes gives, without a teacher
CONTROL_LABELS = {"hard": "teacher's hard labels", "noisy": "oracle at the teacher's accuracy",
                  "view": "student alone, view-normalised",
                  "augment": "student alone, yaw-augmented"}
LABELS = {**ARM_LABELS, **CONTROL_LABELS, SRC_CE: SRC_CE, SRC_KD: SRC_KD, SRC_UNIF: SRC_UNIF}


# the source's single-run numbers on UTD-MHAD, its subject split and its model's size
SOURCE_CE, SOURCE_KD = 0.5745, 0.6491
SOURCE_TRAIN_SUBJECTS = [1, 2, 3, 4, 5]
SOURCE_ARCH = {"layers": 6, "heads": 12, "ff": 512}


def differs_from_source(p: dict) -> str:
    """How this run's setting differs from the source's UTD-MHAD run (empty when it matches:
    UTD-MHAD, subjects 1-5 train, the source's model size): the size claim is judged only
    there."""
    if p["data_dir"] is None:
        return "synthetic skeletons, not UTD-MHAD"
    if sorted(p["train_subjects"]) != SOURCE_TRAIN_SUBJECTS:
        return (f"training subjects {sorted(p['train_subjects'])}, not the source's "
                f"{SOURCE_TRAIN_SUBJECTS}")
    ours = {k: p[k] for k in SOURCE_ARCH}
    if ours != SOURCE_ARCH:
        return (f"a {p['layers']}-layer, {p['heads']}-head, FF {p['ff']} student, not the "
                "source's 6-layer, 12-head, FF 512 one")
    return ("two of the training subjects validate and gate rather than train (the source "
            "trains on all five)")


def _wide(rows: pd.DataFrame, value: str = "accuracy") -> pd.DataFrame:
    return rows.pivot_table(index="seed", columns="arm", values=value)


def held_out_gate(gate: pd.DataFrame | None, student: str = "alone", k: int = 1) -> Gate:
    """The teacher gate of one pathway from ``run``'s ``gate`` table (per seed, the gate
    subjects: training subjects that picked no learning rate or checkpoint): the k-NN teacher
    against ``student`` (an arm), paired over seeds. It reads only that table, never a test
    accuracy."""
    col = f"{k}-NN teacher"
    if gate is None or gate.empty or student not in gate:
        return Gate(False, "no gate subject: the teacher gate cannot be judged")
    g = gate.dropna(subset=[col, student])
    return teacher_gate(g[col].to_numpy(), g[student].to_numpy(), metric="accuracy",
                        what=f"the {k}-NN teacher", than=f"the {LABELS[student]}",
                        data="held-out gate subjects")


def transfer_row_gate(labels: pd.DataFrame | None) -> Gate:
    """The teacher gate on the transfer rows (``gate_rows: transfer``; ``run``'s
    ``transfer_labels`` table): the teacher's labels of the transfer rows (the argmax of the
    targets KD hands over) against the student alone's, scored on their true labels, paired over
    seeds. Neither model trains on those labels or picks anything on them, and a seed's 10
    transfer subjects average over far more subjects than its gate subjects do: on seeds 200-209
    of geometric_kd the student alone scored 0.48-0.62 on its four gate subjects, and the gate
    read the teacher −0.001 behind it while on test it led by +0.023 (kdkit issue 37)."""
    if labels is None or labels.empty:
        return Gate(False, "no transfer rows: the teacher gate cannot be judged")
    g = labels.dropna(subset=["teacher", "student alone"])
    return teacher_gate(g["teacher"].to_numpy(), g["student alone"].to_numpy(),
                        metric="accuracy", what="the teacher", than="the student alone",
                        data="labelling the transfer rows (true labels, held out)")


def claims(rows: pd.DataFrame, teachers: list[dict], stats: pd.DataFrame, n_classes: int, *,
           gate: pd.DataFrame | None, utd: bool, temperature: float, k: int = 1,
           differs: str = "synthetic skeletons, not UTD-MHAD", where: str = "",
           delta: dict | None = None, view: bool = True,
           labels: pd.DataFrame | None = None) -> list[Claim]:
    """The claims table. ``view``: whether the main arms saw the view-normalised input;
    ``gate``: ``run``'s gate table (the gates: the teacher against each
    pathway's student alone, the self-training control's soundness); ``differs``:
    :func:`differs_from_source` (empty: the size claim is judged); ``where``: the setting in the
    transfer claims' text; ``delta``: the study's ``delta`` parameter (metric ``accuracy``);
    ``labels``: ``run``'s ``transfer_labels`` table — when given, the teacher gate reads the
    transfer rows (:func:`transfer_row_gate`) instead of the gate subjects, which still judge
    the self-training control's soundness."""
    w = _wide(rows)
    d = Deltas(delta)
    acc = d.kwargs("accuracy")
    seeds = list(w.index)
    nn1 = pd.Series({t["seed"]: t["acc_test"][1] for t in teachers}).loc[seeds]
    used = pd.Series({t["seed"]: t.get("acc_test_teacher", t["acc_test"])[1]
                      for t in teachers}).loc[seeds]
    dtw = teachers[0].get("dtw", "sum")
    nn1n = pd.Series({t["seed"]: t["acc_test_normalised"][1] for t in teachers}).loc[seeds]
    gate_main = held_out_gate(gate, "alone", k) if labels is None else \
        transfer_row_gate(labels)
    out: list[Claim] = []
    if "kd" in w:
        control = None
        if gate is not None and "self" in gate:
            control = control_gate(gate["self"], gate["alone"], delta=d("accuracy"),
                                   data="held-out gate subject accuracy")
        out += transfer_claims(w[[a for a in ARMS if a in w]], where=where or "synthetic "
                               "skeletons", teacher_gate=gate_main, control=control,
                               delta_why=acc["delta_why"], delta=acc["delta"])
    if SRC_KD in w and SRC_CE in w:
        out.append(paired_claim(w[SRC_KD], w[SRC_CE], ">", "Geometric KD improves the student "
                                "(the source's model, targets and labelled rows only)",
                                "57.45 % → 64.91 % (UTD-MHAD)", "the source's architecture "
                                "and soft targets on both sides; the source's +7.46 points "
                                "are held against our seeds only by the size claim",
                                key="kd>ce@src", **acc))
        out.append(size_claim(w[SRC_KD], w[SRC_CE], "Geometric KD improves the source's model "
                              "by the source's amount (+7.46 points on UTD-MHAD)",
                              SOURCE_KD / SOURCE_CE - 1, differs=differs,
                              source_value="57.45 % → 64.91 % (UTD-MHAD, one run)",
                              key="kd>ce@src:size"))
    if SRC_KD in w and SRC_UNIF in w:
        out.append(paired_claim(w[SRC_KD], w[SRC_UNIF], ">", "The KD gain comes from "
                                "geometry, not from smoothing (the source's T = "
                                f"{temperature:g} targets vs a uniform teacher, the source's "
                                "model)", "", "like with like: the source's architecture and "
                                "loss on both sides", key="geo>unif@src", **acc))
    for arm, text, why in (
            ("hard", "KD's soft targets beat the teacher's hard labels on the same transfer rows",
             "what the probabilities add beyond the teacher's argmax"),
            ("noisy", "KD beats true labels corrupted to the teacher's accuracy (same rows)",
             "a labeller exactly as accurate as the teacher, without its soft structure"),
            ("view", "KD beats a view-normalised student alone (no teacher)",
             "the invariance Procrustes hands over, given to the student by preprocessing"),
            ("augment", "KD beats the student alone trained with random turns and scales",
             "the same invariance, learnt from augmentation instead of a teacher")):
        if "kd" in w and arm in w:
            setting = where or "synthetic skeletons"
            out.append(paired_claim(w["kd"], w[arm], ">", f"{text} ({setting}, test accuracy)",
                                    "", why, key=f"kd>{arm}", gates=(gate_main,), **acc))
    st = stats[stats["targets"].str.startswith("source")]
    e = mean_ci(st["mean max prob"])
    out.append(Claim(f"The source's soft targets (T = {temperature:g}) carry the teacher's "
                     "knowledge", "", e.mean, e.ci_low, e.ci_high,
                     "not supported" if e.ci_high < 1.5 / n_classes else
                     "supported" if e.ci_low > 1.5 / n_classes else "inconclusive",
                     f"mean max probability vs 1/C = {1 / n_classes:.3f}, over the seeds' data "
                     "sets; not supported when below 1.5/C (near uniform)",
                     id="src-targets-peaked", family="descriptive"))
    if "alone" in w:
        out.append(paired_claim(used.to_numpy(), w["alone"].to_numpy(), ">",
                                "Procrustes-DTW geometry gives high accuracy (1-NN teacher, "
                                f"{'length-normalised' if dtw == 'normalised' else 'summed'} "
                                "DTW, vs "
                                f"the {'view-normalised' if view else 'hip-centred'} student "
                                f"alone, {'UTD-MHAD' if utd else 'synthetic skeletons'}, test "
                                "subjects)", "\"high accuracy\"; their 1-NN: 32.0 % on "
                                "UTD-MHAD", ("fair preprocessing: the student's input is "
                                "centred, turned and scaled as Procrustes does" if view else
                                "the student gets the source's input (hip-centred only): the "
                                "teacher's lead includes the invariance Procrustes adds") +
                                "; the 1-NN teacher is deterministic per data set",
                                key="teacher>ce",
                                **acc))
    out.append(paired_claim(nn1n.to_numpy(), nn1.to_numpy(), ">",
                            "A length-normalised DTW gives a better 1-NN teacher than the "
                            "source's summed DTW", "the source sums over the path",
                            "the summed cost favours short sequences", key="ndtw>dtw", **acc))
    student_ms = float(rows[rows["arm"] == "alone"]["ms_per_sample"].median())
    teacher_ms = float(np.median([t["ms_per_sample"] for t in teachers]))
    out.append(Claim("The student is cheaper at inference than the geometric teacher", "",
                     teacher_ms / student_ms, None, None,
                     "supported" if teacher_ms > student_ms else "not supported",
                     f"teacher {teacher_ms:.2f} ms per test sample (distances to every "
                     f"reference sequence) vs student {student_ms:.3f} ms (ratio shown, medians "
                     "over seeds)", id="student-faster", family="descriptive"))
    for key, text, val in (("utd-values", "Transformer (CE) 57.45 % / Geometric KD 64.91 % on "
                            "UTD-MHAD", "57.45 / 64.91"),
                           ("signum-values", "SIGNUM: CE 86.90 % / KD 90.16 %",
                            "86.90 / 90.16")):
        out.append(Claim(text, val, None, None, None, "not testable",
                         "absolute accuracies of single runs on real data sets; "
                         + ("this run is on synthetic skeletons" if not utd else
                            "the size claim kd>ce@src:size holds the source's gain against our "
                            "seeds where the setting matches"),
                         id=key, family="descriptive"))
    return out


def metrics_tree(rows: pd.DataFrame, teachers: list[dict], stats: pd.DataFrame, *,
                 dataset: str, gate: pd.DataFrame | None = None,
                 transfer_labels: pd.DataFrame | None = None) -> dict:
    acc = {s: mean_ci(g["accuracy"]).as_dict() for s, g in rows.groupby("arm", sort=False)}
    nn1 = mean_ci([t["acc_test"][1] for t in teachers])
    nn1n = mean_ci([t["acc_test_normalised"][1] for t in teachers])
    head = {"1-NN teacher": nn1.mean}
    head.update({LABELS[a]: acc[a]["mean"] for a in ARMS if a in acc})
    return {"headline": head, "dataset": dataset, "teacher_1nn": nn1.as_dict(),
            "teacher_1nn_length_normalised": nn1n.as_dict(),
            "teacher_loo_accuracy": float(np.mean([t["acc_loo"] for t in teachers])),
            **({"gate_subject": {c: float(gate[c].mean()) for c in gate.columns
                                 if c.endswith("teacher") or c in LABELS}}
               if gate is not None and len(gate) else {}),
            **({"transfer_label_accuracy": transfer_labels.drop(columns="seed").mean()
                .to_dict()} if transfer_labels is not None and len(transfer_labels) else {}),
            "students": {LABELS[a]: v for a, v in acc.items()},
            "sound_temperature": [t["t_sound"] for t in teachers],
            "target_stats": stats.groupby("targets")[["mean max prob",
                                                      "mean prob of true class"]].mean()
            .to_dict(orient="index")}


def headline(rows: pd.DataFrame, teachers: list[dict]) -> str:
    """Mean test accuracy of the teacher the study uses (its DTW), the source's summed-DTW 1-NN
    where that is another one, and every arm."""
    m = rows.groupby("arm")["accuracy"].mean()
    used = np.mean([t.get("acc_test_teacher", t["acc_test"])[1] for t in teachers])
    dtw = teachers[0].get("dtw", "sum")
    teacher = f"1-NN teacher {used:.3f}"
    if dtw != "sum":
        src = np.mean([t["acc_test"][1] for t in teachers])
        teacher = (f"1-NN teacher (length-normalised DTW) {used:.3f}; the source's summed-DTW "
                   f"1-NN {src:.3f}")
    return (f"Test accuracy over {rows['seed'].nunique()} seeds: {teacher}; "
            + "; ".join(f"{LABELS[k]} {m[k]:.3f}" for k in (*ARMS, SRC_CE, SRC_KD) if k in m)
            + ".")

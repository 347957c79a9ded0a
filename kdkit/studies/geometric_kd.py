"""The geometric_kd study (source: "Geometric Knowledge Distillation via Procrustes Analysis
for Efficient Motion Sequence Classification", imics-lab, DSP 2025).

A k-NN teacher over Procrustes-DTW distances (``kdkit.geometry``) is distilled into a
transformer student (``kdkit.geometry.student``) with soft targets built from the distances
(``kdkit.distill.distance_targets``): the source's (global min-max, softmax over all training
samples, T = 3) and sound ones (per class, leave-one-out, T chosen by log-loss).

What the arms tell apart:

* **geometry vs smoothing**: the same KD loss against a *uniform* teacher, on the fixed
  student and on the source's own architecture;
* **geometry vs invariance**: the synthetic trials differ by a random yaw, scale and position —
  exactly what Procrustes removes — so a CE student trained with random rotations and scales
  (:func:`kdkit.geometry.student.random_yaw`) has the same invariance; the teacher helps only if
  KD adds to that;
* **DTW length**: the source's DTW is a sum over the warping path, which favours short
  sequences; the length-normalised variant (total cost / path length) is reported beside it.

Every arm trains the same number of epochs (the same gradient steps; none is tuned). Each seed
draws its own synthetic data set (subjects, trials, nuisances) unless ``data_seed`` fixes it;
UTD-MHAD keeps its published subject split. Students run as jobs (``kdkit.jobs``), one per seed
and arm.

**The teacher gate** (a claim that KD transfers knowledge is judged only when the teacher beats
the student alone) is decided on data that neither model is scored on in the claims: per seed
one *training* subject is held out (``train_subjects[seed % len(train_subjects)]``, so the
seeds rotate through them); the k-NN teacher takes the other training subjects as its
reference set, a CE student (the fixed model, the same epochs and learning rate as every arm)
trains on them, and both are scored on the held-out subject (:func:`held_out_gate`). The test
subjects decide no gate.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import pandas as pd

from ..claims import Claim, Deltas, Gate, paired_claim, size_claim, teacher_gate
from ..data.skeleton import load_utd_mhad, synthetic_skeletons
from ..distill.distance_targets import (
    choose_temperature,
    class_soft_targets,
    knn_predict,
    seed_soft_targets,
)
from ..geometry.distance import distance_matrix
from ..geometry.student import fit_student, pad, predict
from ..jobs import Job
from ..params import require
from ..stats import mean_ci

SOURCE = ("Geometric Knowledge Distillation via Procrustes Analysis for Efficient Motion "
          "Sequence Classification (imics-lab, DSP 2025)", "")
# name -> (loss, targets, faithful architecture, rotation augmentation)
STUDENTS = {
    "CE": ("ce", None, False, False),
    "CE + rotation augmentation": ("ce", None, False, True),
    "KD, source targets": ("kd", "source", False, False),
    "KD, uniform teacher (control)": ("uniform", None, False, False),
    "KD, sound targets": ("kd", "sound", False, False),
    "KD, sound targets + rotation augmentation": ("kd", "sound", False, True),
    "CE, source's model": ("ce", None, True, False),
    "KD source targets, source's model": ("kd", "source", True, False),
    "KD uniform teacher, source's model (control)": ("uniform", None, True, False),
}
# the source's single-run numbers on UTD-MHAD, its subject split and its model's size
SOURCE_CE, SOURCE_KD = 0.5745, 0.6491
SOURCE_TRAIN_SUBJECTS = [1, 2, 3, 4, 5]
SOURCE_ARCH = {"layers": 6, "heads": 12, "ff": 512}


def check_params(p: dict) -> None:
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["epochs"] >= 1 and p["n_subjects"] >= 2 and p["n_trials"] >= 1,
            "epochs, n_trials must be ≥ 1 and n_subjects ≥ 2")
    require(p["temperature"] > 0, "temperature must be > 0")
    require(p["k"] >= 1, "k must be ≥ 1")
    require(p["train_subjects"], "train_subjects is empty")
    bad = sorted(set(p["students"]) - set(STUDENTS))
    require(not bad, f"students: unknown {bad}; allowed: {', '.join(STUDENTS)}")
    require("CE" in p["students"], "students must include CE (every claim compares with it)")
    if p["data_dir"] is None:
        require(set(p["train_subjects"]) < set(range(1, p["n_subjects"] + 1)),
                f"train_subjects must be a proper subset of 1..{p['n_subjects']}")


@lru_cache(maxsize=16)
def _dataset(data_dir, n_subjects: int, n_trials: int, seed: int):
    if data_dir is not None:
        return load_utd_mhad(data_dir)
    return synthetic_skeletons(n_subjects, n_trials, seed=seed)


def load(p: dict, seed: int | None = None):
    """The data set of ``seed`` and its subject split: ((train seqs, y), (test seqs, y),
    SkeletonSet). Synthetic data: each seed its own draw unless ``data_seed``."""
    s = p["data_seed"] if p["data_seed"] is not None else (p["seeds"][0] if seed is None
                                                            else seed)
    data = _dataset(p["data_dir"], p["n_subjects"], p["n_trials"], s)
    (tr, ytr), (te, yte) = data.split_by_subject(p["train_subjects"])
    if not len(tr) or not len(te):
        raise ValueError(f"train_subjects {p['train_subjects']} leave an empty train or test "
                         f"set (subjects present: {sorted(set(data.subject))})")
    return (tr, ytr), (te, yte), data


def gate_subject(p: dict, seed: int) -> int | None:
    """The training subject held out for the teacher gate of ``seed`` (None with a single
    training subject): the seeds rotate through ``train_subjects``."""
    subjects = list(p["train_subjects"])
    return subjects[seed % len(subjects)] if len(subjects) >= 2 else None


def gate_rows(p: dict, seed: int, data) -> tuple[np.ndarray, np.ndarray]:
    """(reference rows, held-out rows) of the training sequences for the gate of ``seed``:
    positions in the training split (the order of ``split_by_subject``)."""
    subj = data.subject[np.isin(data.subject, list(p["train_subjects"]))]
    held = subj == gate_subject(p, seed)
    return np.flatnonzero(~held), np.flatnonzero(held)


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
    return ""


def teacher(tr, ytr, te, yte, k: int, n_classes: int, *, normalize: bool = False) -> dict:
    """Distances, k-NN accuracies and the teacher's time per test sample (ms); with
    ``normalize`` the DTW cost is divided by the warping path's length."""
    t0 = time.perf_counter()
    D = distance_matrix(tr, normalize=normalize)
    D_te = distance_matrix(te, tr, normalize=normalize)
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    distance_matrix(te[:5], tr, normalize=normalize)
    per_sample = (time.perf_counter() - t0) / min(5, len(te)) * 1e3
    return {"D": D, "D_te": D_te, "seconds": elapsed, "ms_per_sample": per_sample,
            "acc_test": {kk: float((knn_predict(D_te, ytr, kk) == yte).mean())
                         for kk in sorted({1, 3, 5, k})},
            "acc_loo": float((knn_predict(D, ytr, k, exclude_self=True) == ytr).mean()),
            "pred": knn_predict(D_te, ytr, k)}


def soft_targets(D, ytr, n_classes: int, temperature: float) -> dict:
    source = seed_soft_targets(D, ytr, temperature, n_classes)
    t_sound, losses = choose_temperature(D, ytr, n_classes)
    sound = class_soft_targets(D, ytr, t_sound, n_classes, exclude_self=True)
    stats = []
    for name, p in (("source (T = %g)" % temperature, source),
                    ("sound (T = %g)" % t_sound, sound)):
        stats.append({"targets": name, "mean max prob": float(p.max(1).mean()),
                      "uniform": 1 / n_classes,
                      "mean prob of true class": float(p[np.arange(len(ytr)), ytr].mean()),
                      "argmax = label": float((p.argmax(1) == ytr).mean())})
    return {"source": source, "sound": sound, "t_sound": t_sound, "t_losses": losses,
            "stats": pd.DataFrame(stats)}


def teacher_job(p: dict, seed: int) -> dict:
    """The teacher of one seed's data (a job): the source's DTW and the length-normalised one,
    the soft targets, and what the students need."""
    (tr, ytr), (te, yte), data = load(p, seed)
    C = len(data.actions)
    t = teacher(tr, ytr, te, yte, p["k"], C)
    tn = teacher(tr, ytr, te, yte, p["k"], C, normalize=True)
    targets = soft_targets(t["D"], ytr, C, p["temperature"])
    gate = None
    if gate_subject(p, seed) is not None:  # the k-NN teacher on the held-out training subject
        ref, held = gate_rows(p, seed, data)
        pred = knn_predict(t["D"][np.ix_(held, ref)], ytr[ref], p["k"])
        gate = float((pred == ytr[held]).mean())
    return {"seed": seed, "n_classes": C, "actions": data.actions, "gate_accuracy": gate,
            "teacher": {k: v for k, v in t.items() if k not in ("D", "D_te")},
            "normalized": {k: v for k, v in tn.items() if k not in ("D", "D_te")},
            "targets": {k: targets[k] for k in ("source", "sound", "t_sound")},
            "stats": targets["stats"].assign(seed=seed)}


def student_job(p: dict, seed: int, name: str, targets: dict, n_classes: int,
                device: str = "cpu") -> dict:
    """One student arm on one seed (a job)."""
    from ..device import resolve

    (tr, ytr), (te, yte), _ = load(p, seed)
    Xtr, Ltr = pad(tr)
    Xte, Lte = pad(te)
    loss, tgt, faithful, augment = STUDENTS[name]
    arch = {"nhead": p["heads"], "layers": p["layers"], "ff": p["ff"], "dropout": p["dropout"]}
    model = fit_student(Xtr, Ltr, ytr, n_classes=n_classes,
                        teacher=None if tgt is None else targets[tgt], loss=loss,
                        # the sound targets are already probabilities: T = 1 on the student
                        # side (its T chose how sharp the targets are)
                        temperature=1.0 if tgt == "sound" else p["temperature"],
                        faithful=faithful, epochs=p["epochs"], lr=p["lr"],
                        batch_size=p["batch_size"], seed=seed, arch=arch, augment=augment,
                        device=resolve(device))
    pred, ms = predict(model, Xte, Lte)
    return {"seed": seed, "student": name, "accuracy": float((pred == yte).mean()),
            "ms_per_sample": ms, "pred": pred, "n_params":
            sum(x.numel() for x in model.parameters())}


def gate_student_job(p: dict, seed: int, n_classes: int, device: str = "cpu") -> dict:
    """The CE student of the teacher gate (a job): the fixed model, the same epochs and
    learning rate as every arm, trained on the training subjects but the held-out one and
    scored on that one."""
    from ..device import resolve

    (tr, ytr), _, data = load(p, seed)
    ref, held = gate_rows(p, seed, data)
    X, L = pad(tr)
    arch = {"nhead": p["heads"], "layers": p["layers"], "ff": p["ff"], "dropout": p["dropout"]}
    model = fit_student(X[ref], L[ref], ytr[ref], n_classes=n_classes, loss="ce",
                        faithful=False, epochs=p["epochs"], lr=p["lr"],
                        batch_size=p["batch_size"], seed=seed, arch=arch,
                        device=resolve(device))
    pred, _ = predict(model, X[held], L[held])
    return {"seed": seed, "accuracy": float((pred == ytr[held]).mean())}


def run(p: dict, runner, progress=print) -> dict:
    """Teachers (one job per seed), then every student arm on every seed and the gate's
    student (one per seed, when there are at least two training subjects)."""
    teachers = runner.run([Job(teacher_job, (p, s), name=f"teacher seed {s}")
                           for s in p["seeds"]], "Procrustes-DTW teachers")
    by = {t["seed"]: t for t in teachers}
    arms = [Job(student_job, (p, s, name, by[s]["targets"], by[s]["n_classes"]),
                {"device": p["device"]}, name=f"{name} seed {s}")
            for s in p["seeds"] for name in p["students"]]
    gated = [s for s in p["seeds"] if gate_subject(p, s) is not None]
    gjobs = [Job(gate_student_job, (p, s, by[s]["n_classes"]), {"device": p["device"]},
                 name=f"gate student seed {s}") for s in gated]
    results = runner.run(arms + gjobs, "students")
    done, gdone = results[:len(arms)], results[len(arms):]
    gate = pd.DataFrame([{"seed": g["seed"], "held-out subject": gate_subject(p, g["seed"]),
                          f"{p['k']}-NN teacher": by[g["seed"]]["gate_accuracy"],
                          "CE student": g["accuracy"]} for g in gdone],
                        columns=["seed", "held-out subject", f"{p['k']}-NN teacher",
                                 "CE student"])
    rows = pd.DataFrame([{k: v for k, v in d.items() if k != "pred"} for d in done])
    teach = pd.DataFrame([{"seed": t["seed"], "DTW": dtw, f"{k}-NN test accuracy": acc,
                           "k": k}
                          for t in teachers for dtw, key in (("source (sum)", "teacher"),
                                                             ("length-normalised", "normalized"))
                          for k, acc in t[key]["acc_test"].items()])
    first = teachers[0]
    preds = {d["student"]: d["pred"] for d in done if d["seed"] == p["seeds"][0]}
    return {"rows": rows, "teachers": teachers, "teacher_table": teach, "first": first,
            "preds": preds, "stats": pd.concat([t["stats"] for t in teachers]),
            "n_params": done[0]["n_params"], "gate": gate}


def _wide(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.pivot_table(index="seed", columns="student", values="accuracy")


def held_out_gate(gate: pd.DataFrame | None, k: int = 1) -> Gate:
    """The teacher gate from the held-out training subject of every seed (``run``'s
    ``gate`` table): the k-NN teacher against the CE student, paired over seeds. It reads
    only that table, never a test accuracy."""
    if gate is None or gate.empty:
        return Gate(False, "no held-out training subject (a single training subject): the "
                    "teacher gate cannot be judged")
    g = gate.dropna(subset=[f"{k}-NN teacher", "CE student"])
    return teacher_gate(g[f"{k}-NN teacher"].to_numpy(), g["CE student"].to_numpy(),
                        metric="accuracy", what=f"the {k}-NN teacher", than="the CE student",
                        data="held-out training subject")


def claims(rows: pd.DataFrame, teachers: list[dict], stats: pd.DataFrame, n_classes: int, *,
           gate: pd.DataFrame | None, utd: bool, temperature: float, k: int = 1,
           differs: str = "synthetic skeletons, not UTD-MHAD",
           delta: dict | None = None) -> list[Claim]:
    """The claims table. ``gate``: ``run``'s held-out gate table (the transfer claims'
    precondition); ``differs``: :func:`differs_from_source` (empty: the size claim is judged);
    ``delta``: the study's ``delta`` parameter (metric ``accuracy``)."""
    w = _wide(rows)
    acc = Deltas(delta).kwargs("accuracy")
    nn1 = pd.Series({t["seed"]: t["teacher"]["acc_test"][1] for t in teachers}).loc[w.index]
    nn1n = pd.Series({t["seed"]: t["normalized"]["acc_test"][1]
                      for t in teachers}).loc[w.index]
    gate_ce = held_out_gate(gate, k)
    out = []

    def add(key, a, b, text, source_value="", note="", gates=(gate_ce,), claimed_rel=None):
        if a in w and b in w:
            out.append(paired_claim(w[a], w[b], ">", text, source_value, note, key=key,
                                    gates=gates, claimed_rel=claimed_rel, **acc))

    src_kd, src_ce = "KD source targets, source's model", "CE, source's model"
    add("kd>ce@src", src_kd, src_ce,
        "Geometric KD improves the student (source's model and targets)",
        "57.45 % → 64.91 % (UTD-MHAD)", "the source's architecture and soft targets on both "
        "sides", claimed_rel=None if differs else SOURCE_KD / SOURCE_CE - 1)
    if src_kd in w and src_ce in w:
        out.append(size_claim(w[src_kd], w[src_ce], "Geometric KD improves the source's model "
                              "by the source's amount (+7.46 points on UTD-MHAD)",
                              SOURCE_KD / SOURCE_CE - 1, differs=differs,
                              source_value="57.45 % → 64.91 % (UTD-MHAD, one run)",
                              key="kd>ce@src:size", gates=(gate_ce,)))
    add("geo>unif", "KD, source targets", "KD, uniform teacher (control)",
        "The KD gain comes from geometry, not from smoothing (source targets vs a uniform "
        "teacher, same loss, fixed model)", "",
        "the source's T = 3 targets are nearly uniform, so the control matters")
    add("geo>unif@src", src_kd, "KD uniform teacher, source's model (control)",
        "The KD gain comes from geometry, not from smoothing (the source's model)", "",
        "like with like: the source's architecture on both sides")
    add("sound>ce", "KD, sound targets", "CE",
        "Sound soft targets (leave-one-out, per class, T by log-loss) improve the student")
    add("sound+aug>ce+aug", "KD, sound targets + rotation augmentation",
        "CE + rotation augmentation",
        "The geometric teacher helps a student that already has its invariance (both trained "
        "with random rotations and scales)", "",
        "Procrustes removes rotation, scale and position; the augmented student can learn the "
        "same")
    add("sound>ce+aug", "KD, sound targets", "CE + rotation augmentation",
        "The geometric teacher beats the invariance it encodes (sound KD vs CE with "
        "augmentation)")
    st = stats[stats["targets"].str.startswith("source")]
    e = mean_ci(st["mean max prob"])
    out.append(Claim(f"The source's soft targets (T = {temperature:g}) carry the teacher's "
                     "knowledge", "", e.mean, e.ci_low, e.ci_high,
                     "not supported" if e.ci_high < 1.5 / n_classes else
                     "supported" if e.ci_low > 1.5 / n_classes else "inconclusive",
                     f"mean max probability vs 1/C = {1 / n_classes:.3f}, over the seeds' data "
                     "sets; not supported when below 1.5/C (near uniform)",
                     id="src-targets-peaked", family="descriptive"))
    out.append(paired_claim(nn1.to_numpy(), w["CE"].to_numpy(), ">",
                            "Procrustes-DTW geometry gives high accuracy (1-NN teacher vs the "
                            f"CE student, {'UTD-MHAD' if utd else 'synthetic skeletons'}, test "
                            "subjects)", "\"high accuracy\"; their 1-NN: 32.0 % on UTD-MHAD",
                            "the 1-NN teacher is deterministic per data set", key="teacher>ce",
                            **acc))
    out.append(paired_claim(nn1n.to_numpy(), nn1.to_numpy(), ">",
                            "A length-normalised DTW gives a better 1-NN teacher than the "
                            "source's summed DTW", "the source sums over the path",
                            "the summed cost favours short sequences", key="ndtw>dtw", **acc))
    student_ms = float(rows[rows["student"] == "CE"]["ms_per_sample"].median())
    teacher_ms = float(np.median([t["teacher"]["ms_per_sample"] for t in teachers]))
    out.append(Claim("The student is cheaper at inference than the geometric teacher", "",
                     teacher_ms / student_ms, None, None,
                     "supported" if teacher_ms > student_ms else "not supported",
                     f"teacher {teacher_ms:.2f} ms per test sample (distances to every "
                     f"training sequence) vs student {student_ms:.3f} ms (ratio shown, medians "
                     "over seeds)", id="student-faster", family="descriptive"))
    for key, text, val in (("utd-values", "Transformer (CE) 57.45 % / Geometric KD 64.91 % on "
                            "UTD-MHAD", "57.45 / 64.91"),
                           ("signum-values", "SIGNUM: CE 86.90 % / KD 90.16 %",
                            "86.90 / 90.16")):
        out.append(Claim(text, val, None, None, None, "not testable",
                         "absolute accuracies on real data sets; this run is on synthetic "
                         "skeletons" if not utd else "absolute numbers of single runs; the "
                         "size claim kd>ce@src:size holds the source's gain against our seeds",
                         id=key, family="descriptive"))
    return out


def metrics_tree(rows: pd.DataFrame, teachers: list[dict], stats: pd.DataFrame, *,
                 dataset: str, gate: pd.DataFrame | None = None) -> dict:
    acc = {s: mean_ci(g["accuracy"]).as_dict() for s, g in rows.groupby("student", sort=False)}
    nn1 = mean_ci([t["teacher"]["acc_test"][1] for t in teachers])
    nn1n = mean_ci([t["normalized"]["acc_test"][1] for t in teachers])
    return {"headline": {"1-NN teacher": nn1.mean, "CE student": acc["CE"]["mean"],
                         **({"KD source targets": acc["KD, source targets"]["mean"]}
                            if "KD, source targets" in acc else {})},
            "dataset": dataset, "teacher_1nn": nn1.as_dict(),
            "teacher_1nn_length_normalised": nn1n.as_dict(),
            "teacher_loo_accuracy": float(np.mean([t["teacher"]["acc_loo"] for t in teachers])),
            **({"gate_held_out_subject": {c: float(gate[c].mean()) for c in gate.columns
                                          if c.endswith("teacher") or c == "CE student"}}
               if gate is not None and len(gate) else {}),
            "students": acc,
            "sound_temperature": [t["targets"]["t_sound"] for t in teachers],
            "target_stats": stats.groupby("targets")[["mean max prob",
                                                      "mean prob of true class"]].mean()
            .to_dict(orient="index")}


def headline(rows: pd.DataFrame, teachers: list[dict]) -> str:
    m = rows.groupby("student")["accuracy"].mean()
    nn1 = np.mean([t["teacher"]["acc_test"][1] for t in teachers])
    keys = ["CE", "CE + rotation augmentation", "KD, sound targets",
            "KD, uniform teacher (control)"]
    return (f"Test accuracy over {rows['seed'].nunique()} seeds: 1-NN teacher {nn1:.3f}; "
            + "; ".join(f"{k} {m[k]:.3f}" for k in keys if k in m) + ".")

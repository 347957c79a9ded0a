"""The geometric_kd study (source: "Geometric Knowledge Distillation via Procrustes Analysis
for Efficient Motion Sequence Classification", imics-lab, DSP 2025).

A k-NN teacher over Procrustes-DTW distances (``kdkit.geometry``) is distilled into a
transformer student (``kdkit.geometry.student``) with soft targets built from the distances
(``kdkit.distill.distance_targets``).

**Where KD can work: a transfer set** (:mod:`kdkit.transfer_set`). Per seed the subjects fall
in three groups: labelled *training* subjects, unlabelled *transfer* subjects, and *test*
subjects. The teacher (reference set: the labelled rows the student trains on) labels the
transfer sequences with sound soft targets (per class, T by leave-one-out log-loss); four arms
of one student, the fixed model with a **view-normalised** input
(:mod:`kdkit.data.view_normalisation`: the same nuisances removed as Procrustes removes):

* ``alone``: the labelled rows only; ``kd``: plus the transfer rows with the teacher's
  targets; ``self``: plus the transfer rows with the student alone's own probabilities (the
  self-training control); ``oracle``: plus the transfer rows with their true labels.

**The source's replay** on the labelled rows only, the source's own model (no positional
encoding, no padding mask, unshuffled) and input (hip-centred): CE, KD with the source's
targets (global min-max, softmax over all training samples, T = 3) and KD against a uniform
teacher (the smoothing control).

**Inner validation.** Per seed ``gate_subjects`` + 1 training subjects are held out of the
gradient data, the seeds rotating through them (:func:`roles`): the *validation* subject picks
every arm's learning rate (``lr_grid``, the same grid for every arm) and checkpoint (lowest
validation cross-entropy, scored every ``eval_every`` gradient steps, early stopping after
``patience`` scores without gain, at most ``steps``: the same budget for every arm); the *gate*
subjects picked nothing and decide the **teacher gate** — the k-NN teacher (references: every
labelled subject but the gate ones) against the student alone — and the self-training
control's soundness (:func:`kdkit.transfer_set.control_gate`). With ``gate_rows: transfer``
the teacher gate reads the transfer rows' true labels instead (no model trains or picks
anything on them; :func:`transfer_row_gate`). An open gate (teacher ahead, p ≥ α) leaves the
transfer claims inconclusive and the seed plan looking. The test
subjects are scored once, at the end, and decide no gate.

Every student sees every ``frame_stride``-th frame (the teacher all of them): the budget. The
yaw of every trial is drawn within ±``yaw_range`` degrees (30: subjects facing a depth
camera, the main setting; 180: the full circle). Each seed draws its own synthetic data set
unless ``data_seed`` fixes it; UTD-MHAD keeps its published subject split (no transfer subjects
unless given). Students run as jobs (``kdkit.jobs``), one per seed and arm.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
import pandas as pd

from ..data.skeleton import synthetic_skeletons
from ..data.skeleton_folder import load_skeletons
from ..distill.distance_targets import (
    choose_temperature,
    class_soft_targets,
    knn_predict,
    seed_soft_targets,
)
from ..geometry.distance import distance_matrix
from ..geometry.student import fit_steps, pad, predict, probabilities
from ..jobs import Job, job_params
from ..params import require, require_data
from .geometric_claims import (  # noqa: F401  (re-exported: the study's one namespace)
    LABELS,
    SOURCE_ARCH,
    SOURCE_TRAIN_SUBJECTS,
    SRC_CE,
    SRC_KD,
    SRC_UNIF,
    claims,
    differs_from_source,
    headline,
    held_out_gate,
    metrics_tree,
    transfer_row_gate,
)

SOURCE = ("Geometric Knowledge Distillation via Procrustes Analysis for Efficient Motion "
          "Sequence Classification (imics-lab, DSP 2025)", "")
# arm -> (loss, targets, source's model and input); the transfer arms use the fixed model
STUDENTS = {
    "alone": ("ce", None, False),
    "kd": ("ce", "teacher", False),
    "self": ("ce", "self", False),
    "oracle": ("ce", "oracle", False),
    "hard": ("ce", "hard", False),
    "noisy": ("ce", "noisy", False),
    "view": ("ce", None, False),
    "augment": ("ce", None, False),
    SRC_CE: ("ce", None, True),
    SRC_KD: ("kd", "source", True),
    SRC_UNIF: ("uniform", None, True),
}
NOISE_SEED = 4241  # the draw of which transfer labels the "noisy" oracle gets wrong
def check_params(p: dict) -> None:
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["steps"] >= 1 and p["eval_every"] >= 1 and p["frame_stride"] >= 1,
            "steps, eval_every and frame_stride must be ≥ 1")
    require(p["lr_grid"] and all(lr > 0 for lr in p["lr_grid"]),
            "lr_grid must list positive learning rates")
    require(p["n_subjects"] >= 2 and p["n_trials"] >= 1, "n_subjects ≥ 2 and n_trials ≥ 1")
    require(0 <= p["yaw_range"] <= 180, "yaw_range is in degrees, 0 to 180")
    require(p.get("gate_rows", "subjects") in ("subjects", "transfer"),
            f"gate_rows must be subjects (the gate subjects) or transfer (the transfer rows' "
            f"labels, which no model trains on), got {p.get('gate_rows')}")
    require(p.get("teacher_dtw", "sum") in ("sum", "normalised"),
            f"teacher_dtw must be sum (the source's) or normalised, got {p.get('teacher_dtw')}")
    require(not (p.get("hard") and p["data_dir"] is not None),
            "hard applies to the synthetic skeletons; set hard: false with data_dir")
    require(p["temperature"] > 0, "temperature must be > 0")
    require(p["k"] >= 1, "k must be ≥ 1")
    n_gate = p.get("gate_subjects", 1)
    require(isinstance(n_gate, int) and n_gate >= 1, "gate_subjects must be an integer ≥ 1")
    require(len(p["train_subjects"]) >= n_gate + 2, f"train_subjects needs at least "
            f"{n_gate + 2} subjects: per seed one validates, {n_gate} decide the teacher gate "
            "(gate_subjects), the rest train")
    bad = sorted(set(p["students"]) - set(STUDENTS))
    require(not bad, f"students: unknown {bad}; allowed: {', '.join(STUDENTS)}")
    require("alone" in p["students"], "students must include alone (every gate compares with "
            "it, and the self-training control needs it)")
    overlap = set(p["train_subjects"]) & set(p["transfer_subjects"])
    require(not overlap, f"subjects {sorted(overlap)} are both training and transfer subjects")
    if p["data_dir"] is not None:  # the data contract, checked before a kernel starts
        subjects = set(require_data("data_dir", load_skeletons, p["data_dir"],
                                    joints=20).subject.tolist())
        used = set(p["train_subjects"]) | set(p["transfer_subjects"])
        require(used <= subjects and used < subjects, f"train_subjects and transfer_subjects "
                f"must be subjects of data_dir ({sorted(subjects)}) and leave test subjects")
    if p["data_dir"] is None:
        known = set(range(1, p["n_subjects"] + 1))
        used = set(p["train_subjects"]) | set(p["transfer_subjects"])
        require(used < known, f"train_subjects and transfer_subjects must leave test subjects "
                f"among 1..{p['n_subjects']}")
    need = {"kd", "self", "oracle", "hard", "noisy"} & set(p["students"])
    require(not need or p["transfer_subjects"], f"{sorted(need)} need transfer_subjects")


@lru_cache(maxsize=16)
def _dataset(data_dir, n_subjects: int, n_trials: int, yaw_range: float, seed: int,
             hard: bool = False):
    if data_dir is not None:
        return load_skeletons(data_dir, joints=20)
    return synthetic_skeletons(n_subjects, n_trials, yaw_range=yaw_range, hard=hard, seed=seed)


def roles(p: dict, seed: int) -> dict:
    """The subjects of each role for ``seed``: ``gate`` (a list of ``gate_subjects`` subjects,
    default 1: they decide the gates), ``valid`` (picks lr and checkpoint), ``fit`` (the
    labelled gradient rows), ``transfer``; the seeds rotate the gate and validation subjects
    through ``train_subjects``."""
    s = list(p["train_subjects"])
    n = int(p.get("gate_subjects", 1))
    g = [s[(seed + i) % len(s)] for i in range(n)]
    v = s[(seed + n) % len(s)]
    return {"valid": v, "gate": g, "fit": [x for x in s if x != v and x not in g],
            "transfer": list(p["transfer_subjects"])}


def load(p: dict, seed: int | None = None) -> dict:
    """The data set of ``seed`` split by role: {role: (sequences, labels)} for fit, valid,
    gate, transfer and test, and ``data`` (the SkeletonSet). Synthetic data: each seed its own
    draw unless ``data_seed``."""
    seed = p["seeds"][0] if seed is None else seed
    s = p["data_seed"] if p["data_seed"] is not None else seed
    data = _dataset(p["data_dir"], p["n_subjects"], p["n_trials"], float(p["yaw_range"]), s,
                    bool(p.get("hard", False)))
    r = roles(p, seed)
    groups = {"fit": r["fit"], "valid": [r["valid"]], "gate": r["gate"],
              "transfer": r["transfer"]}
    out = {}
    for role, subjects in groups.items():
        m = np.isin(data.subject, subjects)
        out[role] = ([q for q, k in zip(data.sequences, m) if k], data.y[m])
    m = ~np.isin(data.subject, list(p["train_subjects"]) + list(p["transfer_subjects"]))
    out["test"] = ([q for q, k in zip(data.sequences, m) if k], data.y[m])
    empty = [k for k in ("fit", "valid", "gate", "test") if not len(out[k][1])]
    if empty:
        raise ValueError(f"no sequences for {empty} (subjects present: "
                         f"{sorted(set(data.subject))})")
    out["data"] = data
    return out


def soft_targets(D, ytr, n_classes: int, temperature: float) -> dict:
    """The source's targets and the sound ones on the labelled rows (D: their distances),
    with how peaked each is; ``t_sound``: the sound targets' T (leave-one-out log-loss)."""
    source = seed_soft_targets(D, ytr, temperature, n_classes)
    t_sound, losses = choose_temperature(D, ytr, n_classes)
    sound = class_soft_targets(D, ytr, t_sound, n_classes, exclude_self=True)
    stats = []
    for name, q in (("source (T = %g)" % temperature, source),
                    ("sound (T = %g)" % t_sound, sound)):
        stats.append({"targets": name, "mean max prob": float(q.max(1).mean()),
                      "uniform": 1 / n_classes,
                      "mean prob of true class": float(q[np.arange(len(ytr)), ytr].mean()),
                      "argmax = label": float((q.argmax(1) == ytr).mean())})
    return {"source": source, "sound": sound, "t_sound": t_sound, "t_losses": losses,
            "stats": pd.DataFrame(stats)}


def teacher_job(p: dict, seed: int) -> dict:
    """The teacher of one seed (a job): Procrustes-DTW distances from every sequence to its
    reference set — every labelled subject but the gate subject (the gradient rows and the
    validation subject: the teacher picks no checkpoint, so it may use both) — k-NN accuracies
    on the gate subject, the transfer set and the test subjects (the source's summed DTW; the
    length-normalised one on test), the source's targets on the labelled gradient rows and the
    sound ones on the transfer rows."""
    d = load(p, seed)
    C = len(d["data"].actions)
    (te, yte) = d["test"]
    fit, yfit = d["fit"][0] + d["valid"][0], np.concatenate([d["fit"][1], d["valid"][1]])
    n_grad = len(d["fit"][1])
    norm = p.get("teacher_dtw", "sum") == "normalised"
    pick = 1 if norm else 0  # distance_matrix(both=True): (summed, normalised), one pass
    t0 = time.perf_counter()
    D_fit = distance_matrix(fit, both=True)
    D = D_fit[pick]
    others = d["gate"][0] + d["transfer"][0] + te
    D_others = distance_matrix(others, fit, both=True)
    D_o = D_others[pick]
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    distance_matrix(te[:5], fit, normalize=norm)
    ms = (time.perf_counter() - t0) / min(5, len(te)) * 1e3
    ng, nt = len(d["gate"][1]), len(d["transfer"][1])
    D_g, D_tr, D_te = D_o[:ng], D_o[ng:ng + nt], D_o[ng + nt:]
    D_te_sum, D_te_n = (x[ng + nt:] for x in D_others)
    # the source's targets always come from its summed DTW, on the labelled gradient rows
    D_src = D_fit[0][:n_grad, :n_grad]
    targets = soft_targets(D_src, yfit[:n_grad], C, p["temperature"])
    acc = lambda Dx, y, kk=p["k"]: float((knn_predict(Dx, yfit, kk) == y).mean())  # noqa: E731
    out = {"seed": seed, "n_classes": C, "actions": d["data"].actions, "roles": roles(p, seed),
           "gate_accuracy": acc(D_g, d["gate"][1]),
           "acc_test": {kk: acc(D_te_sum, yte, kk) for kk in sorted({1, 3, 5, p["k"]})},
           "acc_test_normalised": {1: acc(D_te_n, yte, 1)},
           "acc_test_teacher": {1: acc(D_te, yte, 1)}, "dtw": "normalised" if norm else "sum",
           "acc_loo": float((knn_predict(D, yfit, p["k"], exclude_self=True) == yfit).mean()),
           "pred": knn_predict(D_te, yfit, p["k"]), "seconds": seconds, "ms_per_sample": ms,
           "source_targets": targets["source"], "t_sound": targets["t_sound"],
           "references": int(len(yfit)),
           "stats": targets["stats"].assign(seed=seed)}
    if nt:
        sound = class_soft_targets(D_tr, yfit, targets["t_sound"], C)
        out["transfer_targets"] = sound
        out["transfer_label_accuracy"] = float((sound.argmax(1) == d["transfer"][1]).mean())
    return out


def student_job(p: dict, seed: int, arm: str, targets, n_classes: int,
                device: str = "cpu") -> dict:
    """One student arm on one seed (a job): every learning rate of ``lr_grid``, at most
    ``steps`` gradient steps each, the checkpoint and lr with the lowest cross-entropy on the
    validation subject; that model scored on the gate subject and on test. ``targets``: the
    teacher's (kd) or the student alone's (self) probabilities on the transfer rows, or the
    source's targets on the labelled rows; None otherwise. The student alone also returns its
    probabilities on the transfer rows (the self-training control's targets)."""
    from ..device import resolve

    d = load(p, seed)
    loss, kind, faithful = STUDENTS[arm]
    view = (p["view"] or arm == "view") and not faithful  # the source's arms: its input
    (fit, yfit) = d["fit"]
    X, L, y = fit, None, yfit
    tgt = None if kind not in ("source",) else np.asarray(targets)
    if kind in ("teacher", "self", "oracle", "hard", "noisy"):
        tr, ytr = d["transfer"]
        q = np.eye(n_classes)[transfer_labels(kind, ytr, targets, n_classes, seed)] \
            if kind in ("oracle", "hard", "noisy") else np.asarray(targets)
        X, y = fit + tr, np.concatenate([yfit, ytr])  # y of transfer rows: unused by the loss
        tgt = np.concatenate([np.eye(n_classes)[yfit], q])
    Xp, L = pad(X, view=view, stride=p["frame_stride"])
    valid = (*pad(d["valid"][0], view=view, stride=p["frame_stride"]), d["valid"][1])
    arch = {"nhead": p["heads"], "layers": p["layers"], "ff": p["ff"], "dropout": p["dropout"]}
    trials, best = [], None
    for lr in p["lr_grid"]:
        t0 = time.perf_counter()
        try:
            model, vacc, score, step = fit_steps(
                Xp, L, y, n_classes=n_classes, valid=valid, targets=tgt, loss=loss,
                temperature=p["temperature"], faithful=faithful, steps=p["steps"],
                eval_every=p["eval_every"], patience=p["patience"], lr=lr,
                batch_size=p["batch_size"], seed=seed, arch=arch, augment=arm == "augment",
                device=resolve(device))
        except FloatingPointError:
            trials.append({"lr": lr, "valid loss": float("nan"),
                           "valid accuracy": float("nan"), "best step": None})
            continue
        trials.append({"lr": lr, "valid loss": score, "valid accuracy": vacc,
                       "best step": step, "seconds": time.perf_counter() - t0})
        if best is None or score < best[1]:
            best = (lr, score, model, vacc)
    if best is None:
        raise FloatingPointError(f"{arm}, seed {seed}: every learning rate diverged")
    lr, score, model, vacc = best
    Xg, Lg = pad(d["gate"][0], view=view, stride=p["frame_stride"])
    Xt, Lt = pad(d["test"][0], view=view, stride=p["frame_stride"])
    pred, ms = predict(model, Xt, Lt)
    out = {"seed": seed, "arm": arm, "student": LABELS[arm],
           "accuracy": float((pred == d["test"][1]).mean()),
           "gate accuracy": float((predict(model, Xg, Lg)[0] == d["gate"][1]).mean()),
           "valid loss": score, "valid accuracy": vacc, "lr": lr, "ms_per_sample": ms,
           "pred": pred,
           "n_params": sum(x.numel() for x in model.parameters()),
           "tuning": [{"seed": seed, "student": LABELS[arm], **t, "chosen": t["lr"] == lr}
                      for t in trials]}
    if arm == "alone" and len(d["transfer"][1]):
        out["transfer_probs"] = probabilities(
            model, *pad(d["transfer"][0], view=view, stride=p["frame_stride"]))
        out["transfer_label_accuracy"] = float(
            (out["transfer_probs"].argmax(1) == d["transfer"][1]).mean())
    return out


def transfer_labels(kind: str, y_true, targets, n_classes: int, seed: int) -> np.ndarray:
    """The hard labels a transfer row gets: its true label (``oracle``), the teacher's argmax
    (``hard``; ``targets``: the teacher's probabilities), or its true label with a seeded
    share of rows relabelled at random to another class so that the labels are exactly as
    accurate as the teacher's argmax (``noisy``; ``targets``: that accuracy)."""
    y = np.asarray(y_true)
    if kind == "oracle":
        return y
    if kind == "hard":
        return np.asarray(targets).argmax(1)
    rng = np.random.default_rng(seed + NOISE_SEED)
    wrong = rng.permutation(len(y))[:int(round((1 - float(targets)) * len(y)))]
    out = y.copy()
    out[wrong] = (y[wrong] + rng.integers(1, n_classes, size=len(wrong))) % n_classes
    return out


def run(p: dict, runner, progress=print) -> dict:
    """Teachers and the student alone first (one job per seed each), then every other arm."""
    C = len(load(p, p["seeds"][0])["data"].actions)
    pj = job_params(p)  # the jobs' argument: a later look's seeds leave their keys unchanged
    first = [Job(teacher_job, (pj, s), name=f"teacher seed {s}") for s in p["seeds"]]
    first += [Job(student_job, (pj, s, "alone", None, C), {"device": p["device"]},
                  name=f"alone seed {s}") for s in p["seeds"]]
    res = runner.run(first, "Procrustes-DTW teachers and the student alone")
    n = len(p["seeds"])
    teachers, alone = res[:n], res[n:]
    by, al = {t["seed"]: t for t in teachers}, {a["seed"]: a for a in alone}

    def tg(arm, s):
        kind = STUDENTS[arm][1]
        return {"teacher": by[s].get("transfer_targets"), "self": al[s].get("transfer_probs"),
                "source": by[s]["source_targets"], "hard": by[s].get("transfer_targets"),
                "noisy": by[s].get("transfer_label_accuracy")}.get(kind)

    rest = [Job(student_job, (pj, s, arm, tg(arm, s), C), {"device": p["device"]},
                name=f"{arm} seed {s}")
            for s in p["seeds"] for arm in p["students"] if arm != "alone"]
    done = alone + runner.run(rest, "students")
    rows = pd.DataFrame([{k: v for k, v in x.items()
                          if k not in ("pred", "tuning", "transfer_probs")} for x in done])
    tuning = pd.DataFrame([t for x in done for t in x["tuning"]])
    gate = pd.DataFrame([{"seed": t["seed"],
                          "held-out subject": ", ".join(map(str, t["roles"]["gate"])),
                          "validation subject": t["roles"]["valid"],
                          f"{p['k']}-NN teacher": t["gate_accuracy"]} for t in teachers])
    wide = rows.pivot_table(index="seed", columns="arm", values="gate accuracy")
    gate = gate.join(wide, on="seed")
    teach = pd.DataFrame([{"seed": t["seed"], "DTW": dtw, "k": k, "test accuracy": a}
                          for t in teachers
                          for dtw, key in (("source (sum)", "acc_test"),
                                           ("length-normalised", "acc_test_normalised"))
                          for k, a in t[key].items()])
    labels = pd.DataFrame([{"seed": s, "teacher": by[s].get("transfer_label_accuracy"),
                            "student alone": al[s].get("transfer_label_accuracy")}
                           for s in p["seeds"]])
    preds = {x["student"]: x["pred"] for x in done if x["seed"] == p["seeds"][0]}
    return {"rows": rows, "teachers": teachers, "teacher_table": teach, "first": teachers[0],
            "preds": preds, "stats": pd.concat([t["stats"] for t in teachers]),
            "n_params": alone[0]["n_params"], "gate": gate, "tuning": tuning,
            "transfer_labels": labels, "n_classes": C}


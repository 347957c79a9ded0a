"""The fisher_layerwise study (source: a WWW 2026 project summary on Fisher-information-driven
layerwise distillation for LLM recommenders).

A teacher is distilled into a narrower SASRec student on next-item prediction (synthetic
latent-trajectory sequences, ``data.synthetic_sequences``; MovieLens-100k; or a data_file;
leave-last-out, full ranking with the history masked, trained on every window of each history)
with the layerwise loss of ``distill.layerwise`` under each weighting scheme of
``distill.layer_weights``. The teacher is a wider SASRec (the params: 4 layers × 64 into a student
of 4 layers × 16, so that every student layer reads its own teacher layer and the Fisher weights
can differ between layers), or the pretrained MiniLM encoder with a linear head
(``recsys.lm_teacher``, the source's "LLM recommender"). Every SASRec trains on the ``loss``
param of ``recsys.sasrec.next_item_loss``: ``softmax``, the cross-entropy over all items (the
default), or ``bce`` with one sampled negative (the SASRec paper's). The Fisher weights come
from the teacher's per-layer diagonal empirical Fisher (``distill.fisher``) on validation samples
of the same task; student layer l is matched to teacher layer m(l).

Protocol, so that every compared arm gets the same chance:

* the validation users are split once into two fixed halves
  (``kdkit.recsys.metrics.validation_halves``, :meth:`SequenceData.users`): the **select** half
  ("validation" below) chooses every checkpoint and hyperparameter; the **gate** half is held
  out for the preconditions. Validation ranking masks only the training items (never the test
  item); test masks the training and validation items;
* every model is trained to **early stopping on validation** NDCG@5 (the best epoch restored;
  never stopped before ``min_epochs``); ``max_epochs`` is a ceiling no run should reach, and
  :func:`schedule_table` counts the runs that went on to it (their best epoch may be a cut-off);
  each seed draws its own same-timestamp order of the histories unless ``data_seed`` fixes it;
* **tuning parity**: every KD arm (each weighting scheme and the control) picks γ from the same
  grid ``gammas`` on the validation split of the first seed; the student alone and the teacher
  get as many trials there, over their dropout (``student_dropouts``: the regulariser the KD
  term competes with; for the MiniLM teacher, dropout on its head's input); the chosen values
  are then used on every seed, and each chosen model is scored on test once;
* the teacher's states are standardised per layer (divided by their RMS over real positions),
  so that γ has one scale whatever the teacher;
* **the control** is the same uniform-weight KD from a teacher that knows nothing of the
  histories: an untrained teacher of the same architecture (``control: untrained``), or the
  real teacher's states of other windows of the same length (``control: shuffled``). A claim
  about how the layers are weighted is judged only when the teacher beats the student alone and
  the real teacher's KD beats the control's, both on the held-out gate half of validation
  (:func:`gates_for`), never on the best point of a validation curve;
* **the setting**: :func:`setting_table` says whether the teacher has something to teach (it
  beats the student alone by ≥ 0.01 NDCG@5 and reaches 1.5× the popularity ranking, issue 22's
  pilot rule); the teacher's Fisher profile describes *this* teacher (descriptive claims), judged
  only when the teacher beats the popularity ranking on the gate half (:func:`popularity_gate`).

The work runs as jobs (``kdkit.jobs``): the teacher's grid on the first seed, then the other
seeds' teachers with every arm's grid on the first seed, then every arm on the other seeds.
"""

from __future__ import annotations

import pandas as pd
import torch

from ..distill.layer_weights import SCHEMES
from ..distill.layerwise import layer_map
from ..jobs import Job, job_params
from ..params import require, require_data
from ..recsys.sasrec import LOSSES
from ..tuning import check_parity, off_edge
from .fisher_claims import (  # noqa: F401  (the study's public names, in one place)
    MIN_GAP,
    MIN_RATIO,
    SOURCE_GAIN,
    SOURCE_UPPER,
    _control_claim,
    _fisher_claims,
    claim_ids,
    claims,
    control_soundness,
    gates_for,
    headline,
    in_regime,
    metrics_tree,
    popularity_gate,
    regime_claims,
    regime_headline,
    regime_metrics,
    regime_tag,
    regimes,
    setting_table,
    teacher_teaches,
    users_design,
)
from .fisher_jobs import (  # noqa: F401
    ALONE,
    CONTROLS,
    DATASETS,
    DEFAULT_LOSS,
    LIMITS,
    METRIC,
    SAME_GAMMA,
    SYNTHETIC,
    TEACHERS,
    arm_job,
    base_arm,
    choose,
    control_name,
    control_teacher,
    data_for,
    dataset_label,
    ended_at_max,
    load,
    load_file,
    load_synthetic,
    popularity,
    schedule,
    states_for,
    student_labels,
    synthetic_spec,
    teacher_finish,
    teacher_job,
    teacher_trial,
    train,
)
from .fisher_teachers import (  # noqa: F401
    ENDED,
    MiniLMTeacher,
    TeacherStates,
    latency_ms,
    sasrec_fisher,
    sasrec_states,
)

SOURCE = ("Fisher-information-driven layerwise distillation for LLM recommenders (a WWW 2026 "
          "project summary)", "")


def check_params(p: dict) -> None:
    bad = sorted(set(p["schemes"]) - set(SCHEMES))
    require(not bad, f"schemes: unknown {bad}; allowed: {', '.join(SCHEMES)}")
    require("uniform" in p["schemes"],
            "schemes must include uniform (the control and the baseline claims use it)")
    require(p["teacher"] in TEACHERS,
            f"teacher: unknown {p['teacher']!r}; allowed: {', '.join(TEACHERS)}")
    require(p["control"] in CONTROLS,
            f"control: unknown {p['control']!r}; allowed: {', '.join(CONTROLS)}")
    loss = p.get("loss", DEFAULT_LOSS)
    require(loss in LOSSES, f"loss: unknown {loss!r}; allowed: {', '.join(LOSSES)}")
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(len(set(p["seeds"])) == len(p["seeds"]), "seeds must not repeat")
    require(p["gammas"] and all(g > 0 for g in p["gammas"]),
            f"gammas must be a non-empty list of positive weights, got {p['gammas']}")
    require(len(p["student_dropouts"]) == len(p["gammas"]),
            f"student_dropouts must have as many values as gammas ({len(p['gammas'])}): the "
            "student alone and the teacher get as many tuning trials as every KD arm")
    require(all(0 <= d < 1 for d in p["student_dropouts"]) and 0 <= p["dropout"] < 1,
            "dropout and student_dropouts must lie in [0, 1)")
    require(0 <= p["min_epochs"] <= p["max_epochs"], "min_epochs must lie in [0, max_epochs]")
    require(0 < p.get("labelled_fraction", 1.0) <= 1,
            f"labelled_fraction must lie in (0, 1], got {p.get('labelled_fraction')}")
    shares = p.get("labelled_fractions") or []
    require(all(isinstance(f, (int, float)) and 0 < f <= 1 for f in shares)
            and len(set(shares)) == len(shares),
            f"labelled_fractions must list distinct shares in (0, 1], got {shares}")
    tune_seed = p.get("tune_seed")
    require(tune_seed is None or tune_seed not in p["seeds"],
            f"tune_seed {tune_seed} is also a verdict seed: the tuning seed must not be one "
            "(or leave tune_seed empty to tune on the first seed)")
    require(p.get("extend_edges", 0) >= 0, "extend_edges must be ≥ 0")
    for k in ("max_epochs", "eval_every", "patience", "teacher_layers", "student_layers",
              "teacher_dim", "student_dim", "heads", "max_len", "batch_size", "fisher_samples",
              "lm_window", "lm_epochs", "workers", "threads"):
        require(p[k] >= 1, f"{k} must be at least 1, got {p[k]}")
    teacher_layers = 6 if p["teacher"] == "minilm" else p["teacher_layers"]
    require(p["student_layers"] <= teacher_layers,
            f"student_layers must not exceed the teacher's {teacher_layers} layers")
    for k in ("teacher_dim", "student_dim"):
        require(p[k] % p["heads"] == 0, f"{k} must be divisible by heads ({p['heads']})")
    require(all(b >= 0 for b in p["betas"]) and p["beta"] >= 0, "beta and betas must be ≥ 0")
    other = sorted(set(p.get("delta") or {}) - {METRIC})
    require(not other, f"delta: the claims are judged on {METRIC} only, got {other}")
    dataset = p.get("dataset", "ml-100k")
    require(dataset in DATASETS,
            f"dataset: unknown {dataset!r}; allowed: {', '.join(DATASETS)} (or data_file)")
    if dataset == "synthetic":
        require(p["teacher"] != "minilm", "teacher minilm reads item titles, which the "
                "synthetic sequences do not have; use teacher sasrec with dataset synthetic")
        for k in ("synthetic_users", "synthetic_items", "synthetic_length", "synthetic_rank"):
            require(p[k] >= 1, f"{k} must be at least 1, got {p[k]}")
        require(0 <= p["synthetic_memory"] < 1,
                f"synthetic_memory must lie in [0, 1), got {p['synthetic_memory']}")
    if p.get("data_file") is not None:  # the data contract, checked before a kernel starts
        require(p["teacher"] != "minilm", "teacher minilm reads item titles, which a data_file "
                "does not have; use teacher sasrec with a data_file")
        require_data("data_file", load_file, str(p["data_file"]))


def run(p: dict, runner, progress=print) -> dict:
    """The teachers, then every arm of each regime (``labelled_fractions``, the students'
    labelled shares; else ``labelled_fraction``), the regimes' stages together. Grids run on
    ``tune_seed`` (never a verdict seed; else the first seed), the choices on every verdict
    seed; ``extend_edges`` grows a grid off an edge its choice sits on, one rule for every
    arm. Returns the tables (results, trials, fishers, curves, betas, weights, sizes,
    popularity, schedule); with several regimes the students' have a ``regime`` column."""
    say = progress or (lambda msg: None)
    fractions = p.get("labelled_fractions") or [p.get("labelled_fraction", 1.0)]
    teachers = _teachers(p, runner, say)
    parts = _in_step(runner, [_regime({**p, "labelled_fraction": f}, say, *teachers)
                              for f in fractions])
    if len(parts) == 1:
        return parts[0]
    out = dict(parts[0])
    for key in ("results", "trials", "curves", "betas", "weights", "schedule"):
        out[key] = pd.concat([t[key].assign(regime=f) for f, t in zip(fractions, parts)],
                             ignore_index=True)
    return out


def _teachers(p: dict, runner, say) -> tuple:
    """(the tuning seed's teacher, every verdict seed's teacher, the teacher's grid): its
    dropout grid on the tuning seed, grown off an edge under ``extend_edges``; the teachers
    do not depend on the students' labelled share, so both regimes share them."""
    seeds, tune_seed = p["seeds"], p.get("tune_seed")
    s0 = seeds[0] if tune_seed is None else tune_seed
    tp = job_params({k: v for k, v in p.items() if k != "labelled_fraction"})
    if p["teacher"] == "minilm":
        teachers, t_trials = minilm_teachers(p, [s0, *seeds] if tune_seed is not None
                                             else seeds, say)
        return teachers[0], teachers[1:] if tune_seed is not None else teachers, t_trials
    grid, t_trials = list(p["student_dropouts"]), []
    todo = grid
    for _ in range(p.get("extend_edges", 0) + 1):
        t_trials += runner.run([Job(teacher_trial, (tp, s0, d), name=f"teacher seed {s0}, "
                                    f"dropout {d}") for d in todo],
                               f"the teacher's grid on seed {s0}")
        chosen = t_trials[choose(t_trials)]["dropout"]
        grown = off_edge({"dropout": grid}, {"dropout": chosen}, LIMITS)
        if grown is None:
            break
        todo = [d for d in grown["dropout"] if d not in grid]
        grid = grown["dropout"]
    k = choose(t_trials)
    d = t_trials[k]["dropout"]
    say(f"teacher dropout chosen on validation: {d}")
    tuned = teacher_finish(tp, t_trials[k])
    rest = [s for s in seeds if s != s0]
    others = runner.run([Job(teacher_job, (tp, s, d), name=f"teacher seed {s}") for s in rest],
                        "the other teachers")
    by_seed = {s0: tuned, **{t["seed"]: t for t in others}}
    return tuned, [by_seed[s] for s in seeds], t_trials


def _in_step(runner, gens: list) -> list:
    """Each regime's tables, its stages run together: a regime (:func:`_regime`) yields
    ``(jobs, desc)`` and receives their results; one batch holds that stage of every regime,
    so the workers stay busy where a regime has one job (the student alone's grid)."""
    out, stages, live = [None] * len(gens), [next(g) for g in gens], [*range(len(gens))]
    while live:
        batch = [job for i in live for job in stages[i][0]]
        desc = "; ".join(dict.fromkeys(stages[i][1] for i in live))
        desc += f" ({len(live)} regimes)" if len(live) > 1 else ""
        results, at = runner.run(batch, desc), 0
        for i in list(live):
            n = len(stages[i][0])
            try:
                stages[i] = gens[i].send(results[at:at + n])
            except StopIteration as done:
                out[i] = done.value
                live.remove(i)
            at += n
    return out


def _regime(p: dict, say, tuned_teacher, teachers, t_trials):
    """Every arm at one labelled share (``p["labelled_fraction"]``): the grids on the tuning
    seed's teacher, the chosen values on every verdict seed; the control also at uniform's
    chosen γ (is it still sound where the real teacher's KD is tuned?). A generator of its
    three stages' ``(jobs, desc)`` (:func:`_in_step` runs them), returning its tables."""
    seeds, L_S, tune_seed = p["seeds"], p["student_layers"], p.get("tune_seed")
    p = job_params(p)  # the jobs' argument: a later look's seeds leave their keys unchanged
    control = control_name(p["control"])
    arms = [ALONE, *p["schemes"], control]
    check_parity({"teacher": {"dropout": p["student_dropouts"]},
                  **{a: {"gamma": p["gammas"]} if a != ALONE else
                     {"dropout": p["student_dropouts"]} for a in arms}})

    def job(t, arm, grid=None, betas=(), dropout=None):
        src = t.get("states") or t.get("model")
        if base_arm(arm) == control and "control_states" in t:
            src = t["control_states"]
        f_s = t["fisher"][layer_map(L_S, len(t["fisher"]))]
        kw = {"teacher": src, "fisher": f_s, "betas": betas}
        if grid is not None:
            kw["gammas" if arm != ALONE else "dropouts"] = grid
        if arm != ALONE:
            kw["dropout"] = dropout
        return Job(arm_job, (p, t["seed"], arm), kw, name=f"{arm} seed {t['seed']}")

    s0, share = tuned_teacher["seed"], p.get("labelled_fraction", 1.0)
    # the student alone's dropout grid first: every KD arm trains at its choice
    alone = yield [job(tuned_teacher, ALONE)], f"the student alone's grid on seed {s0}"
    student_dropout = alone[0]["dropout"]
    say(f"labelled {share:g}: student dropout chosen on validation {student_dropout} (all arms)")
    tuned = alone + (yield (
        [job(tuned_teacher, arm, betas=p["betas"] if arm == "fisher_semantic" else (),
             dropout=student_dropout) for arm in arms[1:]],
        f"every KD arm's γ grid on seed {s0}"))
    chosen = {r["model"]: [r["gamma"]] if r["model"] != ALONE else [r["dropout"]]
              for r in tuned}
    say(f"labelled {share:g}: chosen on validation: "
        + ", ".join(f"{k} {v[0]}" for k, v in chosen.items()))
    same = control + SAME_GAMMA
    chosen[same] = chosen["uniform"]
    # the verdict seeds (the tuning seed's grids count only where it is also one of them)
    rest = [(t, arm) for t in teachers for arm in [*arms, same]
            if not (tune_seed is None and t["seed"] == s0 and arm != same)]
    done = yield ([job(t, arm, chosen[arm], dropout=student_dropout) for t, arm in rest],
                  "every arm on the verdict seeds")
    if tune_seed is None:
        done = tuned + done
    results = [{"seed": r["seed"], "model": model, "gamma": r.get("gamma"),
                "dropout": r.get("dropout"), "epochs": r["epochs"], "ran": r["ran"],
                ENDED: r[ENDED], "valid " + METRIC: r["valid"][METRIC],
                "gate " + METRIC: r["gate"][METRIC], **r["test"]}
               for model, r in [*(("teacher", t) for t in teachers),
                                *((r["model"], r) for r in done)]]
    curves = [{"seed": t["seed"], "model": "teacher", "epoch": e, METRIC: v}
              for t in teachers for e, v in t["curve"]]
    curves += [{"seed": r["seed"], "model": r["model"], "epoch": e, METRIC: v}
               for r in done for e, v in r["curve"]]
    trials = [{"seed": t["seed"], "model": "teacher", "dropout": t["dropout"],
               f"validation {METRIC}": t["valid"][METRIC], "epochs": t["epochs"],
               "ran": t["ran"], ENDED: t[ENDED], "chosen": i == choose(t_trials)}
              for i, t in enumerate(t_trials)]
    trials += [tr for r in tuned for tr in r["trials"]]
    student_size = next(r["size"] for r in done if "size" in r)
    results, trials = pd.DataFrame(results), pd.DataFrame(trials)
    # every training run: the tuning seed's grids, then one run per model on the other seeds
    runs = pd.concat([trials, results[results["seed"] != s0]], ignore_index=True)
    return {
        "results": results,
        "trials": trials,
        "schedule": schedule_table(runs, p["max_epochs"]),
        "fishers": pd.DataFrame([{"seed": t["seed"], **{f"layer {i + 1}": v for i, v in
                                                       enumerate(t["fisher"])}}
                                 for t in teachers]),
        "curves": pd.DataFrame(curves),
        "betas": pd.DataFrame([{"seed": r["seed"], **b} for r in done for b in r["betas"]]),
        "weights": pd.DataFrame([{"seed": r["seed"], "scheme": r["model"],
                                  **{f"student layer {i + 1}": w
                                     for i, w in enumerate(r["weights"])}}
                                 for r in done if r["weights"] is not None]),
        "sizes": pd.DataFrame([{"model": "teacher", **teachers[0]["size"]},
                               {"model": "student", **student_size}]),
        "popularity": popularity_table(p, seeds),
    }


def popularity_table(p: dict, seeds) -> pd.DataFrame:
    """The popularity floor of every seed's data on the held-out gate half of validation and
    on test (one row per seed and split)."""
    rows = []
    for s in seeds:
        data = data_for(p, s)
        for split in ("gate", "test"):
            _, targets, seen = data.evaluation(split, p["max_len"])
            rows.append({"seed": s, "split": split, **popularity(data, seen, targets)})
    return pd.DataFrame(rows)


def schedule_table(runs: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """Per model, over every training run (``runs``: one row per run with its best epoch
    ``epochs``, the epoch it stopped at ``ran`` and :data:`ENDED`): how many runs there were,
    how many early stopping never ended (they went on to ``max_epochs``: the schedule, not
    validation, ended them), and the best and stopping epochs. A run without early stopping
    (the MiniLM teacher's head: ``ENDED`` None) counts in neither."""
    def count(col):
        return int((col == True).sum())  # noqa: E712 (None: no early stopping)

    g = runs.groupby("model", sort=False)
    out = g.agg(runs=("epochs", "size"), best_median=("epochs", "median"),
                best_max=("epochs", "max"), ran_max=("ran", "max")).reset_index()
    out.insert(2, ENDED, g[ENDED].apply(count).to_numpy())
    out["max_epochs"] = max_epochs
    return out.rename(columns={"best_median": "best epoch (median)",
                               "best_max": "best epoch (max)", "ran_max": "stopped at (max)"})


def minilm_teachers(p: dict, seeds, progress=print) -> tuple[list[dict], list[dict]]:
    """The MiniLM teacher on each seed (one encoding of the fixed split, a head per seed) at
    the head dropout chosen from ``student_dropouts`` on the first seed's validation, with the
    control's states when the control is an untrained encoder; and the grid's trials."""
    data = data_for(p, seeds[0])
    rows = torch.as_tensor(data.windows(p["max_len"]))
    lm = MiniLMTeacher(data, rows, p["max_len"], p["lm_window"], progress)
    trials = [lm.trial(p, seeds[0], d) for d in p["student_dropouts"]]
    dropout = trials[choose(trials)]["dropout"]
    untrained = None
    if p["control"] == "untrained":
        untrained = MiniLMTeacher(data, rows, p["max_len"], p["lm_window"], progress,
                                  untrained_seed=104729)
    out = []
    for seed in seeds:
        t = lm.teacher(p, seed, dropout)
        if untrained is not None:
            t["control_states"] = untrained.states(set(layer_map(p["student_layers"], 6)))
        out.append(t)
    return out, trials

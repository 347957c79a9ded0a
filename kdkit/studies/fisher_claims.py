"""fisher_layerwise's claims (:mod:`kdkit.studies.fisher_layerwise`): whether the setting lets
the teacher teach (:func:`setting_table`, :func:`popularity_gate`), the direction claims gated
on held-out validation (:func:`gates_for`), the controls' soundness, the source's sizes (not
testable where the setting differs), the Fisher profile (descriptive), the metrics and the
headline.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..claims import Claim, Deltas, Gate, paired_claim, size_claim, teacher_gate
from ..stats import paired_test
from ..user_bootstrap import NESTED, SHARED
from .fisher_jobs import ALONE, ENDED, METRIC, SAME_GAMMA, control_name

SOURCE_GAIN = 0.779 / 0.721 - 1  # the source's NDCG@5 of Fisher over uniform weights (+8 %)
SOURCE_UPPER = 50.0  # "upper layers weighted up to 50x": its depth formula's clip range [0.1, 5]
MIN_GAP, MIN_RATIO = 0.01, 1.5  # a setting where the teacher teaches (:func:`teacher_teaches`)


def _differs(teacher: str, teacher_layers: int, dataset: str = "MovieLens-100k") -> str:
    """How our setting differs from the source's, for its size claims."""
    what = "a frozen MiniLM with a linear head" if teacher == "minilm" else \
        f"a {teacher_layers}-layer SASRec"
    return ("the source's numbers are hard-coded in its code and concern a Llama3 teacher on "
            f"Amazon product reviews; here {dataset} next-item prediction, {what} as "
            "teacher and a narrower SASRec student")


def teacher_teaches(teacher: float, alone: float, popular: float, *, min_gap: float = MIN_GAP,
                    min_ratio: float = MIN_RATIO) -> bool:
    """The setting check (issue 22's pilot rule) on one split's mean ``METRIC``: the teacher
    beats the student alone by at least ``min_gap`` and reaches ``min_ratio`` × the popularity
    ranking. Below it a KD comparison mostly measures noise: there is little to transfer."""
    return teacher - alone >= min_gap and teacher >= min_ratio * popular


def setting_table(res: pd.DataFrame, popular: pd.DataFrame) -> pd.DataFrame:
    """:func:`teacher_teaches` on the held-out gate half of validation and on test (means over
    seeds): teacher, student alone, popularity, the gap and the ratio. Descriptive: the claims'
    gates are the paired tests of :func:`gates_for` and :func:`popularity_gate`."""
    rows = []
    for split, col in (("gate", "gate " + METRIC), ("test", METRIC)):
        m = res.groupby("model")[col].mean()
        pop = float(popular.loc[popular["split"] == split, METRIC].mean())
        t, a = float(m.get("teacher", np.nan)), float(m.get(ALONE, np.nan))
        rows.append({"split": "held-out validation (gate half)" if split == "gate" else split,
                     "teacher": t, ALONE: a, "popularity": pop, "teacher − alone": t - a,
                     "teacher / popularity": t / pop,
                     f"teacher teaches (gap ≥ {MIN_GAP}, ≥ {MIN_RATIO}× popularity)":
                         teacher_teaches(t, a, pop)})
    return pd.DataFrame(rows)


def popularity_gate(res: pd.DataFrame, popular: pd.DataFrame | None) -> Gate:
    """The precondition of the claims about the teacher's Fisher: the teacher beats the
    popularity ranking on the held-out gate half of validation (paired over seeds). The Fisher
    of a teacher at the popularity level describes a model that learned no order."""
    if popular is None or not len(popular):
        return Gate(False, "no popularity baseline was given: the teacher's Fisher is not "
                    "judged")
    v = _pivot(res, "gate " + METRIC)
    pop = popular[popular["split"] == "gate"].set_index("seed")[METRIC]
    if "teacher" not in v:
        return Gate(False, "no teacher row")
    return teacher_gate(v["teacher"], pop.loc[v.index], metric=METRIC,
                        than="the most-popular-items ranking")


def _pivot(res: pd.DataFrame, values: str = METRIC) -> pd.DataFrame:
    return res.pivot_table(index="seed", columns="model", values=values)


def _paired(res, a, b, text, source_value="", note="", gates=(), *, key, delta=None,
            delta_why="", users=None):
    """"a beats b" on test ``METRIC`` (paired over seeds), or None when an arm did not run.
    ``users``: what the interval covers (:func:`users_design`)."""
    piv = _pivot(res)
    if a not in piv or b not in piv:
        return None
    return paired_claim(piv[a], piv[b], ">", text, source_value, note, key=key, delta=delta,
                        delta_why=delta_why, relative=True, gates=gates, users=users)


def users_design(dataset: str, data_seed) -> str:
    """What a claim's interval over seeds covers (kdkit issue 39): ``nested`` on the
    synthetic sequences drawn anew per seed (each seed's own users: the interval covers new
    users), ``shared`` otherwise (MovieLens-100k, or a fixed draw: the seeds share the users,
    whose per-user scores the jobs do not keep — the note says the interval covers seeds
    only)."""
    return NESTED if dataset == "synthetic" and data_seed is None else SHARED


def gates_for(res: pd.DataFrame, control: str) -> tuple:
    """The preconditions, on the held-out gate half of validation (``gate NDCG@5``: data that
    chose neither checkpoint nor hyperparameters of any model, unlike ``valid NDCG@5``, the
    best point of each early-stopping curve): the teacher beats the student alone; the real
    teacher's uniform KD beats the same KD from the control teacher."""
    v = _pivot(res, "gate " + METRIC)
    teach = teacher_gate(v["teacher"], v[ALONE], metric=METRIC) if "teacher" in v else None
    ctrl = teacher_gate(v["uniform"], v[control], metric=METRIC,
                        what="the real teacher's KD (uniform)",
                        than=f"the same KD from the {control.split(', ')[1]}") \
        if control in v and "uniform" in v else None
    sound = control_soundness(res, control)
    if ctrl is not None and sound is not None and not sound.ok:
        # beating a control that breaks the student says nothing about the teacher
        ctrl = Gate(False, sound.reason + "; beating it cannot show that the real teacher's "
                    "KD carries what the teacher knows")
    return teach, ctrl


def control_soundness(res: pd.DataFrame, name: str) -> Gate | None:
    """Whether the control is sound: it must not itself hurt the student (significantly below
    the student alone on the held-out gate half of validation); None with fewer than 2
    seeds."""
    piv = _pivot(res, "gate " + METRIC)
    if name not in piv or ALONE not in piv or len(piv) < 2:
        return None
    d = paired_test(piv[name], piv[ALONE])
    hurts = d.mean_diff < 0 and d.p_value < 0.05
    diff = f"held-out validation {d.mean_diff:+.4f}, p = {d.p_value:.3g}"
    return Gate(not hurts, f"the control itself hurts the student ({diff}), so it does not "
                "isolate what the teacher knows" if hurts else
                f"the control does not hurt the student alone ({diff})", "inconclusive")


def claims(res: pd.DataFrame, fishers: pd.DataFrame, sizes: pd.DataFrame,
           teacher: str = "sasrec", control: str = "untrained",
           delta: dict | None = None, popular: pd.DataFrame | None = None,
           dataset: str = "MovieLens-100k", users: str | None = None) -> list[Claim]:
    """The claims table: direction claims on test ``METRIC`` with the study's δ (``delta``,
    the ``delta`` param), the source's sizes as separate size claims (not testable: our
    setting is not the source's), this teacher's Fisher profile (descriptive, judged only
    when the teacher beats the popularity ranking ``popular``, :func:`popularity_table`), and
    the speed and size rows (descriptive: set by the chosen model sizes). ``users``
    (:func:`users_design`) says in each note what the interval over seeds covers."""
    name = control_name(control)
    teach, ctrl = gates_for(res, name)
    both = [g for g in (teach, ctrl) if g is not None]
    dk = {**Deltas(delta).kwargs(METRIC), "users": users}  # users: users_design
    differs = _differs(teacher, len([c for c in fishers.columns if c.startswith("layer")]),
                       dataset)
    source = "NDCG@5 0.779 vs 0.721 (hard-coded in the source's code)"
    out = [
        _paired(res, "fisher", "uniform",
                "Fisher-weighted layerwise KD beats uniform weights (test NDCG@5)", source,
                gates=both, key="fisher>uniform", **dk),
        _size_row(res, "fisher", "uniform", "Fisher weights beat uniform ones by the source's "
                  "+8 % NDCG@5", SOURCE_GAIN, differs=differs,
                  source_value=f"{SOURCE_GAIN:+.1%} (0.779 vs 0.721)", key="fisher>uniform:+8%"),
        _paired(res, "fisher", "linear", "Fisher weights beat linear-in-depth weights",
                gates=both, key="fisher>linear", **dk),
        _paired(res, "fisher", "exponential", "Fisher weights beat exponential-in-depth weights",
                gates=both, key="fisher>exponential", **dk),
        _paired(res, "seed_heuristic", "uniform",
                "The source's default 'Fisher' weights (a depth formula) beat uniform",
                source, gates=both, key="heuristic>uniform", **dk),
        _paired(res, "fisher_semantic", "fisher",
                "The semantic boost (1 + β·depth) adds to Fisher weights", gates=both,
                key="semantic>fisher", **dk),
        _paired(res, "uniform", ALONE, "Layerwise KD (uniform weights) improves the student",
                gates=[teach] if teach else (), key="kd>alone", **dk),
        _paired(res, "teacher", ALONE, "The teacher beats the student alone (test NDCG@5)",
                "implied: the teacher is what is compressed", key="teacher>alone", **dk),
        _control_claim(res, name, teach, dk),
        _control_claim(res, name + SAME_GAMMA, teach, dk, key="kd>control:same-γ",
                       also=" (the control at uniform's chosen γ, not its own)"),
    ]
    out += _fisher_claims(fishers, teacher, popularity_gate(res, popular))
    t, s = sizes.set_index("model").loc["teacher"], sizes.set_index("model").loc["student"]
    out.append(Claim("3.2x faster inference", "3.2 (hard-coded when the method name contains "
                     "'fisher')", float(t["ms per user"] / s["ms per user"]), None, None,
                     "not testable", "measured speed-up of our student over our teacher; it "
                     "depends on the chosen sizes, not on the weighting", id="speedup",
                     family="descriptive"))
    out.append(Claim("90 % smaller model", "90 %", float(1 - s["parameters"] / t["parameters"]),
                     None, None, "not testable",
                     "measured size reduction of our student; set by the chosen sizes",
                     id="smaller", family="descriptive"))
    return [c for c in out if c is not None]


def _size_row(res, a, b, text, claimed_rel, *, differs, source_value, key) -> Claim | None:
    piv = _pivot(res)
    if a not in piv or b not in piv:
        return None
    return size_claim(piv[a], piv[b], text, claimed_rel, differs=differs,
                      source_value=source_value, key=key)


def _fisher_claims(fishers: pd.DataFrame, teacher: str, gate: Gate) -> list[Claim]:
    """What the teacher's diagonal empirical Fisher says about *this* teacher's layers
    (descriptive: a measurement of our teacher, not a test of the source's claim, which
    concerns a Llama3 teacher and whose numbers are a depth formula's).

    * ``upper>lower``: the Fisher mass of the upper half of the layers over the lower half's,
      Σ_{l > L/2} F_l / Σ_{l ≤ L/2} F_l, per seed; a paired test of its log against 0, shown as
      the geometric mean over seeds. Judged only when the teacher beats the popularity ranking
      on held-out validation (``gate``, :func:`popularity_gate`).
    * ``upper>lower:50x``: the source's "up to 50x" beside the spread of this teacher's
      per-layer Fisher mass, max_l F_l / min_l F_l (geometric mean over seeds): the spread the
      Fisher weights inherit (they are ∝ F_l). Not testable: the source's 50x is the clip range
      [0.1, 5] of a depth formula (``layer_weights.seed_heuristic``, 12 layers in its code),
      not a measured Fisher ratio."""
    from ..stats import mean_ci

    layers = [c for c in fishers.columns if c.startswith("layer")]
    Fm = fishers[layers].to_numpy(dtype=float)
    half = len(layers) // 2
    upper, lower = Fm[:, half:].sum(1), Fm[:, :half].sum(1)
    ratio = np.log(upper / lower)
    who = f"the {teacher} teacher ({len(layers)} layers)"
    caveat = ("; the encoder is frozen and its head reads the last layer only"
              if teacher == "minilm" else "")
    c = paired_claim(ratio, np.zeros_like(ratio), ">",
                     f"In {who}, the upper half of the layers holds more Fisher mass than the "
                     "lower half (summed diagonal Fisher, upper over lower)",
                     "upper layers (abstract reasoning) weighted most",
                     "descriptive: measures this teacher, not the source's model; the ratio's "
                     f"geometric mean over seeds{caveat}", key="upper>lower",
                     family="descriptive", gates=[gate])
    c = replace(c, measured=float(np.exp(c.measured)),
                ci_low=None if c.ci_low is None else float(np.exp(c.ci_low)),
                ci_high=None if c.ci_high is None else float(np.exp(c.ci_high)))
    spread = mean_ci(np.log(Fm.max(1) / Fm.min(1)))
    lo, hi = (None, None) if spread.n < 2 else (float(np.exp(spread.ci_low)),
                                                 float(np.exp(spread.ci_high)))
    size = Claim(f"Upper layers up to 50x the lower ones (here: the largest over the smallest "
                 f"per-layer Fisher mass of {who})", "up to 50x (the clip range [0.1, 5] of "
                 "a 12-layer depth formula in its code)", float(np.exp(spread.mean)), lo, hi,
                 "not testable", "not testable here: the source's 50x is not a measured "
                 "Fisher ratio; ours is the measured spread of this teacher's per-layer Fisher "
                 "(geometric mean over seeds), the spread its Fisher weights inherit",
                 id="upper>lower:50x", family="descriptive")
    return [c, size]


def _control_claim(res: pd.DataFrame, name: str, teach, dk: dict | None = None, *,
                   key: str = "kd>control", also: str = "") -> Claim | None:
    """Real teacher vs the control. The control isolates the teacher's information only if it
    does not itself hurt the student: when it is significantly below the student alone on the
    held-out gate half of validation, the claim is not judged."""
    gates = [teach] if teach is not None else []
    sound = control_soundness(res, name)
    if sound is not None:
        gates.append(sound)
    return _paired(res, "uniform", name,
                   "The gain comes from the teacher's knowledge, not from the extra loss term"
                   + also, note=f"control: {name}", gates=gates, key=key, **(dk or {}))


def metrics_tree(res: pd.DataFrame, fishers: pd.DataFrame, betas: pd.DataFrame,
                 popular: pd.DataFrame, *, seeds, teacher: str,
                 schedule: pd.DataFrame | None = None) -> dict:
    cols = ["NDCG@5", "NDCG@10", "Recall@10", "MRR"]
    means = res.groupby("model", sort=False)[cols].mean()
    chosen = res[res["gamma"].notna()].groupby("model")["gamma"].apply(list).to_dict() \
        if "gamma" in res else {}
    extra = {} if schedule is None else {
        "runs": int(schedule["runs"].sum()), ENDED: int(schedule[ENDED].sum())}
    return {"headline": {f"{m} NDCG@5": float(v) for m, v in means["NDCG@5"].items()},
            "teacher": teacher, "seeds": len(seeds), "results": means.to_dict(orient="index"),
            "popularity": popular.loc[popular["split"] == "test", cols].mean().to_dict(),
            **extra,
            "gamma_chosen": {m: [float(g) for g in v] for m, v in chosen.items()},
            "teacher_fisher": fishers.drop(columns="seed").mean().to_dict(),
            "beta_sweep": {str(b): float(v) for b, v in zip(betas.get("beta", []),
                                                            betas.get(f"validation {METRIC}",
                                                                      []))}}


def headline(res: pd.DataFrame, teacher: str, popular: pd.DataFrame | None = None) -> str:
    m = res.groupby("model", sort=False)[METRIC].mean()
    parts = [f"{k} {m[k]:.4f}" for k in ("teacher", ALONE, "uniform", "fisher") if k in m]
    ctrl = [k for k in m.index if k.startswith("uniform, ")]
    if ctrl:
        parts.append(f"{ctrl[0]} {m[ctrl[0]]:.4f}")
    if popular is not None:
        parts.append(f"most popular items "
                     f"{popular.loc[popular['split'] == 'test', METRIC].mean():.4f}")
    return f"test {METRIC}, {teacher} teacher: " + "; ".join(parts) + "."


def regimes(res: pd.DataFrame) -> list:
    """The labelled shares of a run with several regimes (its ``regime`` column), else [None]."""
    return sorted(res["regime"].unique()) if "regime" in res else [None]


def in_regime(frame: pd.DataFrame, regime) -> pd.DataFrame:
    """``frame``'s rows of one regime (all of it for a run of one regime)."""
    return frame if regime is None else frame[frame["regime"] == regime].drop(columns="regime")


def regime_tag(regime) -> str:
    return "" if regime is None else f" [students' labels: {regime:.0%} of the users]"


def regime_claims(res: pd.DataFrame, fishers: pd.DataFrame, sizes: pd.DataFrame, *,
                  delta: dict | None = None, users: str | None = None, **kw) -> list[Claim]:
    """The claims of every regime (:func:`claims`; with several, each id ends ``@share`` —
    ``fisher>uniform@0.2`` — and the teacher's and the sizes' descriptive rows appear once),
    and with two regimes the interaction: is Fisher's gain over uniform weights the same in
    both (an equivalence claim within ±δ: "no interaction"), paired over seeds?"""
    shares = regimes(res)
    if shares == [None]:
        return claims(res, fishers, sizes, delta=delta, users=users, **kw)
    out, gates = [], []
    for i, f in enumerate(shares):
        part = in_regime(res, f)
        gates += [g for g in gates_for(part, control_name(kw.get("control", "untrained")))[:1]
                  if g is not None]
        for c in claims(part, fishers, sizes, delta=delta, users=users, **kw):
            if c.family == "descriptive":
                if i == 0:
                    out.append(c)
                continue
            out.append(replace(c, id=f"{c.id}@{f:g}", claim=c.claim + regime_tag(f)))
    if len(shares) == 2:
        a, b = (_pivot(in_regime(res, f)) for f in shares)
        if {"fisher", "uniform"} <= set(a) & set(b):
            out.append(paired_claim(
                a["fisher"] - a["uniform"], b["fisher"] - b["uniform"], "=",
                f"Fisher weights' gain over uniform ones is the same whether the students learn "
                f"the next items of {shares[0]:.0%} or {shares[1]:.0%} of the users (test "
                f"{METRIC})", "the source reports one regime", "the interaction: the "
                "difference of (fisher − uniform) between the regimes, paired over seeds",
                key="fisher-uniform:regime", gates=gates, users=users,
                **Deltas(delta).kwargs(METRIC)))
    return out


def regime_headline(res: pd.DataFrame, teacher: str, popular=None) -> str:
    return " ".join(headline(in_regime(res, f), teacher, popular).rstrip(".") + regime_tag(f)
                    + "." for f in regimes(res))


def regime_metrics(res: pd.DataFrame, *args, **kw) -> dict:
    """:func:`metrics_tree` of each regime (every table argument cut to its rows)."""
    shares = regimes(res)
    if shares == [None]:
        return metrics_tree(res, *args, **kw)

    def cut(x, f):
        return in_regime(x, f) if isinstance(x, pd.DataFrame) and "regime" in x else x
    return {f"labelled {f:g}": metrics_tree(in_regime(res, f), *(cut(a, f) for a in args),
                                            **{k: cut(v, f) for k, v in kw.items()})
            for f in shares}


def claim_ids(p: dict) -> list[str]:
    """The ids of the tested claims these params produce (``kdkit run`` refuses a declared
    primary outside them before a kernel starts): :func:`claims`' comparisons of the arms the
    schemes train, each ending ``@share`` with several regimes, and their interaction."""
    schemes = set(p["schemes"])
    pairs = [("fisher>uniform", "fisher"), ("fisher>uniform:+8%", "fisher"),
             ("fisher>linear", {"fisher", "linear"}), ("fisher>exponential",
                                                       {"fisher", "exponential"}),
             ("heuristic>uniform", "seed_heuristic"), ("semantic>fisher",
                                                       {"fisher_semantic", "fisher"})]
    ids = [i for i, need in pairs if ({need} if isinstance(need, str) else need) <= schemes]
    ids += ["kd>alone", "teacher>alone", "kd>control", "kd>control:same-γ"]
    shares = p.get("labelled_fractions") or []
    if len(shares) < 2:
        return ids
    out = [f"{i}@{f:g}" for f in sorted(shares) for i in ids]
    return out + (["fisher-uniform:regime"] if len(shares) == 2 and "fisher" in schemes else [])


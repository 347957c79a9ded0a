"""topology_kd's claims (Kang, Hwang, Kweon & Yu, "Topology Distillation for Recommender
System", KDD 2021): the paper's logged CiteULike numbers, the claim ids, where a size claim is
judged (:func:`size_setting`) and the claims table (:func:`claims`) — direction claims on each
reading (the reported epoch and, where the students went on, the converged checkpoint), on the
seeds × users matrix of per-user differences where the jobs kept them (:func:`user_matrix`,
:mod:`kdkit.user_bootstrap`), and the paper's effect sizes as size claims.

Kept apart from the jobs (:mod:`kdkit.studies.topology_jobs`): a change here keeps every
finished job in the cache.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace

import pandas as pd

from ..claims import Claim, Deltas, Gate, paired_claim, size_claim, teacher_gate
from ..stats import mean_ci
from .topology_jobs import LABELS, METHODS, Protocol, label

SOURCE = ("Topology Distillation for Recommender System (Kang, Hwang, Kweon & Yu, KDD 2021), "
          "via the KnowRecDistill project", "https://doi.org/10.1145/3447548.3467319")
# Logged test Recall@50 at epoch 100 of the reference implementation on CiteULike: teacher dim
# 200, students by dim (the paper's code log).
REFERENCE_CITEULIKE = {"teacher": {200: 0.3123},
                       "student": {10: 0.1788, 20: 0.2276, 100: 0.2976, 200: 0.3152},
                       "ftd": {10: 0.2112, 20: 0.2516, 100: 0.3116, 200: 0.3175},
                       "htd": {10: 0.2282, 20: 0.2744, 100: 0.3116, 200: 0.3200}}
TOLERANCE = 0.01


def user_matrix(users: dict, a: str, b: str, dim: int, seeds, metric: str, *,
                reading: str = "reported", kind: str = "mf"):
    """Seeds × users matrix of ``metric`` of student ``a`` minus student ``b`` (size ``dim``,
    ``reading`` "reported" or "converged"), the users aligned by id across seeds
    (:func:`kdkit.user_bootstrap.aligned_diffs`). None when a job did not keep its users'
    scores."""
    from ..user_bootstrap import aligned_diffs

    return aligned_diffs([tuple((users or {}).get((kind, s, m, dim), {}).get(reading)
                                for m in (a, b)) for s in seeds], metric)


def claim_id(what: str, dim: int | None = None) -> str:
    """A claim's id in the claims table: ``what@dim``, e.g. ``htd>ftd@4`` (the ``primary``
    param lists such ids)."""
    return what + (f"@{dim}" if dim is not None else "")


SMALL_REGIME = 1 / 8  # φ up to which a student is "small" here (the paper's are φ 0.05, 0.1)


def size_setting(dim: int, dims, *, teacher_dim: int, citeulike: bool,
                 protocol: Protocol) -> tuple[int | None, str]:
    """For a size claim at student size ``dim``: the logged student size of the paper whose
    effect it holds against (None: no size claim here) and how our setting differs from the one
    behind that log (empty where it matches: the CiteULike split, the reference protocol, the
    dim-200 teacher and that student size). Elsewhere a size claim is made only in the paper's
    small-student regime (φ ≤ 1/8), against the logged size of the nearest φ (dim 10, φ = 0.05,
    or dim 20, φ = 0.1): the paper's gains say nothing about sizes it did not log."""
    logged = REFERENCE_CITEULIKE["student"]
    phi = dim / teacher_dim
    if citeulike and teacher_dim == 200 and dim in logged:
        ref = dim
    elif phi <= SMALL_REGIME:
        ref = min((d for d in logged if d / 200 <= SMALL_REGIME),
                  key=lambda d: abs(d / 200 - phi))
    else:
        return None, ""
    parts = []
    if not citeulike:
        parts.append("MovieLens-100k leave-one-out, not the paper's CiteULike split")
    if (teacher_dim, dim) != (200, ref):
        parts.append(f"teacher {teacher_dim} / student {dim} (φ = {phi:g}), not "
                     f"the paper's 200 / {ref} (φ = {ref / 200:g})")
    reference = replace(Protocol(), converge_epochs=protocol.converge_epochs,
                        converge_patience=protocol.converge_patience)
    if protocol.patience:
        parts.append("early stopping on validation with tuned settings, not the reference "
                     "protocol's 100 epochs")
    elif protocol != reference:
        changed = [f"{f.name} {getattr(protocol, f.name)} (reference "
                   f"{getattr(reference, f.name)})" for f in fields(Protocol)
                   if getattr(protocol, f.name) != getattr(reference, f.name)]
        parts.append("not the reference protocol: " + ", ".join(changed))
    return ref, "; ".join(parts)


def claim_ids(p: dict) -> list[str]:
    """The ids of the tested claims these params produce (the ids ``primary`` may name;
    ``kdkit run`` refuses a declared primary outside them before a kernel starts)."""
    plugins = [m for m in p["methods"] if m not in METHODS]
    out = []
    for dim in sorted(p["student_dims"]):
        phi = dim / p["teacher_dim"]
        what = [f"{m}>student" for m in ("ftd", "htd", *plugins)]
        what += [f"{m}>{b}" for m in plugins for b in ("ftd", "htd") if b in p["methods"]]
        what += ["htd>ftd"] if phi <= SMALL_REGIME else ["ftd>htd"] if phi >= 0.5 else []
        direction = [claim_id(w, dim) for w in what]
        converged = [i + "/converged" for i in direction] if p.get("converge_epochs") else []
        out += direction + converged
        out += [claim_id(w, dim) for w in ("size:ftd>student", "size:htd>student")]
    return out


def claims(results: pd.DataFrame, metric: str, *, teacher_dim: int, citeulike: bool,
           protocol: Protocol, delta=None, users: dict | None = None) -> list[Claim]:
    """The source's claims at every student size (and, on the CiteULike split, the paper's
    logged table).

    Each claim has an id (:func:`claim_id`); direction claims are gated on the teacher beating
    the student alone on the held-out half of validation (the ``gate`` column) and get the
    smallest effect of interest of ``metric`` from ``delta`` (the study's param or a
    :class:`~kdkit.claims.Deltas`); the paper's effect sizes are size claims
    (:func:`size_setting` says where they are judged).

    ``users`` (from :func:`capacity_study`): each direction claim's interval covers the test
    users as well as the seeds (the seeds share the users of a fixed split;
    :mod:`kdkit.user_bootstrap`); without it, the seeds only. Where the students went on to
    convergence, every direction claim is also made on that reading (id ``…/converged``,
    secondary unless declared)."""
    deltas = delta if isinstance(delta, Deltas) else Deltas(delta)
    mf = results[results["model"] == "mf"]
    out = []
    dims = sorted(mf.loc[mf["method"] != "teacher", "dim"].unique())
    for dim in dims:
        phi = dim / teacher_dim
        g = mf[(mf["dim"] == dim) | (mf["method"] == "teacher")]
        test = g.pivot_table(index="seed", columns="method", values=metric)
        held = g.pivot_table(index="seed", columns="method", values="gate")
        if "teacher" not in held or "student" not in held:
            continue
        gate = teacher_gate(held["teacher"], held["student"], metric=metric)
        untrained = None if gate.ok or set(test) - {"teacher", "student"} else Gate(
            False, f"{gate.reason}; the KD students were not trained at this size")
        tag = f"(dim {dim}, φ = {phi:g}) on {metric}"
        kd = [m for m in test if m not in ("teacher", "student")]
        plugins = [m for m in kd if m not in METHODS]
        rows = [(m, "student", f"{label(m)} improves the student {tag}", "")
                for m in ("ftd", "htd", *plugins)]
        rows += [(m, b, f"{label(m)} beats {LABELS[b]} {tag}", "a method not in the source")
                 for m in plugins for b in ("ftd", "htd") if b in test]
        if phi <= SMALL_REGIME:
            rows.append(("htd", "ftd", f"HTD beats FTD for a small student {tag}",
                         "HTD for small students"))
        elif phi >= 0.5:
            rows.append(("ftd", "htd", f"FTD beats HTD for a large student {tag}",
                         "FTD for large students (φ ≥ 1/2 in the paper)"))
        conv = f"converged {metric}"
        readings = [("reported", test, "", "")]
        if conv in g and g.loc[g["method"] != "teacher", conv].notna().all():
            readings.append(("converged", g.pivot_table(index="seed", columns="method",
                                                        values=conv), "/converged",
                             "; the converged reading (best validation checkpoint of the "
                             "run continued to convergence)"))
        for reading, vals, suffix, says in readings:
            for a, b, text, sv in rows:
                key = claim_id(f"{a}>{b}", dim) + suffix
                if a in vals and b in vals:
                    m = user_matrix(users, a, b, dim, vals.index, metric, reading=reading)
                    out.append(paired_claim(vals[a], vals[b], ">", text + says, sv, key=key,
                                            relative=True, gates=[gate], users=m,
                                            **deltas.kwargs(metric)))
                elif untrained is not None:
                    out.append(Claim(text + says, sv, None, None, None, "not testable",
                                     untrained.reason, id=key))
        ref, differs = size_setting(dim, dims, teacher_dim=teacher_dim, citeulike=citeulike,
                                    protocol=protocol)
        if ref is None:
            continue
        base = REFERENCE_CITEULIKE["student"][ref]
        for m in ("ftd", "htd"):
            rel = REFERENCE_CITEULIKE[m][ref] / base - 1
            text = f"{LABELS[m]} improves the student by the paper's {rel:.0%} {tag}"
            sv = f"{REFERENCE_CITEULIKE[m][ref]} vs {base} (CiteULike dim {ref}, {rel:+.1%})"
            key = claim_id(f"size:{m}>student", dim)
            if m in test and "student" in test:
                out.append(size_claim(test[m], test["student"], text, rel, differs=differs,
                                      source_value=sv, key=key, gates=[gate]))
            elif untrained is not None:
                out.append(Claim(text, sv, None, None, None, "not testable", untrained.reason,
                                 id=key))
    if citeulike:
        for method, by_dim in REFERENCE_CITEULIKE.items():
            for dim, ref in by_dim.items():
                vals = mf.loc[(mf["method"] == method) & (mf["dim"] == dim), metric]
                if len(vals):
                    e = mean_ci(vals)
                    out.append(Claim(f"Reference {label(method)} dim {dim}: {metric} {ref}",
                                     str(ref), e.mean, e.ci_low, e.ci_high,
                                     "supported" if abs(e.mean - ref) <= TOLERANCE
                                     else "not supported",
                                     f"within ±{TOLERANCE} of the logged epoch-100 value; "
                                     f"{len(vals)} seed(s) on the paper's fixed split; "
                                     f"protocol {asdict(protocol)}",
                                     id=claim_id(f"reference:{method}", dim),
                                     family="descriptive"))
    log = {d: (REFERENCE_CITEULIKE["ftd"][d], REFERENCE_CITEULIKE["htd"][d]) for d in (100, 200)}
    out.append(Claim("FTD beats HTD for large students (φ ≥ 1/2), as the source states it",
                     "FTD for large students", None, None, None, "not supported",
                     "the paper's own log (its code's CiteULike run) does not show it: dim 100 "
                     f"a tie (FTD {log[100][0]}, HTD {log[100][1]}), dim 200 HTD ahead (FTD "
                     f"{log[200][0]}, HTD {log[200][1]}); the rows above test it where a "
                     "student is large and the teacher teaches", id="log:ftd>htd@large",
                     family="descriptive"))
    out.append(Claim("KnowRecDistill NCF+FTD: Precision@10 0.9455, Recall@10 0.1484",
                     "0.9455 / 0.1484", None, None, None, "not testable",
                     "computed inside mixed batches that are ~94 % positive; the NCF rows of "
                     "this report (when run) give full-ranking numbers", id="ncf:knowrecdistill",
                     family="descriptive"))
    return out

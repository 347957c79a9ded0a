"""Reproduce the CiteULike table of Kang et al. (KDD 2021) piece by piece.

``kdkit run topology_kd --params params/topology_kd-citeulike.yaml -p data_dir=DIR`` is the
one-command reproduction (about 6 hours on 2 CPU cores, one process). This script runs the
same training (``kdkit.studies.topology_kd.train_one`` with the default ``Protocol``, seed 0)
one model at a time, so that the runs can be spread over processes or days and resumed:

    python scripts/citeulike_reproduction.py run DIR --log LOG.jsonl teacher:200
    python scripts/citeulike_reproduction.py run DIR --log LOG.jsonl student:10 ftd:10 &
    python scripts/citeulike_reproduction.py run DIR --log LOG.jsonl htd:10 &
    python scripts/citeulike_reproduction.py table --log LOG.jsonl --out reports/FOLDER

``run`` appends one JSON line per finished model (its Recall@50 curve and wall time) and
skips models already in the log; students load the teacher from ``LOG.teacher.pt``, written
by the ``teacher:200`` run. ``table`` compares the last epoch of each logged model with the
reference's logged epoch-100 value (``REFERENCE_CITEULIKE``) and writes tables/reproduction.md/csv,
claims.csv, metrics.json and figures/curves.png.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from kdkit.claims import Claim
from kdkit.data.split_dir import load_split_dir
from kdkit.report import Report
from kdkit.studies.topology_kd import REFERENCE_CITEULIKE, Protocol, build_model, train_one

TOLERANCE = 0.01


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] \
        if log.exists() else []


def run(data_dir: str, log: Path, specs: list[str], seed: int = 0) -> None:
    torch.set_num_threads(1)
    data = load_split_dir(data_dir)
    p = Protocol()
    done = {(r["method"], r["dim"]) for r in _records(log)}
    ckpt = log.with_suffix(".teacher.pt")
    teacher_dim = next(iter(REFERENCE_CITEULIKE["teacher"]))
    for spec in specs:
        method, dim = spec.split(":")
        dim = int(dim)
        if (method, dim) in done:
            print(f"{spec}: already in {log}, skipped")
            continue
        teacher = None
        if method != "teacher" and not ckpt.exists():
            raise SystemExit(f"{spec}: no teacher checkpoint {ckpt}; run teacher:{teacher_dim} "
                             "with this log first (a teacher already in the log is skipped, "
                             "so start a new log if its checkpoint is gone)")
        if method != "teacher":
            teacher = build_model("mf", data, teacher_dim, seed=seed, init_std=p.init_std)
            teacher.load_state_dict(torch.load(ckpt))
        t0 = time.time()
        model, curve, _ = train_one(
            data, method, dim, p, teacher=teacher, seed=seed,
            progress=lambda r, s=spec: print(f"{s} epoch {r['epoch']}", flush=True))
        if method == "teacher":
            torch.save(model.state_dict(), ckpt)
        rec = {"method": method, "dim": dim, "seed": seed, "curve": curve,
               "seconds": round(time.time() - t0), "protocol": asdict(p)}
        with log.open("a") as f:
            f.write(json.dumps(rec) + "\n")


def table(log: Path, out: Path) -> pd.DataFrame:
    """Write OUT/tables/reproduction.{csv,md}, OUT/claims.csv, OUT/metrics.json and a figure
    of the Recall@50 curves; return the table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = Protocol().metric
    got = {(r["method"], r["dim"]): r for r in _records(log)}
    rep = Report(out, "topology_kd")
    rows, claims, metrics = [], [], {}
    for method, by_dim in REFERENCE_CITEULIKE.items():
        for dim, ref in by_dim.items():
            r = got.get((method, dim))
            if r is None:
                rows.append({"method": method, "dim": dim, "reference": ref, "ours": None,
                             "difference": None, "within ±0.01": "not run", "epoch": "",
                             "minutes": ""})
                continue
            value = r["curve"][-1][metric]
            ok = abs(value - ref) <= TOLERANCE
            rows.append({"method": method, "dim": dim, "reference": ref, "ours": value,
                         "difference": value - ref, "within ±0.01": "yes" if ok else "no",
                         "epoch": str(r["curve"][-1]["epoch"]),
                         "minutes": f"{r['seconds'] / 60:.1f}"})
            metrics[f"{method}-{dim}"] = value
            claims.append(Claim(
                f"Reference {method} dim {dim}: {metric} {ref}", str(ref), value, None, None,
                "supported" if ok else "not supported",
                f"within ±{TOLERANCE} of the logged epoch-100 value; 1 seed"))
    df = pd.DataFrame(rows)
    rep.table(df, "reproduction")
    rep.metrics({metric: metrics})
    rep.claims(claims)
    fig, ax = plt.subplots(figsize=(6, 4))
    for (method, dim), r in sorted(got.items()):
        c = pd.DataFrame(r["curve"])
        ax.plot(c["epoch"], c[metric], marker=".", label=f"{method}-{dim}")
    ax.set(xlabel="epoch", ylabel=f"test {metric}", title="CiteULike, seed 0")
    ax.legend(fontsize=8)
    rep.figure(fig, "curves")
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train models METHOD:DIM and append them to the log")
    r.add_argument("data_dir")
    r.add_argument("specs", nargs="+", help="teacher:200, student:10, ftd:20, htd:10, ...")
    r.add_argument("--log", type=Path, required=True)
    t = sub.add_parser("table", help="compare the logged models with the reference table")
    t.add_argument("--log", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd == "run":
        run(a.data_dir, a.log, a.specs)
    else:
        print(table(a.log, a.out).to_markdown(index=False, floatfmt=".4f"))


if __name__ == "__main__":
    main()

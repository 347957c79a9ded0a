"""``kdkit sweep STUDY --grid FILE.yaml``: one study over a grid of its parameters.

The grid file names the parameters to sweep and the metrics to collect::

    name: bpr_kd-alpha          # optional; default: the file's name
    base: smoke                 # smoke (the notebook's defaults) or a params file
    grid:                       # every combination is one point
      alpha: [0.25, 0.75]
      temperature: [1.0, 4.0]
    metrics:                    # dotted paths into each point's metrics.json
      - results.synthetic.kd_sigmoid-32.Recall@10

Each point is a full papermill run of the study with its own report under
``reports/sweeps/NAME/POINT/`` (``POINT`` = ``alpha=0.25__temperature=1.0``); the points run
as jobs (``kdkit.jobs``: in-process, or on Dask workers with ``--workers``/``--scheduler``).
The sweep then writes ``sweep.json`` (the grid, every point with its status and duration),
``sweep.csv``/``sweep.md`` (one row per point: the swept values and each metric's mean and
95 % CI where the metric has one) and ``sweep.png`` (each metric against the first swept
parameter, one line per value of the others, with its CI). A failed point is listed and does
not stop the others.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import time
from pathlib import Path

from . import params as _params
from . import runner as _runner


def load_grid(path: str | Path) -> dict:
    """Read and check a grid file (see the module docstring); raises ``ParamError``."""
    spec = _params.load_yaml(Path(path))
    unknown = sorted(set(spec) - {"name", "base", "grid", "metrics"})
    if unknown:
        raise _params.ParamError(f"{path}: unknown keys {unknown}; allowed: name, base, grid, "
                                 "metrics")
    grid = spec.get("grid")
    if not isinstance(grid, dict) or not grid or not all(
            isinstance(v, list) and v for v in grid.values()):
        raise _params.ParamError(f"{path}: 'grid' must map each parameter to a non-empty list "
                                 "of values")
    metrics = spec.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise _params.ParamError(f"{path}: 'metrics' must be a list of dotted paths into "
                                 "metrics.json")
    return {"name": spec.get("name") or Path(path).stem, "base": spec.get("base", "smoke"),
            "grid": grid, "metrics": metrics}


def point_name(point: dict) -> str:
    return "__".join(f"{k}={v}" for k, v in point.items())


def points(grid: dict) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]


def _run_point(plan, out_root: str) -> dict:
    """One point (a job): run the study; return its status and duration."""
    t0 = time.perf_counter()
    lines = []
    try:
        ok = _runner.run_study(plan, Path(out_root), progress=False, log=lines.append)
    except Exception as e:  # reported in sweep.json; the other points go on
        ok, lines = False, lines + [f"{type(e).__name__}: {e}"]
    return {"status": "ok" if ok else "failed", "duration_s": round(time.perf_counter() - t0, 1),
            "log": lines[-1] if lines else ""}


def _lookup(tree: dict, path: str):
    node = tree
    for part in _split_path(path):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _split_path(path: str) -> list[str]:
    """Dotted path, where a key may itself hold dots when quoted: a."b.c".d."""
    out, buf, quoted = [], "", False
    for ch in path:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            out.append(buf)
            buf = ""
        else:
            buf += ch
    return out + [buf]


def run_sweep(study: str, grid_file: str, *, smoke: bool, overrides: list[str],
              out: str | None, workers: int, scheduler: str | None, log=print) -> int:
    """The ``kdkit sweep`` command; returns 0 when every point ran, 1 when any failed,
    2 for a usage error."""
    from .jobs import Job, Runner

    try:
        spec = load_grid(grid_file)
        base = spec["base"]
        params_file = None if smoke or base == "smoke" else str(
            _runner.project_root() / base if not Path(base).is_absolute() else base)
        pts = points(spec["grid"])
        plans = []
        for pt in pts:
            extra = [f"{k}={json.dumps(v)}" for k, v in pt.items()]
            plan = _runner.plan_runs([study], params_file=params_file,
                                     smoke=params_file is None,
                                     overrides=list(overrides) + extra)[0]
            plan.name = point_name(pt)
            plans.append(plan)
    except _params.ParamError as e:
        print(f"kdkit sweep: {e}", flush=True)
        return 2
    root = Path(out) if out else _runner.reports_dir() / "sweeps" / spec["name"]
    root.mkdir(parents=True, exist_ok=True)
    log(f"[kdkit] sweep {spec['name']}: {len(pts)} points of {study} -> {root}")
    started = _dt.datetime.now(_dt.timezone.utc)
    with Runner(workers=workers, scheduler=scheduler, progress=False) as r:
        log(f"[kdkit] sweep {spec['name']}: running on {r.kind}")
        results = r.run([Job(_run_point, (plan, str(root)), name=plan.name) for plan in plans])
    rows, record = [], []
    for pt, plan, res in zip(pts, plans, results):
        record.append({"point": pt, "folder": plan.name, **res})
        row = {**pt, "status": res["status"]}  # durations vary: sweep.json holds them
        metrics_file = root / plan.name / "metrics.json"
        tree = json.loads(metrics_file.read_text()) if res["status"] == "ok" \
            and metrics_file.exists() else {}
        for m in spec["metrics"]:
            v = _lookup(tree, m)
            if isinstance(v, dict):
                row[m], row[f"{m} ci_low"], row[f"{m} ci_high"] = (v.get("mean"),
                                                                     v.get("ci_low"),
                                                                     v.get("ci_high"))
            else:
                row[m] = v
        rows.append(row)
        log(f"[kdkit]   {plan.name}: {res['status']} ({res['duration_s']:.0f}s)")
    (root / "sweep.json").write_text(json.dumps({
        "study": study, "name": spec["name"], "grid": spec["grid"], "base": base,
        "metrics": spec["metrics"], "overrides": list(overrides), "executor": r.kind,
        "start": started.isoformat(timespec="seconds"),
        "end": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "points": record}, indent=2, default=str) + "\n")
    _write_tables(rows, spec, root)
    failed = [p["folder"] for p in record if p["status"] != "ok"]
    if failed:
        log(f"[kdkit] sweep {spec['name']}: {len(failed)} point(s) failed: {', '.join(failed)}")
    _runner.write_index(root)
    return 1 if failed else 0


def _write_tables(rows: list[dict], spec: dict, root: Path) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    df.to_csv(root / "sweep.csv", index=False, float_format="%.6g")
    (root / "sweep.md").write_text(df.to_markdown(index=False, floatfmt=".4f") + "\n")
    if not spec["metrics"] or df.empty:
        return
    from .plots import sweep_figure

    fig = sweep_figure(df, list(spec["grid"]), spec["metrics"])
    fig.savefig(root / "sweep.png", dpi=110, bbox_inches="tight", metadata={"Software": None})

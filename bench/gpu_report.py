"""reports/bench/gpu.md from a bench/gpu.sh run: each torch study's first look on the CPU and
on CUDA (wall time, every primary claim's estimate and verdict side by side) and the CUDA
distillation-overhead table.

    python bench/gpu_report.py reports/bench/gpu-runs
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "reports" / "bench"
TOLERANCE = 1e-3  # estimates on the two devices: GPU kernels are not the CPU's bit for bit


def primary(report: Path) -> dict:
    path = report / "claims.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f) if r["family"] == "primary"}


def main(runs: Path) -> str:
    times = {}
    for line in (runs / "times.txt").read_text().splitlines():
        study, dev, status, seconds, workers = line.split()
        times[(study, dev)] = (status, float(seconds), workers)
    studies = sorted({s for s, _ in times})
    lines = ["# kdkit on a GPU: each torch study's first look, CPU against CUDA", "",
             "| study | CPU (workers) | CUDA (workers) | speed-up | primary verdicts equal | "
             "largest estimate difference |", "|---|---|---|---|---|---|"]
    detail = ["", "## Primary claims", "", "| study | claim | CPU estimate | CPU verdict | "
              "CUDA estimate | CUDA verdict |", "|---|---|---|---|---|---|"]
    for s in studies:
        (cs, ct, cw), (gs, gt, gw) = times[(s, "cpu")], times[(s, "cuda")]
        a, b = primary(runs / "cpu" / s), primary(runs / "cuda" / s)
        same = a.keys() == b.keys() and all(a[k]["verdict"] == b[k]["verdict"] for k in a)
        diffs = [abs(float(a[k]["measured"]) - float(b[k]["measured"])) for k in a
                 if k in b and a[k]["measured"] and b[k]["measured"]]
        worst = max(diffs) if diffs else float("nan")
        lines.append(f"| {s} | {ct / 60:.1f} min ({cw}){'' if cs == 'ok' else ' FAILED'} | "
                     f"{gt / 60:.1f} min ({gw}){'' if gs == 'ok' else ' FAILED'} | "
                     f"{ct / gt:.2f}× | {'yes' if same else 'NO'} | {worst:.2g}"
                     f"{' (above ' + str(TOLERANCE) + ')' if worst > TOLERANCE else ''} |")
        for k in sorted(a.keys() | b.keys()):
            x, y = a.get(k, {}), b.get(k, {})
            detail.append(f"| {s} | {k} | {x.get('measured', '')} | {x.get('verdict', '')} | "
                          f"{y.get('measured', '')} | {y.get('verdict', '')} |")
    overhead = OUT / "kd_overhead_cuda.md"
    text = "\n".join(lines + detail) + "\n"
    if overhead.exists():
        text += "\n" + overhead.read_text().replace("# ", "## ", 1)
    (OUT / "gpu.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT / "gpu-runs")

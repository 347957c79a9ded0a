# ruff: noqa: E402  (the thread settings must precede the imports)
"""Procrustes-DTW distance matrix: kdkit against dtaidistance's C multivariate DTW.

    python bench/procrustes_dtw.py [--reps 3] [--once-above 1e8] [--out reports/bench]

Needs an environment with kdkit and dtaidistance installed (dtaidistance is not a kdkit
dependency). dtaidistance's ``dtw_ndim.distance_matrix_fast`` (C, ``use_c=True``,
``parallel=False``) runs plain multivariate DTW on the raw (T, 60) coordinates, with no
Procrustes alignment: a lower bound for any DTW on this data. Both run single-threaded
(NUMBA_NUM_THREADS = OMP_NUM_THREADS = 1) in this one process, interleaved (the order
alternates between repetitions), on the same synthetic skeletons
(``kdkit.data.skeleton.synthetic_skeletons``, exactly T frames, 20 joints), for
N ∈ {50, 100, 200} sequences × T ∈ {25, 50, 100} frames; the symmetric matrix (N(N−1)/2
pairs). The time is the median of ``--reps`` runs (min–max alongside); configurations with
more than ``--once-above`` frame pairs (N = 200, T = 100) are timed once. Times are the
process CPU time (robust on a shared machine; for one thread it equals the wall time on an
idle one); wall times are in the CSV too.

kdkit's distances are checked against ``naive_distance`` (one SVD per frame pair, Python DTW)
on a sample of pairs, plain and length-normalised. Writes ``procrustes_dtw.csv``,
``procrustes_dtw.md`` and ``procrustes_dtw_scaling.png`` (time against N²T², log-log) under
``--out``. The goal: kdkit ≤ 2.5 × dtaidistance at N = 200, T = 50.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numba / numpy start their thread pools

import argparse
import csv
import importlib.metadata
import platform
import subprocess
import time
from pathlib import Path

import numba
import numpy as np

from kdkit.data.skeleton import synthetic_skeletons
from kdkit.geometry.distance import distance_matrix, naive_distance

NS = (50, 100, 200)
TS = (25, 50, 100)
GOAL = {"n": 200, "t": 50, "ratio": 2.5}


def _dtaidistance():
    try:
        from dtaidistance import dtw_ndim
    except ImportError:
        raise SystemExit("dtaidistance is not installed: pip install dtaidistance") from None
    try:
        from dtaidistance import dtw_cc  # noqa: F401  the C extension
    except ImportError:
        raise SystemExit("dtaidistance is installed without its C extension (dtw_cc); "
                         "the fast variant cannot run") from None
    return dtw_ndim


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def _sequences(n: int, t: int) -> list[np.ndarray]:
    data = synthetic_skeletons(n_subjects=-(-n // 27), n_trials=3, length=(t, t), seed=0)
    return data.sequences[:n]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict:
    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {"kdkit": f"{version('kdkit')} ({commit})", "numba": numba.__version__,
            "numpy": np.__version__, "dtaidistance": version("dtaidistance"),
            "python": platform.python_version(), "cpu": _cpu(),
            "threads": f"numba {numba.get_num_threads()}, "
                       f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"}


def check_against_naive(n_pairs: int = 6, t: int = 50) -> float:
    """Max relative difference kdkit vs ``naive_distance`` on random pairs (both variants)."""
    seqs = _sequences(50, t)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(n_pairs):
        i, j = rng.choice(len(seqs), 2, replace=False)
        for normalize in (False, True):
            fast = distance_matrix([seqs[i]], [seqs[j]], normalize=normalize)[0, 0]
            ref = naive_distance(seqs[i], seqs[j], normalize=normalize)
            worst = max(worst, abs(fast - ref) / abs(ref))
    return worst


def run(reps: int, once_above: float) -> list[dict]:
    dtw_ndim = _dtaidistance()
    warm = _sequences(2, 8)
    distance_matrix(warm)  # numba compile (cached after the first run)
    dtw_ndim.distance_matrix_fast([s.reshape(len(s), -1) for s in warm], parallel=False)
    rows = []
    for t in TS:
        data = _sequences(max(NS), t)
        for n in NS:
            seqs = data[:n]
            flat = [np.ascontiguousarray(s.reshape(t, -1)) for s in seqs]
            pairs = n * (n - 1) // 2
            todo = 1 if pairs * t * t > once_above else reps
            runs = {"kdkit": [], "dtaidistance": []}
            jobs = {"kdkit": lambda seqs=seqs: distance_matrix(seqs),
                    "dtaidistance": lambda flat=flat: dtw_ndim.distance_matrix_fast(
                        flat, parallel=False, use_c=True)}
            for rep in range(todo):
                for name in (("kdkit", "dtaidistance") if rep % 2 == 0
                             else ("dtaidistance", "kdkit")):
                    runs[name].append(_timed(jobs[name]))
            row = {"n": n, "t": t, "pairs": pairs, "frame_pairs": pairs * t * t, "reps": todo}
            for name, times in runs.items():
                cpu, wall = np.array(times).T
                row |= {f"{name}_s": float(np.median(cpu)), f"{name}_min_s": float(cpu.min()),
                        f"{name}_max_s": float(cpu.max()),
                        f"{name}_wall_s": float(np.median(wall))}
            row["ratio"] = row["kdkit_s"] / row["dtaidistance_s"]
            row["ratio_wall"] = row["kdkit_wall_s"] / row["dtaidistance_wall_s"]
            rows.append(row)
            print(f"N={n:3d} T={t:3d}: kdkit {row['kdkit_s']:7.3f} s, dtaidistance "
                  f"{row['dtaidistance_s']:7.3f} s, ratio {row['ratio']:.2f} "
                  f"(wall {row['ratio_wall']:.2f}), {todo} run(s)", flush=True)
    return rows


def write(rows: list[dict], max_err: float, versions: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: (r["n"], r["t"]))
    meta = {f"version_{k}": v for k, v in versions.items()} | {"max_rel_err_vs_naive": max_err}
    with open(out / "procrustes_dtw.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], *meta])
        writer.writeheader()
        for row in rows:
            writer.writerow(row | meta)

    goal = next(r for r in rows if (r["n"], r["t"]) == (GOAL["n"], GOAL["t"]))
    met = goal["ratio"] <= GOAL["ratio"]
    lines = [
        "# Procrustes-DTW distance matrix: kdkit vs dtaidistance", "",
        "Symmetric N × N matrix of synthetic 20-joint skeleton sequences of exactly T frames "
        "(`python bench/procrustes_dtw.py`). kdkit: `distance_matrix` (Procrustes frame cost "
        "by QCP, DTW). dtaidistance: `dtw_ndim.distance_matrix_fast(..., parallel=False, "
        "use_c=True)` on the raw (T, 60) coordinates, plain DTW without any alignment (a lower "
        "bound for any DTW). One thread each, one process, interleaved; process CPU seconds, "
        "median of the runs [min–max].", "",
        f"**Goal (kdkit ≤ {GOAL['ratio']} × dtaidistance at N = {GOAL['n']}, "
        f"T = {GOAL['t']}): {'met' if met else 'NOT met'}**: {goal['kdkit_s']:.2f} s vs "
        f"{goal['dtaidistance_s']:.2f} s, ratio {goal['ratio']:.2f} "
        f"(wall-clock ratio {goal['ratio_wall']:.2f}).", "",
        "| N | T | frame pairs | runs | kdkit s | dtaidistance s | ratio | ratio (wall) |",
        "|---:|---:|---:|---:|---|---|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['t']} | {r['frame_pairs']:.3g} | {r['reps']} | "
            f"{r['kdkit_s']:.3f} [{r['kdkit_min_s']:.3f}–{r['kdkit_max_s']:.3f}] | "
            f"{r['dtaidistance_s']:.3f} [{r['dtaidistance_min_s']:.3f}–"
            f"{r['dtaidistance_max_s']:.3f}] | {r['ratio']:.2f} | {r['ratio_wall']:.2f} |")
    lines += ["", f"kdkit against `naive_distance` (one SVD per frame pair), plain and "
              f"length-normalised, on a sample of pairs: max relative difference "
              f"{max_err:.1e} (goal ≤ 1e-9).", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                       if k not in ("cpu", "threads")) + ".",
              f"Threads: {versions['threads']}. CPU: {versions['cpu']}.", "",
              "![time against N²T²](procrustes_dtw_scaling.png)", ""]
    (out / "procrustes_dtw.md").write_text("\n".join(lines))
    _plot(rows, out / "procrustes_dtw_scaling.png")


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for t, color in zip(TS, ("C0", "C1", "C2")):
        series = [r for r in rows if r["t"] == t]
        x = [r["n"] ** 2 * t ** 2 for r in series]
        for name, style in (("kdkit", "-o"), ("dtaidistance", "--s")):
            ax.loglog(x, [r[f"{name}_s"] for r in series], style, color=color,
                      label=f"{name}, T = {t}")
    ax.set_xlabel("N² T²")
    ax.set_ylabel("CPU seconds (one thread)")
    ax.set_title("Procrustes-DTW matrix (kdkit) vs plain DTW (dtaidistance)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--once-above", type=float, default=1e8,
                        help="time configurations with more frame pairs than this once")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    args = parser.parse_args()
    numba.set_num_threads(1)
    versions = _versions()
    max_err = check_against_naive()
    print(f"max relative difference against naive_distance: {max_err:.1e}", flush=True)
    rows = run(args.reps, args.once_above)
    write(rows, max_err, versions, args.out)
    print(f"wrote {args.out}/procrustes_dtw.{{csv,md}} and procrustes_dtw_scaling.png")


if __name__ == "__main__":
    main()

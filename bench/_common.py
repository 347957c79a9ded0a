"""What every bench script shares: one-thread setup, interleaved median-of-3 timing, the
library versions, and writing reports/bench/NAME.csv + .md."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kdkit.allocator import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as every kdkit job does (kdkit.jobs)

OUT = Path(__file__).resolve().parent.parent / "reports" / "bench"
THREADS = int(os.environ["OMP_NUM_THREADS"])


def versions(*packages: str) -> str:
    out = []
    for p in ("kdkit", "torch", "numpy", "numba", *packages):
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p} (not installed)")
    return ", ".join(out) + f"; python {platform.python_version()}; {THREADS} thread(s)"


def interleaved(fns: dict, repeats: int = 3) -> dict:
    """Run every callable once per round, in a rotating order, ``repeats`` rounds; return
    {name: (median seconds, min, max, last result)}."""
    times = {k: [] for k in fns}
    results = {}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            results[name] = fns[name]()
            times[name].append(time.perf_counter() - t0)
    return {k: (float(np.median(v)), float(min(v)), float(max(v)), results[k])
            for k, v in times.items()}


def write(name: str, df: pd.DataFrame, title: str, notes: list[str]) -> None:
    """reports/bench/NAME.csv and NAME.md (the table, the versions, the notes)."""
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / f"{name}.csv", index=False, float_format="%.6g")
    text = [f"# {title}", "", df.to_markdown(index=False, floatfmt=".4g"), ""]
    text += [f"- {n}" for n in notes] + [f"- measured with {versions()}", ""]
    (OUT / f"{name}.md").write_text("\n".join(text))
    print("\n".join(text))

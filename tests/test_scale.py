"""Scaling out: a study and a sweep on a real Dask LocalCluster give the in-process tables,
byte for byte; a sweep lists a failed point and finishes the others."""

import json
import os
import re
from pathlib import Path

import pytest

from kdkit import cli

pytestmark = pytest.mark.notebook
ROOT = Path(__file__).resolve().parent.parent
TINY = ["-p", "datasets=[synthetic]", "-p", "seeds=[0, 1]", "-p", "student_dims=[8]",
        "-p", "methods=[kd_sigmoid]", "-p", "controls=[shuffled]", "-p", "max_epochs=4"]
# Timings differ from run to run: the latency tables, and the claims' padded renderings
# (compared instead through claims.csv without its timing rows).
TIMED = {"latency.csv", "latency.md", "claims.md", "claims.tex"}


@pytest.fixture(autouse=True)
def workers_import_kdkit(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def untimed(data: bytes) -> bytes:
    """claims.csv without the latency claim, whose measured values are timings."""
    return b"\n".join(line for line in data.split(b"\n") if not re.search(rb"\d ms\b", line))


def tables(folder: Path) -> dict:
    out = {p.name: p.read_bytes() for p in (folder / "tables").iterdir() if p.name not in TIMED}
    out["metrics.json"] = (folder / "metrics.json").read_bytes()
    out["claims.csv"] = untimed((folder / "claims.csv").read_bytes())
    return out


def test_study_on_a_local_dask_cluster_equals_in_process(tmp_path):
    for name, workers in (("local", 1), ("dask", 2)):
        assert cli.main(["run", "bpr_kd", "--smoke", *TINY, "--workers", str(workers),
                         "--out", str(tmp_path / name), "--no-progress"]) == 0
    local, dask = tables(tmp_path / "local" / "bpr_kd"), tables(tmp_path / "dask" / "bpr_kd")
    assert local.keys() == dask.keys() and local == dask
    run = json.loads((tmp_path / "dask" / "bpr_kd" / "run.json").read_text())
    assert run["params"]["workers"] == 2


def test_sweep_on_dask_equals_in_process_and_reports_failures(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("name: tiny\nbase: smoke\ngrid:\n  max_epochs: [2, 4]\n  rd_k: [5, 10]\n"
                    "metrics:\n  - results.synthetic.student-8.Recall@10\n")
    overrides = [x for pair in zip(TINY[::2], TINY[1::2]) for x in pair]
    for name, workers in (("local", "1"), ("dask", "2")):
        assert cli.main(["sweep", "bpr_kd", "--grid", str(grid), "--smoke", *overrides,
                         "--workers", workers, "--out", str(tmp_path / name)]) == 0
    for f in ("sweep.csv", "sweep.md"):
        assert (tmp_path / "local" / f).read_bytes() == (tmp_path / "dask" / f).read_bytes()
    spec = json.loads((tmp_path / "dask" / "sweep.json").read_text())
    assert len(spec["points"]) == 4 and all(p["status"] == "ok" for p in spec["points"])
    for point in spec["points"]:
        a, b = (tables(tmp_path / n / point["folder"]) for n in ("local", "dask"))
        assert a == b
    assert (tmp_path / "dask" / "sweep.png").exists()


def test_a_failed_point_is_listed_and_the_others_finish(project, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("name: failing\nbase: smoke\ngrid:\n  fail: [true, false]\n"
                    "metrics:\n  - headline.value\n")
    assert cli.main(["sweep", "toy", "--grid", str(grid)]) == 1
    root = project / "reports" / "sweeps" / "failing"
    spec = json.loads((root / "sweep.json").read_text())
    assert [p["status"] for p in spec["points"]] == ["failed", "ok"]
    assert "toy failure" in spec["points"][0]["log"]
    assert "failed" in (root / "sweep.csv").read_text()
    assert (root / "fail=False" / "metrics.json").exists()

"""scripts/citeulike_reproduction.py: the table compares logged runs with the reference."""

import csv
import importlib.util
import json

from kdkit.report import project_root
from kdkit.studies.topology_kd import REFERENCE_CITEULIKE

spec = importlib.util.spec_from_file_location(
    "citeulike_reproduction", project_root() / "scripts" / "citeulike_reproduction.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


def test_table_verdicts_follow_the_tolerance(tmp_path):
    log = tmp_path / "runs.jsonl"
    ref10 = REFERENCE_CITEULIKE["student"][10]
    ref_t = REFERENCE_CITEULIKE["teacher"][200]
    runs = [("teacher", 200, ref_t - 0.005), ("student", 10, ref10 + 0.02)]
    log.write_text("".join(json.dumps({"method": m, "dim": d, "seed": 0, "seconds": 60,
                                       "curve": [{"epoch": 0, "Recall@50": 0.0},
                                                 {"epoch": 100, "Recall@50": v}]}) + "\n"
                           for m, d, v in runs))
    df = script.table(log, tmp_path / "out")
    by = df.set_index(["method", "dim"])["within ±0.01"]
    assert by[("teacher", 200)] == "yes" and by[("student", 10)] == "no"
    assert by[("htd", 20)] == "not run"
    with open(tmp_path / "out" / "claims.csv") as f:
        verdicts = {r["claim"]: r["verdict"] for r in csv.DictReader(f)}
    assert len(verdicts) == 2  # models not run are not claimed
    assert verdicts[f"Reference teacher dim 200: Recall@50 {ref_t}"] == "supported"
    assert verdicts[f"Reference student dim 10: Recall@50 {ref10}"] == "not supported"
    assert (tmp_path / "out" / "figures" / "curves.png").exists()

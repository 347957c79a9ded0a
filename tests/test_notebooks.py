"""Every study notebook through `kdkit run --smoke`, with its report checked.

(`make test` also executes every notebook top to bottom with nbval-lax.)
"""

import csv
import json

import pandas as pd
import pytest

from kdkit import cli
from kdkit.data.movielens import load_ml100k

pytestmark = pytest.mark.notebook


def smoke(tmp_path_factory, study):
    """Run ``study`` with its notebook defaults into a fresh folder; return the report."""
    out = tmp_path_factory.mktemp("reports")
    assert cli.main(["run", study, "--smoke", "--out", str(out), "--no-progress"]) == 0
    return out / study


@pytest.fixture(scope="module")
def bpr_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert cli.main(["run", "bpr_kd", "--smoke", "--out", str(out), "--no-progress"]) == 0
    return out


def test_bpr_kd_report_contract(bpr_report):
    rep = bpr_report / "bpr_kd"
    for f in ("metrics.json", "claims.csv", "run.json", "notebook.html",
              "figures/accuracy_vs_params.png", "figures/alpha_temperature_heatmap.png",
              "figures/latency.png", "tables/main_results.csv", "tables/main_results.md",
              "tables/paired_tests.csv", "tables/latency.csv", "tables/claims.md"):
        assert (rep / f).exists(), f
    assert "bpr_kd" in (bpr_report / "README.md").read_text()
    with open(rep / "claims.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:6] == ["claim", "seed_value", "measured", "ci_low", "ci_high",
                                 "verdict"]
    verdicts = {r["claim"]: r["verdict"] for r in rows}
    assert verdicts["Teacher MF-64 has 97,500 parameters"] == "supported"
    assert verdicts["Compression ratio 1.97×"] == "supported"
    assert any(c.startswith("Negative transfer") for c in verdicts)
    assert all(v in ("supported", "not supported", "inconclusive", "not testable")
               for v in verdicts.values())


def test_bpr_kd_metrics_within_tolerance(bpr_report):
    m = json.loads((bpr_report / "bpr_kd" / "metrics.json").read_text())
    syn = m["results"]["synthetic"]
    assert syn["teacher-64"]["params"] == 97_500 and syn["student-32"]["params"] == 49_500
    for key in ("teacher-64", "student-32", "kd_margin-32", "kd_sigmoid-32", "rd-32"):
        r = syn[key]["Recall@10"]
        assert r["ci_low"] <= r["mean"] <= r["ci_high"]
        # 3 epochs on the seed-like data: clearly above popularity-free chance (10/1000)
        # and below what any model reaches at convergence
        assert 0.03 < r["mean"] < 0.35, (key, r)
    ml = m["results"]["ml-100k"]
    assert ml["teacher-64"]["params"] == (943 + 1682) * 65
    assert 0.05 < ml["student-32"]["Recall@10"]["mean"] < 0.4
    assert m["datasets"]["ml-100k"]["interactions"] == 100_000


SMALL = ["-p", "datasets=[synthetic]", "-p", "seeds=[0]", "-p", "extra_student_dims=[]",
         "-p", "grid_alphas=[0.5]", "-p", "grid_temperatures=[2.0]"]


def test_bpr_kd_same_params_same_metrics(tmp_path):
    texts = []
    for name in ("a", "b"):
        assert cli.main(["run", "bpr_kd", "--smoke", *SMALL, "--out", str(tmp_path / name),
                         "--no-progress"]) == 0
        texts.append((tmp_path / name / "bpr_kd" / "metrics.json").read_text())
    assert texts[0] == texts[1]


def test_bpr_kd_missing_ml100k_is_one_sentence_and_keeps_report(bpr_report, capsys):
    before = (bpr_report / "bpr_kd" / "metrics.json").read_text()
    code = cli.main(["run", "bpr_kd", "--smoke", "-p", "datasets=[ml-100k]",
                     "-p", "ml100k_path=/no/such/folder", "--out", str(bpr_report),
                     "--no-progress"])
    assert code == 1
    out = capsys.readouterr().out
    assert "DataError: ml-100k folder not found: /no/such/folder" in out
    assert "Traceback" not in out
    assert (bpr_report / "bpr_kd" / "metrics.json").read_text() == before


@pytest.mark.parametrize("override,key", [("no_such_key=1", "no_such_key"),
                                          ("epochs=abc", "epochs")])
def test_bpr_kd_bad_parameter_exits_2(tmp_path, capsys, override, key):
    assert cli.main(["run", "bpr_kd", "-p", override, "--out", str(tmp_path)]) == 2
    assert f"'{key}'" in capsys.readouterr().err
    assert not (tmp_path / "bpr_kd").exists()


@pytest.mark.parametrize("override,message", [
    ("per_dataset={ml100k: {epochs: 3}}", "per_dataset names 'ml100k'"),
    ("per_dataset={synthetic: {epoch: 3}}", "unknown key 'epoch'"),
    ("per_dataset={synthetic: {epochs: abc}}", "['epochs'] must be int"),
    ("extra_methods=[teacher]", "extra_methods has unknown ['teacher']"),
    ("seeds=[]", "seeds is empty"),
    ("alpha=1.5", "alpha must lie in [0, 1]"),
])
def test_bpr_kd_study_checks_exit_2(tmp_path, capsys, override, message):
    assert cli.main(["run", "bpr_kd", "--smoke", "-p", override, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def topology_report(tmp_path_factory):
    return smoke(tmp_path_factory, "topology_kd")


def test_topology_kd_report(topology_report):
    for f in ("metrics.json", "claims.csv", "run.json", "figures/capacity_gap.png",
              "figures/learning_curves.png", "tables/main_results.csv", "tables/gap_closed.csv",
              "tables/ncf_results.csv", "tables/recommendations.md"):
        assert (topology_report / f).exists(), f
    m = json.loads((topology_report / "metrics.json").read_text())
    # 2 epochs on ml-100k leave-one-out: far above chance (50 / 1682 ≈ 0.03)
    assert 0.1 < m["headline"]["teacher Recall@50"] < 0.5
    assert set(m["results"]["mf"]) == {"teacher-64", "student-8", "ftd-8", "htd-8"}
    assert set(m["results"]["ncf"]) == {"teacher-32", "student-8", "ftd-8"}
    assert not m["citeulike"]
    recs = pd.read_csv(topology_report / "tables" / "recommendations.csv")
    _, titles = load_ml100k()
    assert len(recs) == 10 and set(recs["Teacher"]) <= set(titles.values())


@pytest.mark.parametrize("override,message", [
    ("methods=[kd]", "methods must be a non-empty subset of student, ftd, htd"),
    ("loss_reduction=max", "loss_reduction must be sum or mean"),
    ("student_dims=[]", "student_dims must be a non-empty list"),
])
def test_topology_kd_study_checks_exit_2(tmp_path, capsys, override, message):
    assert cli.main(["run", "topology_kd", "--smoke", "-p", override,
                     "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def cross_report(tmp_path_factory):
    return smoke(tmp_path_factory, "cross_paradigm")


def test_cross_paradigm_report(cross_report):
    for f in ("metrics.json", "claims.csv", "run.json", "tables/faithful_mode_means.csv",
              "tables/gains.csv", "tables/compatibility.csv", "tables/compression.csv",
              "tables/innovations.csv", "figures/gain_heatmap_breast_cancer.png",
              "figures/compatibility_vs_gain.png", "figures/compression.png",
              "figures/stream.png"):
        assert (cross_report / f).exists(), f
    with open(cross_report / "claims.csv") as f:
        verdicts = {r["claim"]: r["verdict"] for r in csv.DictReader(f)}
    # the faithful replay regenerates the seed's breast_cancer mode means within ±0.01
    assert verdicts["Seed's mode means on breast_cancer (faithful replay, split seed 42)"] \
        == "supported"
    assert verdicts["Statistical significance: stacking t = 15.23, p < 0.001"] == "not testable"
    assert any(c.startswith("Compatibility C predicts transfer gain") for c in verdicts)
    assert all(v in ("supported", "not supported", "inconclusive", "not testable")
               for v in verdicts.values())
    means = pd.read_csv(cross_report / "tables" / "faithful_mode_means.csv")
    assert means["difference"].abs().max() <= 0.01
    gains = pd.read_csv(cross_report / "tables" / "gains.csv")
    assert set(gains["method"]) == {"hard", "soft", "soft+transfer", "stacking"}
    # the csv keeps 6 significant digits
    assert ((gains["accuracy"] - gains["baseline"] - gains["gain"]).abs() < 1e-6).all()


def test_cross_paradigm_bad_params_exit_2(capsys):
    assert cli.main(["run", "cross_paradigm", "--smoke", "-p", "teachers=[xgboost]"]) == 2
    err = capsys.readouterr().err
    assert "teachers" in err and "xgboost" in err and "ensemble" in err


def test_papermill_reads_every_parameter_of_every_notebook():
    """papermill must parse each line of the parameters cell, or -p values are dropped."""
    import papermill as pm

    from kdkit import params as kparams
    from kdkit import runner
    for study in runner.studies():
        nb = runner.notebook_path(study)
        assert set(pm.inspect_notebook(str(nb))) == set(kparams.read_schema(nb)), study


@pytest.fixture(scope="module")
def geo_report(tmp_path_factory):
    return smoke(tmp_path_factory, "geometric_kd")


def test_geometric_kd_report(geo_report):
    for f in ("metrics.json", "claims.csv", "figures/procrustes_alignment.png",
              "figures/dtw_path.png", "figures/accuracy.png", "figures/confusion.png",
              "tables/students.csv", "tables/soft_targets.csv", "tables/inference.csv"):
        assert (geo_report / f).exists(), f
    with open(geo_report / "claims.csv") as f:
        verdicts = {r["claim"]: r["verdict"] for r in csv.DictReader(f)}
    # at T = 3 the seed's targets are near uniform on any data set
    assert verdicts["The seed's soft targets (T = 3) carry the teacher's knowledge"] \
        == "not supported"
    m = json.loads((geo_report / "metrics.json").read_text())
    assert m["headline"]["1-NN teacher"] > 0.5  # 9 actions: chance is 0.11
    assert m["target_stats"]["seed (T = 3)"]["mean max prob"] < 0.2


def test_fisher_layerwise_report(tmp_path_factory):
    rep = smoke(tmp_path_factory, "fisher_layerwise")
    for f in ("metrics.json", "claims.csv", "figures/schemes.png", "figures/fisher_heatmap.png",
              "tables/schemes.csv", "tables/weights.csv", "tables/size_latency.csv",
              "tables/gamma_selection.csv", "tables/popularity.csv"):
        assert (rep / f).exists(), f
    m = json.loads((rep / "metrics.json").read_text())
    fisher = m["teacher_fisher"]
    assert len(fisher) == 2 and all(v > 0 for v in fisher.values())  # two teacher layers
    assert m["gamma_chosen"]["0"] in (0.1, 1.0)  # the notebook's default gammas
    assert 0 < m["popularity"]["NDCG@5"] < 1
    sizes = pd.read_csv(rep / "tables" / "size_latency.csv").set_index("model")
    assert sizes.loc["student", "parameters"] < sizes.loc["teacher", "parameters"]
    with open(rep / "claims.csv") as f:
        verdicts = {r["claim"]: r["verdict"] for r in csv.DictReader(f)}
    assert verdicts["3.2x faster inference"] == "not testable"

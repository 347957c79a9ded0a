"""Project discovery, interactive runs, and bad input caught before any kernel starts."""

import json

import pytest

from kdkit import cli
from kdkit.project import ProjectNotFound, find_project
from kdkit.report import Report


def test_project_is_found_from_a_subfolder(project, monkeypatch):
    monkeypatch.chdir(project / "notebooks")
    assert find_project() == project.resolve()
    assert cli.main(["run", "toy", "--no-progress"]) == 0
    assert (project / "reports" / "toy" / "metrics.json").exists()


def test_outside_a_project_is_one_sentence_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kdkit.project.is_project", lambda p: False)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdkit: not inside a kdkit project") and "--project" in err
    assert len(err.splitlines()) == 1


def test_project_option(project, tmp_path_factory, monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    assert cli.main(["--project", str(project), "run", "toy", "--no-progress"]) == 0
    assert (project / "reports" / "toy").exists() and not (elsewhere / "reports").exists()
    with pytest.raises(ProjectNotFound, match="needs notebooks/ and params/"):
        find_project(elsewhere)


def test_interactive_run_writes_to_scratch_with_run_json(project, capsys):
    r = Report(None, "toy", params={"value": 1.0})
    assert r.dir == project / "scratch" / "toy-interactive"
    assert "opened by hand: writing to" in capsys.readouterr().out
    run = json.loads((r.dir / "run.json").read_text())
    assert run["mode"] == "interactive" and run["params"] == {"value": 1.0}


@pytest.mark.parametrize("study,override,message", [
    ("bpr_kd", "datasets=[synthtic]", "datasets: unknown 'synthtic'"),
    ("topology_kd", "methods=[kd]", "methods: unknown bpr-batch method 'kd'"),
    ("cross_paradigm", "teachers=[xgboost]", "teachers: unknown ['xgboost']"),
    ("cross_paradigm", "replay_seeds=sometimes", "parameter 'replay_seeds' expects bool"),
    ("cross_paradigm", "transfer_federated_clients=[rf100, xgb]",
     "transfer_federated_clients: unknown or repeated ['xgb']; allowed: rf100, lr"),
    ("fisher_layerwise", "schemes=[fisherr]", "schemes: unknown ['fisherr']"),
    ("fisher_layerwise", "gammas=[0.1, 1.0, 2.0]", "student_dropouts must have as many"),
    ("geometric_kd", "students=[KD]", "students: unknown ['KD']"),
    ("topology_kd", "device=tpu", "device 'tpu' is not one of"),
])
def test_list_values_are_checked_before_the_kernel_starts(tmp_path, capsys, study, override,
                                                         message):
    assert cli.main(["run", study, "--smoke", "-p", override, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_typo_in_a_study_name_suggests_the_name(capsys):
    assert cli.main(["run", "bpr-kd", "--smoke"]) == 2
    assert "did you mean 'bpr_kd'?" in capsys.readouterr().err


def test_variant_runs_by_name_and_version(capsys):
    from kdkit import runner
    assert "fisher_layerwise-minilm" in runner.variants()
    study, pfile = runner.split_name("fisher_layerwise-minilm")
    assert study == "fisher_layerwise" and pfile.name == "fisher_layerwise-minilm.yaml"
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("kdkit ")

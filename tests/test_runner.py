"""The run contract on a toy study: validation, atomic reports, failures, exit codes."""

import json

import pytest

from kdkit import cli, runner
from kdkit import params as _params
from tests.helpers import write_notebook

BODY = """\
import pathlib
from kdkit.report import Report
from kdkit.claims import Claim
import pandas as pd
if fail:
    raise RuntimeError("toy failure")
r = Report(report_dir, "toy")
r.table(pd.DataFrame({"a": [value]}), "t")
r.metrics({"headline": {"value": value}})
r.claims([Claim("toy claim", "1", value, None, None, "supported")])
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    write_notebook(nbdir / "toy.ipynb", "value = 1.0\nfail = False\nreport_dir = None\n", BODY)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: nbdir)
    monkeypatch.setattr(runner, "params_dir", lambda: tmp_path / "params")
    return tmp_path


def run(*args):
    return cli.main(["run", *args, "--no-progress"])


def test_success_writes_contract_and_index(toy, capsys):
    out = toy / "reports"
    assert run("toy", "-p", "value=2.5", "--out", str(out)) == 0
    assert f"open {out / 'toy' / 'index.html'}" in capsys.readouterr().out  # the page to open
    rep = out / "toy"
    for f in ("metrics.json", "claims.csv", "run.json", "notebook.ipynb", "notebook.html",
              "tables/t.csv", "tables/t.md", "tables/claims.md"):
        assert (rep / f).exists(), f
    run_json = json.loads((rep / "run.json").read_text())
    assert run_json["status"] == "ok" and run_json["params"]["value"] == 2.5
    assert {"git_commit", "packages", "python", "start", "end", "duration_s", "looks", "cpu",
            "jobs", "job_cache_platform"} <= set(run_json)
    assert run_json["looks"][0]["n"] is None and run_json["looks"][0]["alpha"] == 0.05
    index = (out / "README.md").read_text()
    assert "[toy](toy/)" in index and "1 supported" in index
    page = (rep / "README.md").read_text()
    assert "toy claim" in page and (rep / "index.html").exists()
    assert "value" in (rep / "index.html").read_text()
    assert not list(out.glob(".toy.tmp-*"))
    assert rep.stat().st_mode & 0o777 == 0o755


def test_failed_run_keeps_previous_report(toy, capsys):
    out = toy / "reports"
    assert run("toy", "--out", str(out)) == 0
    before = (out / "toy" / "metrics.json").read_text()
    assert run("toy", "-p", "fail=true", "-p", "value=9", "--out", str(out)) == 1
    assert (out / "toy" / "metrics.json").read_text() == before
    assert (out / "toy.failed" / "notebook.ipynb").exists()
    assert "toy failure" in capsys.readouterr().out
    assert "last run failed" in (out / "README.md").read_text()
    assert run("toy", "--out", str(out)) == 0  # a later success clears the failure
    assert not (out / "toy.failed").exists()


@pytest.mark.parametrize("args,message", [
    (["-p", "no_such_key=1"], "unknown parameter 'no_such_key'"),
    (["-p", "value=abc"], "parameter 'value' expects float"),
    (["--params", "missing.yaml"], "params file not found"),
])
def test_bad_parameters_exit_2_and_write_nothing(toy, capsys, args, message):
    out = toy / "reports"
    assert run("toy", *args, "--out", str(out)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_study_exits_2(toy, capsys):
    assert run("nope", "--out", str(toy / "r")) == 2
    assert "unknown study 'nope' Available: toy" in capsys.readouterr().err


def test_list_shows_parameters(toy, capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    assert "toy" in text and "value" in text and "report_dir" not in text


def test_first_run_failure_is_listed_in_index(toy):
    out = toy / "reports"
    assert run("toy", "-p", "fail=true", "--out", str(out)) == 1
    index = (out / "README.md").read_text()
    assert "| toy | failed: RuntimeError: toy failure" in index


def test_smoke_and_params_together_is_a_usage_error(toy, capsys):
    (toy / "p.yaml").write_text("value: 3\n")
    assert run("toy", "--smoke", "--params", str(toy / "p.yaml"), "--out", str(toy / "r")) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_named_variant_writes_its_own_report(toy):
    """params/STUDY-VARIANT.yaml reports to STUDY-VARIANT/ and leaves STUDY/ untouched."""
    out = toy / "reports"
    (toy / "params").mkdir()
    (toy / "params" / "toy-long.yaml").write_text("value: 7.0\n")
    (toy / "params" / "other.yaml").write_text("value: 3.0\n")
    assert run("toy", "--out", str(out)) == 0
    assert run("toy", "--params", str(toy / "params" / "toy-long.yaml"), "--out", str(out)) == 0
    assert json.loads((out / "toy" / "metrics.json").read_text())["headline"]["value"] == 1.0
    variant = json.loads((out / "toy-long" / "run.json").read_text())
    assert variant["study"] == "toy" and variant["report"] == "toy-long"
    assert "[toy-long](toy-long/)" in (out / "README.md").read_text()
    # a params file not named after the study still reports to the study's folder
    assert run("toy", "--params", str(toy / "params" / "other.yaml"), "--out", str(out)) == 0
    assert json.loads((out / "toy" / "metrics.json").read_text())["headline"]["value"] == 3.0


def test_default_report_root_is_the_project_reports_whatever_the_cwd(tmp_path, monkeypatch):
    from kdkit import cli, runner
    seen = {}
    monkeypatch.setattr(runner, "main_run", lambda *a, **kw: seen.update(kw) or 0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KDKIT_PROJECT", str(runner.project_root()))
    assert cli.main(["run", "bpr_kd"]) == 0
    assert seen["out"] is None  # main_run then uses the project's reports/ (or scratch/)


SEQ_BODY = """\
import numpy as np
from kdkit.claims import paired_claim
from kdkit.report import Report
from kdkit.sequential import resolve_seeds
seed_list, plan = resolve_seeds(seeds)
r = Report(report_dir, "seq", smoke=False, primary=primary, plan=plan)
diff = np.array([np.random.default_rng(s).normal(effect, 1.0) for s in seed_list])
r.metrics({"n": len(seed_list)})
r.claims([paired_claim(diff, np.zeros_like(diff), ">", "an effect", key="effect")])
"""


def test_until_decided_adds_seeds_look_by_look(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    write_notebook(nbdir / "seq.ipynb", "from typing import Union\n"
                   "seeds: Union[list, dict] = [0, 1]\nprimary: list = []\n"
                   "effect = 0.0\nreport_dir = None\n", SEQ_BODY)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: nbdir)
    monkeypatch.setattr(runner, "params_dir", lambda: tmp_path / "params")
    out = tmp_path / "reports"
    plan = ["-p", "seeds={start: 5, step: 5, max: 15}", "-p", "primary=[effect]"]
    # a list of seeds cannot be extended: exit 2 before any kernel
    assert run("seq", "--until-decided", "-p", "primary=[effect]", "--out", str(out)) == 2
    assert not (out / "seq").exists()
    # no effect: every look runs, up to the plan's maximum
    assert run("seq", *plan, "--until-decided", "--out", str(out)) == 0
    assert json.loads((out / "seq" / "metrics.json").read_text())["n"] == 15
    note = (out / "seq" / "claims.csv").read_text()
    assert "look at 15 of 15 planned seeds" in note
    # every look is on the record: seeds, the α it spent, time, jobs, commit
    looks = json.loads((out / "seq" / "run.json").read_text())["looks"]
    assert [look["n"] for look in looks] == [5, 10, 15]
    assert looks[1]["seeds"] == list(range(10))
    assert sum(look["alpha"] for look in looks) == pytest.approx(0.05)
    assert all(look["duration_s"] > 0 and "git_commit" in look and look["jobs_computed"] == 0
               for look in looks)
    # a large effect is decided at the first look (5 seeds, α spent there 0.05 · 5/15)
    assert run("seq", *plan, "-p", "effect=5.0", "--until-decided", "--out", str(out)) == 0
    assert json.loads((out / "seq" / "metrics.json").read_text())["n"] == 5
    # a new first look starts the record anew
    assert [x["n"] for x in json.loads((out / "seq" / "run.json").read_text())["looks"]] == [5]
    assert "supported" in (out / "seq" / "claims.csv").read_text()


def test_all_with_names_is_a_usage_error(toy, capsys):
    assert run("--all", "toy", "--out", str(toy / "r")) == 2
    assert "cannot be combined with names (toy)" in capsys.readouterr().err
    assert not (toy / "r").exists()


def test_list_short_and_by_name(toy, capsys):
    assert cli.main(["list", "--short"]) == 0
    assert capsys.readouterr().out.strip() == "toy"
    assert cli.main(["list", "toy"]) == 0
    assert "value" in capsys.readouterr().out
    assert cli.main(["list", "nope"]) == 2


def test_negative_seed_exits_2_before_any_kernel(toy, capsys):
    write_notebook(toy / "notebooks" / "toy.ipynb",
                   "value = 1.0\nfail = False\nseeds = [0, 1]\nreport_dir = None\n", BODY)
    assert run("toy", "-p", "seeds=[0,-1]", "--out", str(toy / "r")) == 2
    assert "seeds must be integers ≥ 0; got [-1]" in capsys.readouterr().err
    assert not (toy / "r").exists()


def test_unreachable_scheduler_exits_2_before_any_kernel(toy, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_notebook(toy / "notebooks" / "toy.ipynb",
                   "value = 1.0\nfail = False\nscheduler = None\nreport_dir = None\n", BODY)
    assert run("toy", "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(toy / "r")) == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in \
        capsys.readouterr().err
    assert run("toy", "--scheduler", "nonsense", "--out", str(toy / "r")) == 2
    assert "not an address of the form tcp://HOST:PORT" in capsys.readouterr().err


def test_runs_with_overrides_or_fewer_seeds_write_next_to_the_report(toy, monkeypatch):
    """Into the project's reports/, a run that is not the study as committed goes to
    NAME-custom/ unless --replace; execution-only overrides (workers) do not count."""
    reports = toy / "reports"
    monkeypatch.setattr(runner, "reports_dir", lambda: reports)
    write_notebook(toy / "notebooks" / "toy.ipynb",
                   "value = 1.0\nfail = False\nseeds = [0, 1, 2]\nworkers = 1\n"
                   "data_dir = None\nreport_dir = None\n", BODY)

    def value(name):
        return json.loads((reports / name / "metrics.json").read_text())["headline"]["value"]

    assert run("toy") == 0 and value("toy") == 1.0
    assert run("toy", "-p", "value=2") == 0
    assert value("toy") == 1.0 and value("toy-custom") == 2.0
    assert run("toy", "-p", "workers=2") == 0
    assert json.loads((reports / "toy" / "run.json").read_text())["params"]["workers"] == 2
    (toy / "params").mkdir()
    (toy / "params" / "toy.yaml").write_text("seeds: [0]\nvalue: 5.0\n")
    assert run("toy") == 0
    assert value("toy") == 1.0 and value("toy-custom") == 5.0  # 1 seed < the report's 3
    assert run("toy", "-p", "value=3", "--replace") == 0 and value("toy") == 3.0
    assert "[toy](reports/toy/)" not in (runner.project_root() / "README.md").read_text()
    # the user's data is another study, unless the params file leaves data_dir to the user
    assert run("toy", "-p", "seeds=[0,1,2]", "-p", "data_dir=mine") == 0
    assert value("toy") == 3.0 and json.loads((reports / "toy-custom" / "run.json").read_text())[
        "params"]["data_dir"] == "mine"
    (toy / "params" / "toy.yaml").write_text("seeds: [0, 1, 2]\nvalue: 5.0\ndata_dir: null\n")
    assert run("toy", "-p", "data_dir=split") == 0 and value("toy") == 5.0
    assert run("toy") == 2  # such a variant does not run on some default data instead


def test_ctrl_c_exits_130_with_one_line(project):
    """SIGINT during a run: exit 130, one line saying what was kept, no traceback (the kernel's
    own stderr goes to a log that only a failed run keeps)."""
    import signal
    import subprocess
    import sys
    import time

    marker = project / "kernel-started"
    proc = subprocess.Popen([sys.executable, "-m", "kdkit.cli", "run", "toy", "-p", "sleep=60",
                             "-p", f"marker={marker}", "--no-progress", "--replace"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not marker.exists():
        time.sleep(0.2)  # the kernel runs the notebook's cell (however loaded the machine)
    assert marker.exists(), "the kernel never started"
    time.sleep(1)  # now in the 60 s sleep
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out.strip().splitlines()[-1] == \
        "[kdkit] toy: interrupted (SIGINT); no report was written"
    assert "Traceback" not in err and "ZMQError" not in err
    assert not (project / "reports" / "toy").exists()


@pytest.mark.parametrize("name", runner.studies() + runner.variants())
def test_committed_params_plan_a_full_run(name):
    """``make reports`` (``kdkit run --all``) and each variant's documented command plan from
    the project's committed params files; only a variant whose file leaves its data to the user
    asks for it. Seen: geometric_kd.yaml's ``data_dir: null`` made ``kdkit run --all`` exit 2."""
    needs_data = runner.user_data_keys(runner.split_name(name)[1])
    if needs_data:
        with pytest.raises(_params.ParamError, match="runs on data you pass"):
            runner.plan_runs([name], params_file=None, smoke=False, overrides=[])
        assert name == "topology_kd-citeulike"  # the one variant on the user's data
        return
    (plan,) = runner.plan_runs([name], params_file=None, smoke=False, overrides=["cache=true"])
    assert plan.mode == "full" and plan.source.startswith("params/")
    if name in runner.studies():  # make reports: --until-decided needs a seed plan and primaries
        runner.check_until_decided([plan])


def test_ctrl_c_in_a_terminal_during_dask_jobs_prints_one_line_and_leaves_no_lock(project):
    """kdkit issue 38: Ctrl-C in a terminal (SIGINT to the whole process group: the CLI, the
    kernel, the Dask workers) printed 100+ lines of "Task exception was never retrieved" and
    left reports/.NAME.lock behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    write_notebook(project / "notebooks" / "dasky.ipynb", "marker = None\nsmoke = True\n"
                   "report_dir = None\n",
                   "import time\nfrom kdkit.jobs import Job, Runner\nopen(marker, 'w').close()\n"
                   "with Runner(workers=2, progress=False) as r:\n"
                   "    r.run([Job(time.sleep, (60,)), Job(time.sleep, (60,))])\n")
    marker = project / "kernel-started"
    proc = subprocess.Popen([sys.executable, "-m", "kdkit.cli", "run", "dasky", "-p",
                             f"marker={marker}", "--no-progress", "--replace"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not marker.exists():
        time.sleep(0.2)
    assert marker.exists(), "the kernel never started"
    time.sleep(6)  # the workers are up and sleeping
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130
    lines = out.strip().splitlines()
    assert lines[-1] == "[kdkit] dasky: interrupted (SIGINT); no report was written"
    assert err.strip() == ""
    assert sorted(p.name for p in (project / "reports").iterdir()) == []  # no lock, no temp


def test_readme_times_show_each_plans_looks_and_total(tmp_path):
    from kdkit.site import times_table
    rep = tmp_path / "study"
    rep.mkdir()
    looks = [{"n": 6, "duration_s": 600.0, "jobs_computed": 40, "jobs_cached": 0},
             {"n": 10, "duration_s": 300.0, "jobs_computed": 20, "jobs_cached": 40}]
    (rep / "run.json").write_text(json.dumps({
        "mode": "full", "status": "ok", "seeds": {"start": 6, "step": 4, "max": 14, "n": 10},
        "duration_s": 300.0, "git_commit": "abcdef0123", "start": "2026-12-04T17:00:00",
        "looks": looks}))
    row = times_table(tmp_path).splitlines()[-1]
    assert "2 (6, 10 seeds), 15.0 min" in row and "60 / 40" in row and "| 5.0 min |" in row


def test_the_guides_variant_inherits_the_full_study(tmp_path, monkeypatch):
    """kdkit issue 38: docs/auditing-a-kd-claim.md's params/topology_kd-mine.yaml (only methods
    and primary) ran with the notebook's smoke defaults (seeds [0, 1], dim 8, 6 epochs, no
    grid), so its primary claims at dim 4 could never be produced."""
    import re
    import shutil
    from pathlib import Path

    import plugins
    root = Path(runner.__file__).resolve().parent.parent
    guide = (root / "docs" / "auditing-a-kd-claim.md").read_text()
    block = re.search(r"```yaml\n# params/topology_kd-mine.yaml\n(.*?)```", guide, re.S).group(1)
    params = tmp_path / "params"
    params.mkdir()
    shutil.copy(root / "params" / "topology_kd.yaml", params)
    (params / "topology_kd-mine.yaml").write_text(block)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "my_loss.py").write_text(
        "def my_loss(teacher, student_dim, protocol, seed):\n    raise NotImplementedError\n"
        "my_loss.label = 'My loss'\n")
    monkeypatch.setattr(plugins, "__path__", [*plugins.__path__, str(tmp_path / "plugins")])
    monkeypatch.setattr(runner, "params_dir", lambda: params)
    plan = runner.plan_runs(["topology_kd-mine"], params_file=None, smoke=False,
                            overrides=[])[0]
    full = _params.load_yaml(params / "topology_kd.yaml")
    for key in ("seeds", "student_dims", "epochs", "grid", "tune_dim", "delta", "patience"):
        assert plan.values[key] == full[key], key
    assert plan.values["methods"][-1] == "plugins.my_loss:my_loss"
    assert plan.values["primary"] == ["plugins.my_loss:my_loss>student@4",
                                      "plugins.my_loss:my_loss>htd@4"]
    assert 4 in plan.values["student_dims"]  # the declared primaries' size is run
    assert plan.name == "topology_kd-mine"


def test_list_of_a_variant_shows_the_values_it_runs_with(capsys):
    assert cli.main(["list", "topology_kd-citeulike"]) == 0
    out = capsys.readouterr().out
    assert "params/topology_kd.yaml < params/topology_kd-citeulike.yaml" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("patience"))
    assert "full=" in line  # inherited from the study's full params, shown


def test_readme_names_every_variant_and_stays_short():
    from pathlib import Path
    readme = (Path(runner.__file__).resolve().parent.parent / "README.md").read_text()
    missing = [v for v in runner.variants() if f"`{v}`" not in readme]
    assert not missing, f"README does not list {missing}"
    assert len(readme.encode()) <= 12_000


def test_a_declared_primary_the_params_cannot_produce_is_refused_before_the_run():
    """kdkit issue 38: a declared primary at a size the run does not train (htd>ftd@4 with
    student_dims [8]) came out "not testable" after the whole run, exit 0; now the run is
    refused before any kernel starts, naming the ids the params do produce."""
    with pytest.raises(_params.ParamError) as e:
        runner.plan_runs(["topology_kd"], params_file=None, smoke=False,
                         overrides=["student_dims=[8]", "tune_dim=8"])
    msg = str(e.value)
    assert "'htd>ftd@4'" in msg and "'htd>student@4'" in msg
    assert "htd>ftd@8" in msg and "ftd>student@8" in msg  # what it can produce
    # a data set the run does not have: bpr_kd's primaries name /synthetic
    with pytest.raises(_params.ParamError, match="kd_margin\\(a=0.3\\)<student@8/synthetic"):
        runner.plan_runs(["bpr_kd"], params_file=None, smoke=False,
                         overrides=["datasets=[ml-100k]"])
    # a generic id (no data set) matches the one data set the run has; own data by its stem
    plan = runner.plan_runs(["bpr_kd"], params_file=None, smoke=False, overrides=[
        "datasets=[ml-100k]", "primary=['kd_margin(a=0.3)<student@8', 'rd>controls@8']"])[0]
    assert plan.values["datasets"] == ["ml-100k"]


def test_claim_ids_list_what_the_claims_table_produces():
    """The ids ``claim_ids`` promises are the ids the claims functions write (bpr_kd on a tiny
    hand-made results table), so the refusal above never refuses a producible claim."""
    import pandas as pd

    from kdkit.studies import bpr_kd
    arms = ["teacher", "student", "kd_margin", "kd_sigmoid", "rd", "kd_margin (α 0.3)",
            *[f"{m} / {c} teacher" for m in ("kd_margin", "kd_sigmoid", "rd")
              for c in ("born-again", "shuffled")]]
    rows = [{"dataset": "synthetic", "seed": s, "arm": a, "dim": 64 if a == "teacher" else 8,
             "params": 1, "Recall@10": 0.2 + 0.01 * s + 0.001 * i, "NDCG@10": 0.1 + 0.01 * s,
             "MRR": 0.1, "HR@10": 0.3, "gate NDCG@10": 0.1 + (0.05 if a == "teacher" else 0),
             "gate Recall@10": 0.2} for s in range(3) for i, a in enumerate(arms)]
    lat = pd.DataFrame(columns=["dataset", "seed", "arm", "latency_ms"])
    p = {"datasets": ["synthetic"], "student_dims": [8], "methods": list(bpr_kd.KD_METHODS),
         "controls": list(bpr_kd.CONTROLS), "doses": {"kd_margin": [0.3]}}
    made = {c.id for c in bpr_kd.claims(pd.DataFrame(rows), lat, teacher_dim=64, dims=[8],
                                        doses=p["doses"]) if c.family != "descriptive"}
    assert made == set(bpr_kd.claim_ids(p))


def test_a_seed_plan_that_cannot_detect_delta_is_refused():
    """kdkit issue 39: plans were sized by budget (topology_kd-rrd: max 8 seeds, 34-38 needed).
    A plan that declares its pilot SD must detect δ with 80 % power at its last look."""
    small = "seeds={start: 10, step: 10, max: 40, first: 100, sd: 0.0065}"
    with pytest.raises(_params.ParamError, match="raise max to 79"):
        runner.plan_runs(["bpr_kd"], params_file=None, smoke=False, overrides=[small])
    plan = runner.plan_runs(["bpr_kd"], params_file=None, smoke=False, overrides=[
        small.replace("max: 40", "max: 79")])[0]
    from kdkit.sequential import resolve_seeds
    assert resolve_seeds(plan.values["seeds"])[0] == list(range(100, 110))

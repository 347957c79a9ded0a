"""Nothing overwrites a full report but a full run; failures and interruptions keep it."""

import json
import os
import signal
import subprocess
import sys
import time

from kdkit import cli


def run(*args):
    # --replace: these runs override parameters on purpose and mean to write reports/toy/
    # (without it they would go to reports/toy-custom/, tests/test_runner.py)
    return cli.main(["run", *args, "--no-progress", "--replace"])


def test_smoke_run_writes_to_scratch_and_never_touches_the_full_report(project, capsys):
    assert run("toy", "-p", "value=2.0") == 0
    full = (project / "reports" / "toy" / "metrics.json").read_text()
    assert json.loads((project / "reports" / "toy" / "run.json").read_text())["mode"] == "full"
    assert run("toy", "--smoke") == 0
    out = capsys.readouterr().out
    assert "writing to" in out and "scratch" in out
    assert (project / "reports" / "toy" / "metrics.json").read_text() == full
    smoke_run = json.loads((project / "scratch" / "toy" / "run.json").read_text())
    assert smoke_run["mode"] == "smoke"
    assert "smoke run: not evidence" in (project / "scratch" / "README.md").read_text()


def test_smoke_run_into_a_full_report_needs_the_flag(project, capsys):
    assert run("toy") == 0
    full = (project / "reports" / "toy" / "metrics.json").read_text()
    assert run("toy", "--smoke", "--out", str(project / "reports")) == 1
    assert "holds a full report" in capsys.readouterr().out
    assert (project / "reports" / "toy" / "metrics.json").read_text() == full
    assert run("toy", "--smoke", "--out", str(project / "reports"),
               "--replace-full-report") == 0


def test_first_failure_does_not_claim_a_previous_report(project, capsys):
    assert run("toy", "-p", "fail=true") == 1
    out = capsys.readouterr().out
    assert "no report was written" in out and "previous report" not in out
    assert run("toy") == 0
    assert run("toy", "-p", "fail=true") == 1
    assert "the previous report is kept" in capsys.readouterr().out


def test_bad_parameter_writes_nothing(project, capsys):
    assert run("toy", "-p", "value=abc") == 2
    assert "parameter 'value' expects float" in capsys.readouterr().err
    assert not (project / "reports").exists()


def _start(project, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "kdkit.cli", "run", "toy", "--no-progress",
                             "--replace", *args], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_sigterm_mid_run_leaves_no_half_written_report(project):
    assert run("toy", "-p", "value=3.0") == 0
    before = (project / "reports" / "toy" / "metrics.json").read_text()
    proc = _start(project, "-p", "sleep=30", "-p", "value=9.0")
    deadline = time.time() + 60
    while not list((project / "reports").glob(".toy.tmp-*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out and "the previous report is kept" in out
    assert not list((project / "reports").glob(".toy.tmp-*"))
    assert (project / "reports" / "toy" / "metrics.json").read_text() == before


def test_leftover_temporary_folder_of_a_dead_run_is_removed(project):
    (project / "reports").mkdir()
    dead = project / "reports" / ".toy.tmp-999999-abc"
    dead.mkdir()
    (dead / "metrics.json").write_text("{}")
    assert run("toy") == 0
    assert not dead.exists()


def test_a_second_run_of_the_same_report_waits(project):
    first = _start(project, "-p", "sleep=6", "-p", "value=1.0")
    deadline = time.time() + 60
    while not (project / "reports" / ".toy.lock").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    second = _start(project, "-p", "value=2.0")
    out2, _ = second.communicate(timeout=120)
    out1, _ = first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, out1 + out2
    assert "waiting for it to finish" in out2
    metrics = json.loads((project / "reports" / "toy" / "metrics.json").read_text())
    assert metrics["headline"]["value"] == 2.0  # the second run's report, whole
    assert not list((project / "reports").glob(".toy.tmp-*"))

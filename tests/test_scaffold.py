"""`kdkit new`: a study that runs as written — its own test passes, `kdkit run` makes a page —
and bad names or taken places write nothing."""

import json
import subprocess
import sys

import pytest

from kdkit import cli


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KDKIT_PROJECT", raising=False)
    return tmp_path


def test_new_study_runs_and_its_test_passes(fresh, capsys):
    assert cli.main(["new", "my_audit"]) == 0
    out = capsys.readouterr().out
    for f in ("notebooks/my_audit.ipynb", "studies/my_audit.py", "params/my_audit.yaml",
              "tests/test_my_audit_study.py"):
        assert (fresh / f).exists() and f"wrote {f}" in out
    nb = json.loads((fresh / "notebooks" / "my_audit.ipynb").read_text())
    assert nb["cells"][1]["metadata"]["tags"] == ["parameters"]
    assert not any(c.get("outputs") for c in nb["cells"])
    # the scaffold's own test passes as written
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_my_audit_study.py"], cwd=fresh, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # and `kdkit run --smoke` writes a report page with the design's claims
    assert cli.main(["run", "my_audit", "--smoke", "--no-progress"]) == 0
    rep = fresh / "scratch" / "my_audit"
    assert (rep / "index.html").exists() and (rep / "figures" / "arms.png").exists()
    claims = (rep / "claims.csv").read_text()
    for key in ("teacher>alone", "kd>alone", "kd>self", "kd/oracle"):
        assert key in claims
    assert "my_audit" in (fresh / "scratch" / "index.html").read_text()
    # the full params pass the checks before any kernel (a bad grid does not)
    assert cli.main(["run", "my_audit", "-p", "plain_grid=[]", "--out", str(fresh / "r"),
                     "--no-progress"]) == 2
    assert "plain_grid must list at least one configuration" in capsys.readouterr().err


@pytest.mark.parametrize("name,message", [("My-Study", "lowercase Python identifier"),
                                          ("class", "lowercase Python identifier")])
def test_bad_names_write_nothing(fresh, capsys, name, message):
    assert cli.main(["new", name]) == 2
    assert message in capsys.readouterr().err
    assert not (fresh / "studies").exists() and not list((fresh / "notebooks").iterdir())


def test_a_taken_name_or_file_writes_nothing(fresh, capsys):
    assert cli.main(["new", "twice"]) == 0
    before = (fresh / "studies" / "twice.py").read_text()
    (fresh / "studies" / "twice.py").write_text(before + "# edited\n")
    assert cli.main(["new", "twice"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (fresh / "studies" / "twice.py").read_text().endswith("# edited\n")
    assert cli.main(["new", "other", "--like", "bpr_kd"]) == 2
    assert "allowed: transfer" in capsys.readouterr().err

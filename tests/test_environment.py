"""environment.yml (for conda users) lists the same requirements as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {d.replace(" ", "") for d in conda + pip if not d.startswith(("python", "pip", "-e"))}
    assert {_name(r) for r in listed} == {_name(r) for r in wanted}
    assert {r.replace(" ", "") for r in listed} == {r.replace(" ", "") for r in wanted}, \
        "version bounds differ between environment.yml and pyproject.toml"

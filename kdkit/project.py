"""Where the project is: the folder that holds ``notebooks/`` and ``params/``.

kdkit finds it from ``--project DIR``, else ``$KDKIT_PROJECT``, else by walking up from the
current directory, else (an editable install) next to the package. Reports, params and
notebooks are always read and written there, never inside an installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ENV = "KDKIT_PROJECT"


class ProjectNotFound(ValueError):
    """No kdkit project (a folder with notebooks/ and params/) was found."""


def is_project(path: Path) -> bool:
    return (path / "notebooks").is_dir() and (path / "params").is_dir()


def find_project(start: str | Path | None = None, *, required: bool = True) -> Path | None:
    """The project folder (see the module docstring); ``None`` or :class:`ProjectNotFound`
    when there is none."""
    explicit = start if start is not None else os.environ.get(PROJECT_ENV)
    if explicit:
        p = Path(explicit).expanduser().resolve()
        if is_project(p):
            return p
        if required:
            raise ProjectNotFound(f"{p} is not a kdkit project (it needs notebooks/ and "
                                  "params/ folders)")
        return None
    for p in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        if is_project(p):
            return p
    beside = Path(__file__).resolve().parent.parent  # an editable install in a checkout
    if is_project(beside):
        return beside
    if required:
        raise ProjectNotFound("not inside a kdkit project: run kdkit from the checkout (a "
                              "folder with notebooks/ and params/) or pass --project DIR")
    return None


def import_study(study: str):
    """The module of a study: ``kdkit.studies.STUDY`` for the built-in ones, else
    ``studies/STUDY.py`` in the project (where ``kdkit new`` writes a user's study)."""
    import importlib
    import importlib.util
    import sys

    try:
        return importlib.import_module(f"kdkit.studies.{study}")
    except ModuleNotFoundError as e:
        if e.name != f"kdkit.studies.{study}":
            raise
    path = find_project() / "studies" / f"{study}.py"
    if not path.exists():
        raise ModuleNotFoundError(f"no study module for '{study}': neither kdkit.studies."
                                  f"{study} nor {path}", name=f"studies.{study}")
    name = f"kdkit_user_studies.{study}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

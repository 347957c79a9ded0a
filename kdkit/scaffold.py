"""``kdkit new STUDY``: a working study to edit into an audit of your own KD claim.

It writes four files, each a working starting point that follows the contract every kdkit study
follows (parameters, report files, claim families, δ, gates, controls, sequential seeds):

* ``notebooks/STUDY.ipynb``: the narrative — a parameters cell with CI-sized defaults, then
  short cells that call the study module, a figure, a table, the claims;
* ``studies/STUDY.py`` (in the project; ``kdkit.studies.STUDY`` is the built-in ones' place):
  the design — data, teacher and student, arms as jobs on equal grids, gates and claims
  (:mod:`kdkit.transfer_set`);
* ``params/STUDY.yaml``: the full study — primary claims and δ declared before the run, a
  seed plan;
* ``tests/test_STUDY_study.py``: the design's promises on a tiny run (``make test`` runs it).

Nothing is written when any of them exists already, or the name is not a lowercase Python
identifier, or a study of that name exists.
"""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path

from jinja2 import Environment, PackageLoader

LIKE = ("transfer",)   # the designs a new study can start from

_NOTEBOOK = [
    ("markdown", "# {title}\n\n"
     "**Question.** Does a teacher's knowledge, distilled on unlabelled transfer rows, improve a "
     "small student beyond what the extra rows give by themselves?\n\n"
     "Scaffolded by `kdkit new {name}`: replace the data, models and grids in "
     "`studies/{name}.py` and `params/{name}.yaml` with your own; the design, the gates and the "
     "claims table come with it. The guide: [Auditing a new KD claim](../docs/auditing-a-kd-claim.md)."),
    ("parameters", "from typing import Optional, Union\n\n"
     "seeds: Union[list, dict] = [0, 1]  # seed list, or a plan {{start: 10, step: 5, max: 20}}\n"
     "primary: list = [\"kd>alone\", \"kd>self\"]  # ids of the primary claims, declared before the run\n"
     "delta: dict = {{\"accuracy\": {{\"value\": 0.01, \"why\": \"one accuracy point\"}}}}  # smallest effect of interest\n"
     "rows: dict = {{\"train\": 60, \"valid\": 60, \"gate\": 60, \"transfer\": 300, \"test\": 300}}  # rows per part\n"
     "n_features = 8  # features of the synthetic task\n"
     "n_classes = 3  # classes of the synthetic task\n"
     "teacher_grid: list = [{{\"trees\": 30, \"leaf\": 1}}]  # teacher configurations (chosen on validation)\n"
     "kd_grid: list = [{{\"alpha\": 0.5, \"temperature\": 2.0, \"lr\": 0.01}}]  # KD and self-training configurations\n"
     "plain_grid: list = [{{\"lr\": 0.01}}]  # student alone and oracle configurations (as many as kd_grid)\n"
     "hidden = 8  # hidden units of the student (0: logistic regression)\n"
     "epochs = 3  # epochs on labelled + transfer rows (the arms without transfer rows: the same steps)\n"
     "threads = 1  # torch threads\n"
     "workers = 1  # > 1: jobs on a local Dask cluster of that many processes\n"
     "scheduler: Optional[str] = None  # address of an existing Dask cluster (tcp://host:port)\n"
     "cache = False  # reuse cached job results (kdkit.jobs)\n"
     "smoke = True  # set by `kdkit run` (True: CI-sized defaults, verdicts are not evidence)\n"
     "report_dir = None  # set by `kdkit run` (None: scratch/{name}-interactive)"),
    ("code", "from kdkit import plots\n"
     "from kdkit.notebook import setup, teardown\n"
     "from kdkit.project import import_study\n\n"
     "st = import_study(\"{name}\")\n"
     "report, p, jobs = setup(\"{name}\", globals())\n"
     "report.describe(title=st.TITLE, question=st.QUESTION)"),
    ("markdown", "## Every arm, every seed\n"
     "Per seed: the data, the teacher (its grid chosen on validation), then the student alone, "
     "KD on the transfer set, the self-training control and the oracle, each on a grid of the "
     "same size; gate rows judge the preconditions, test rows are read once."),
    ("code", "rows = st.run(p, jobs)\n"
     "report.table(rows, \"per_seed\", caption=\"every arm on every seed\")\n"
     "s = st.summary(rows)\n"
     "report.table(s, \"arms\", caption=\"test accuracy, mean and 95 % CI over seeds\", show=True)\n"
     "fig = plots.dots_ci(s, label=\"label\", value=\"test\", xlabel=\"test accuracy\",\n"
     "                    title=f\"arms over {{len(seeds)}} seeds\")\n"
     "report.figure(fig, \"arms\", caption=\"test accuracy of every arm (mean ± 95 % CI over seeds)\")"),
    ("markdown", "## Claims\n"
     "Paired over seeds; Holm within each family (the primary claims are declared in `primary` "
     "before the run); δ gives the equivalence test and the power columns. KD claims are judged "
     "only when the teacher beats the student alone on the gate rows, and KD against "
     "self-training only when the control is sound."),
    ("code", "report.claims(st.claims(rows, p));"),
    ("code", "report.metrics({{\"test accuracy\": rows.groupby(\"arm\")[\"test\"].mean().to_dict()}})\n"
     "print(report.headline(st.headline(rows)))\n"
     "teardown(jobs)"),
]


class ScaffoldError(ValueError):
    """A name or place ``kdkit new`` cannot use; nothing was written."""


def targets(project: Path, name: str) -> dict[str, Path]:
    return {"notebook": project / "notebooks" / f"{name}.ipynb",
            "module": project / "studies" / f"{name}.py",
            "params": project / "params" / f"{name}.yaml",
            "test": project / "tests" / f"test_{name}_study.py"}


def notebook(name: str, title: str) -> dict:
    """The study's notebook (nbformat 4, no outputs)."""
    cells = []
    for i, (kind, text) in enumerate(_NOTEBOOK):
        source = text.format(name=name, title=title)
        cell = {"cell_type": "markdown" if kind == "markdown" else "code",
                "id": f"{name[:20]}-{i}", "metadata": {},
                "source": source.splitlines(keepends=True)}
        if kind != "markdown":
            cell.update(execution_count=None, outputs=[])
        if kind == "parameters":
            cell["metadata"] = {"tags": ["parameters"]}
        cells.append(cell)
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                                        "language": "python", "name": "python3"},
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def new_study(project: Path, name: str, like: str = "transfer",
              existing: list[str] = ()) -> dict[str, Path]:
    """Write the four files of study ``name`` into ``project``; return their paths."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ScaffoldError(f"study name {name!r} must be a lowercase Python identifier "
                            "(letters, digits, underscores; e.g. my_kd_audit)")
    if like not in LIKE:
        raise ScaffoldError(f"--like {like!r} is not a design kdkit new knows; allowed: "
                            + ", ".join(LIKE))
    if name in existing:
        raise ScaffoldError(f"a study named {name!r} exists already; pick another name")
    paths = targets(Path(project), name)
    taken = [str(p) for p in paths.values() if p.exists()]
    if taken:
        raise ScaffoldError(f"{', '.join(taken)} exist(s) already; nothing was written")
    title = name.replace("_", " ").capitalize() + ": KD on a transfer set"
    env = Environment(loader=PackageLoader("kdkit", "templates/new"), keep_trailing_newline=True)
    texts = {"module": env.get_template("study.py.j2").render(name=name, title=title),
             "params": env.get_template("params.yaml.j2").render(name=name),
             "test": env.get_template("test.py.j2").render(name=name),
             "notebook": json.dumps(notebook(name, title), indent=1, ensure_ascii=False) + "\n"}
    for key, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[key])
    return paths

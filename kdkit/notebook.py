"""What every study notebook does first: ``report, p, jobs = setup("STUDY", globals())``.

It sets torch's thread count, turns a seed plan (``seeds: {start, step, max}``,
:mod:`kdkit.sequential`) into this look's seed list, opens the :class:`~kdkit.report.Report`
(a scratch folder for a notebook opened by hand, which it names), collects the notebook's
parameters into ``p``, checks them with the study's own rules (one clear message for a bad
value, as ``kdkit run`` gives), and starts the job runner (``kdkit.jobs``: in-process, or Dask
with ``workers`` > 1 or a ``scheduler``). ``teardown(jobs)`` at the end shuts a local cluster
down.
"""

from __future__ import annotations

from .jobs import Runner
from .params import notebook_values
from .project import find_project, import_study
from .report import Report


def setup(study: str, namespace: dict):
    import torch

    torch.set_num_threads(int(namespace.get("threads", 1)))
    report = Report.for_notebook(study, namespace)
    if isinstance(namespace.get("seeds"), dict):  # a seed plan: this look's seeds
        from .sequential import resolve_seeds

        namespace["seeds"], plan = resolve_seeds(namespace["seeds"])
        print(f"[kdkit] sequential seeds: this look runs {len(namespace['seeds'])} of at most "
              f"{plan.max} seeds (α spent here {plan.alpha(len(namespace['seeds'])):.4g})")
    p = notebook_values(find_project() / "notebooks" / f"{study}.ipynb", namespace)
    check = getattr(import_study(study), "check_params", None)
    if check is not None:
        check(p)
    jobs = Runner(workers=p.get("workers", 1), scheduler=p.get("scheduler"),
                  cache=p.get("cache", False), threads=p.get("threads", 1),
                  progress=p.get("progress", True))
    if jobs.kind != "in-process":
        print(f"[kdkit] jobs run on {jobs.kind}")
    return report, p, jobs


def teardown(jobs: Runner) -> None:
    jobs.close()


def explored(result: dict, *, alone_key: str | None = None):
    """An explorer's result as a table: one row per model with its score, and the difference
    from the student alone (the row whose name starts with ``alone_key``, default the first)."""
    import pandas as pd

    t = pd.Series(result, dtype=float).rename("score").to_frame()
    base = next((k for k in t.index if alone_key and str(k).startswith(alone_key)),
                t.index[0])
    t["vs the student alone"] = t["score"] - t.loc[base, "score"]
    return t.style.format("{:+.4f}", subset=["vs the student alone"]).format(
        "{:.4f}", subset=["score"])


def busy(text: str) -> None:
    """Say that an explorer is training (its output area is cleared when the result comes)."""
    from IPython.display import clear_output

    clear_output(wait=True)
    print(f"⏳ {text} …", flush=True)


def done(table) -> None:
    """Replace the busy line with the explorer's table."""
    from IPython.display import clear_output, display

    clear_output(wait=True)
    display(table)

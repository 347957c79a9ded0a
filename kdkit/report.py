"""Report files a notebook writes: figures, tables, metrics, the claims table and its page.

The report contract (README, "Reports"): ``metrics.json``, ``claims.csv``, ``figures/*.png``
(+ ``.pdf``), ``tables/*.csv`` + ``.md`` (+ ``.tex`` for the main results and the claims) and
``page.json`` (the question, the source, the headline and every caption, read by the site);
``kdkit run`` adds ``run.json`` and the executed notebook. A notebook opened by hand (no
``report_dir`` injected) writes to ``scratch/STUDY-interactive/`` (git-ignored) with its own
``run.json``, so exploring never overwrites a committed report; it says where it writes.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import subprocess
from importlib import metadata
from pathlib import Path

from .claims import CLAIM_COLUMNS, MIN_SEEDS, Claim, finalize

SMOKE_BANNER = ("Smoke run: CI-sized parameters (few seeds, short training). The verdicts below "
                "are not evidence; `kdkit run STUDY` runs the full study.")
VERDICT_COLORS = {"supported": "#d9f0d3", "not supported": "#f6d5d5",
                  "inconclusive": "#fff2cc", "not testable": "#e8e8e8"}


def project_root() -> Path:
    """The project this report belongs to (``kdkit.project.find_project``)."""
    from .project import find_project

    return find_project()


def _clean(obj):
    """Make ``obj`` JSON-safe: numpy scalars to Python, NaN/inf refused."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("metrics must be finite numbers (no NaN or inf)")
        return round(obj, 6)
    return obj


def _display(obj):
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - ipykernel is a dependency
        return
    if get_ipython() is not None:
        display(obj)


class Report:
    """Writes one study's report files into ``report_dir``."""

    def __init__(self, report_dir: str | Path | None, study: str, *, smoke: bool = False,
                 min_seeds: int = MIN_SEEDS, params: dict | None = None, primary=(),
                 plan=None):
        self.interactive = report_dir is None
        self.primary, self.plan, self.look = list(primary or ()), plan, None
        if self.interactive:
            report_dir = project_root() / "scratch" / f"{study}-interactive"
        self.dir = Path(report_dir)
        self.study = study
        self.smoke, self.min_seeds = smoke, min_seeds
        (self.dir / "figures").mkdir(parents=True, exist_ok=True)
        (self.dir / "tables").mkdir(parents=True, exist_ok=True)
        self._metrics: dict = {}
        self._page: dict = {"study": study, "figures": [], "tables": []}
        if self.interactive:
            self._write_interactive_run(params or {})
            print(f"[kdkit] opened by hand: writing to {self.dir} (a git-ignored scratch "
                  f"folder; `kdkit run {study}` writes the report)")

    @classmethod
    def for_notebook(cls, study: str, namespace: dict) -> Report:
        """The report of a study notebook, from its parameters in ``namespace``
        (``globals()``): ``report_dir`` and ``smoke`` (set by ``kdkit run``) and, for a
        notebook opened by hand, every parameter for its ``run.json``."""
        from .sequential import SeedPlan

        params = {}
        if namespace.get("report_dir") is None:
            from .params import notebook_values

            params = notebook_values(project_root() / "notebooks" / f"{study}.ipynb", namespace)
        seeds = namespace.get("seeds")
        plan = SeedPlan.from_param(seeds)
        report = cls(namespace.get("report_dir"), study, smoke=bool(namespace.get("smoke", True)),
                     params=params, primary=namespace.get("primary") or (), plan=plan)
        report.look = int(seeds.get("n", plan.start)) if plan else None
        return report

    def _write_interactive_run(self, params: dict) -> None:
        commit, dirty = git_state()
        run = {"study": self.study, "report": self.dir.name, "mode": "interactive",
               "status": "running", "params": params, "git_commit": commit,
               "git_dirty": dirty,
               "start": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        (self.dir / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")

    # ------------------------------------------------------------------ the page
    def describe(self, *, title: str, question: str, source: str = "", source_url: str = ""):
        """What the study asks and which published work it questions (for its page)."""
        self._page.update(title=title, question=question, source=source,
                          source_url=source_url)
        self._write_page()

    def source_regime(self, report: str, label: str):
        """Name the report of this project that runs the source's own setting (its data and
        protocol) — e.g. topology_kd's on the paper's CiteULike split: this page then states
        that report's answer first (the site reads it from that report's claims, so the two
        pages cannot disagree), and its own answer second."""
        self._page["source_regime"] = {"report": report, "label": label}
        self._write_page()

    def headline(self, sentence: str):
        """One sentence that says what this run found (computed from the results)."""
        self._page["headline"] = sentence
        self._write_page()
        return sentence

    def _write_page(self):
        (self.dir / "page.json").write_text(json.dumps(self._page, indent=2) + "\n")

    # ------------------------------------------------------------------ files
    def figure(self, fig, name: str, caption: str = ""):
        """Save ``fig`` as ``figures/NAME.png`` (pages) and ``.pdf`` (papers), show it once
        and close it. :mod:`kdkit.figure_check` looks at it first: each problem found
        (unreadable text, a colour scale set by one outlier, categories joined as numbers) is
        printed and listed under the figure on the page."""
        import matplotlib.pyplot as plt

        from .figure_check import problems

        found = problems(fig)
        for msg in found:
            print(f"[kdkit] figure {name}: {msg}")
        for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None,
                                                                "Producer": None})):
            fig.savefig(self.dir / "figures" / f"{name}.{ext}", bbox_inches="tight",
                        metadata=meta)
        self._page["figures"] = [f for f in self._page["figures"] if f["name"] != name]
        self._page["figures"].append({"name": name, "file": f"figures/{name}.png",
                                      "caption": caption, "problems": found})
        self._write_page()
        _display(fig)
        plt.close(fig)

    def table(self, df, name: str, floatfmt: str = ".4f", *, caption: str = "",
              tex: bool = False, show: bool = False):
        """Save a DataFrame as ``tables/NAME.csv`` and ``.md`` (and booktabs ``.tex`` with
        ``tex``); return it. Missing values are written as empty cells."""
        df.to_csv(self.dir / "tables" / f"{name}.csv", index=False, float_format="%.6g")
        shown = df.astype(object).where(df.notna(), "")
        md = shown.to_markdown(index=False, floatfmt=floatfmt)
        (self.dir / "tables" / f"{name}.md").write_text(md + "\n")
        if tex:
            (self.dir / "tables" / f"{name}.tex").write_text(to_latex(df, floatfmt, caption))
        self._page["tables"] = [t for t in self._page["tables"] if t["name"] != name]
        self._page["tables"].append({"name": name, "caption": caption})
        self._write_page()
        if show:
            _display(df)
        return df

    def metrics(self, values: dict) -> dict:
        """Merge ``values`` into ``metrics.json`` (nested dict of finite numbers)."""
        self._metrics.update(_clean(values))
        text = json.dumps(self._metrics, indent=2, sort_keys=True)
        (self.dir / "metrics.json").write_text(text + "\n")
        return self._metrics

    def claims(self, claims: list[Claim]):
        """Judge the table (:func:`kdkit.claims.finalize`: families declared in ``primary``,
        Holm within each, equivalence, power, the seed plan's look, minimum evidence,
        preconditions, smoke runs), write ``claims.csv`` (+ ``tables/claims.md``/``.tex``),
        show it in full and return it as a DataFrame."""
        import pandas as pd

        rows = [c.row() for c in finalize(claims, smoke=self.smoke, min_seeds=self.min_seeds,
                                          primary=self.primary, plan=self.plan,
                                          look=self.look)]
        with open(self.dir / "claims.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(CLAIM_COLUMNS))
            w.writeheader()
            for r in rows:
                w.writerow({k: _fmt(v) for k, v in r.items()})
        df = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
        shown = df.astype(object).where(df.notna(), "")
        (self.dir / "tables" / "claims.md").write_text(
            shown.to_markdown(index=False, floatfmt=".4g") + "\n")
        (self.dir / "tables" / "claims.tex").write_text(
            to_latex(df[["family", "claim", "source_value", "measured", "ci_low", "ci_high",
                         "p_holm", "mde", "verdict"]], ".4g", "Claims and verdicts"))
        if self.smoke:
            _display_banner()
        _display(styled_claims(df))
        return df


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def _display_banner():
    """The smoke-run banner, once: one output with a plain-text and an HTML form (the
    front end shows one of them; a print beside an HTML display showed it twice)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        print(SMOKE_BANNER)
        return
    if get_ipython() is None:
        print(SMOKE_BANNER)
        return
    display({"text/plain": SMOKE_BANNER,
             "text/html": f'<div style="background:#fff2cc;border-left:4px solid #e6a700;'
                          f'padding:6px 10px;margin:6px 0"><b>{SMOKE_BANNER}</b></div>'},
            raw=True)


def format_number(v) -> str:
    """Numbers as a reader wants them: integers without decimals, small values with 4
    significant digits, missing values empty."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, str):
        try:
            v = float(v) if v.strip() else v
        except ValueError:
            return v
        if isinstance(v, str):
            return v
    if isinstance(v, (int,)) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        return f"{int(v):,}"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3g}"
    return f"{v:.4g}"


def styled_claims(df):
    """The claims table for a notebook: full text (wrapped), formatted numbers, verdicts
    coloured."""
    num = ["measured", "ci_low", "ci_high", "p", "p_exact", "p_holm", "p_equiv", "delta", "mde"]
    shown = df.copy()
    for c in num:
        shown[c] = [format_number(v) for v in shown[c]]
    return (shown.style.hide(axis="index")
            .map(lambda v: f"background-color: {VERDICT_COLORS.get(v, '')}",
                 subset=["verdict"])
            .set_properties(**{"white-space": "pre-wrap", "text-align": "left",
                               "vertical-align": "top"})
            .set_properties(subset=["claim", "note"], **{"min-width": "16em"}))


def to_latex(df, floatfmt: str = ".4f", caption: str = "") -> str:
    """A booktabs table (``\\toprule``/``\\midrule``/``\\bottomrule``), text escaped."""
    def esc(v):
        if isinstance(v, float):
            return "" if not math.isfinite(v) else format(v, floatfmt)
        s = "" if v is None else str(v)
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                     ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"),
                     ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}")):
            s = s.replace(a, b)
        return s

    cols = list(df.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{esc(caption)}}}")
    lines += [r"\begin{tabular}{" + "l" * len(cols) + "}", r"\toprule",
              " & ".join(esc(c) for c in cols) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(v) for v in row) + r" \\" for row in df.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def read_claims(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- provenance

PACKAGES = ("kdkit", "torch", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib",
            "papermill", "dask", "distributed")


def git_state() -> tuple[str, bool]:
    """(commit, whether the code, notebooks or params differ from it)."""
    from .project import find_project

    root = find_project()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kdkit", "notebooks",
                                "params"], cwd=root, capture_output=True, text=True).stdout
        return sha, bool(dirty.strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def versions() -> dict:
    """The installed versions of the packages a report's numbers depend on."""
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out

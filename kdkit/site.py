"""The static report site: plain HTML + CSS from Jinja2 templates, no server, no JavaScript.

``write_site(root)`` (called by the runner after every run) writes, for a folder of reports:

* ``index.html`` and ``README.md``: every report with its status, date, commit, duration,
  verdict counts and headline sentence, and the sweeps;
* for each report, ``NAME/index.html`` (the question, the source, the claims table coloured by
  verdict in full, every figure with its caption, every table, the parameters and the
  provenance, links to the executed notebook and the raw files) and ``NAME/README.md`` (the
  same for reading on a code host).

Pages open from the file system and render on GitHub Pages; every link is relative.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import escape
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from .claims import CLAIM_COLUMNS, VERDICTS
from .report import format_number, read_claims

NUMERIC = ("measured", "ci_low", "ci_high", "p", "p_exact", "p_holm", "p_equiv", "delta",
           "source_effect", "mde", "seeds_needed")


# the claims table's columns as shown: the answer first (id, claim, verdict, effect), then the
# evidence; ``family`` is the grouping itself, and every column is in claims.csv
DISPLAY_COLUMNS = ("id", "claim", "verdict", "measured", "ci_low", "ci_high", "p_holm",
                   "p_equiv", "delta", "mde", "seeds_needed", "source_value", "source_effect",
                   "p", "p_exact", "family", "note")
OPEN_TABLE_ROWS = 15   # tables up to this long open on the page; longer ones are collapsed
OPEN_TABLES = 4


def _env() -> Environment:
    env = Environment(loader=PackageLoader("kdkit", "templates"),
                      autoescape=select_autoescape(["html", "html.j2"]),
                      keep_trailing_newline=True)
    return env


def md_escape(value):
    """What a Markdown page must escape in text: ``&``, ``<`` and ``>`` (a claim id such as
    ``kd<student@8`` would read as an HTML tag), not quotes — HTML's ``&#39;`` shows literally
    in a terminal."""
    if not isinstance(value, str):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_env() -> Environment:
    return Environment(loader=PackageLoader("kdkit", "templates"), autoescape=False,
                       finalize=md_escape, keep_trailing_newline=True)


def _css() -> str:
    from importlib import resources

    return resources.files("kdkit").joinpath("templates/style.css").read_text()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def verdict_counts(folder: Path) -> list[tuple[str, int]]:
    path = folder / "claims.csv"
    if not path.exists():
        return []
    c = Counter(r["verdict"] for r in read_claims(path))
    return [(v, c[v]) for v in VERDICTS if c[v]]


def _duration(seconds) -> str:
    if seconds in (None, ""):
        return ""
    s = float(seconds)
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def _run_summary(run: dict) -> dict:
    return {"mode": run.get("mode", "full"), "start": (run.get("start") or "")[:16],
            "duration": _duration(run.get("duration_s")),
            "commit": (run.get("git_commit") or "")[:12], "dirty": run.get("git_dirty"),
            "source": run.get("params_source", "")}


def table_html(csv_path: Path) -> str:
    """A CSV table as an HTML table with numbers formatted for reading."""
    import csv

    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return "<p class='muted'>(empty)</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in rows[0])
    body = []
    for row in rows[1:]:
        cells = []
        for v in row:
            shown = format_number(v)
            cls = " class='num'" if shown != v or _is_number(v) else ""
            cells.append(f"<td{cls}>{escape(shown)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _claims_md(claims: list[dict]) -> str:
    cols = list(CLAIM_COLUMNS)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in claims:
        cells = [format_number(r.get(c, "")) if c in NUMERIC else (r.get(c, "") or "")
                 for c in cols]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write_study_page(folder: Path, *, failed: str = "", link_notebook: bool = True) -> None:
    """``folder/index.html`` and ``folder/README.md`` for one report. ``link_notebook``: link
    the executed notebook (not for the committed ``reports/``, where it is git-ignored)."""
    env = _env()
    run = _read_json(folder / "run.json")
    page = _read_json(folder / "page.json")
    claims = read_claims(folder / "claims.csv") if (folder / "claims.csv").exists() else []
    for r in claims:
        r["shown"] = {c: format_number(r.get(c, "")) if c in NUMERIC else r.get(c, "")
                      for c in CLAIM_COLUMNS}
    families = []
    for r in claims:
        if not families or families[-1]["name"] != r.get("family", ""):
            families.append({"name": r.get("family", ""), "rows": []})
        families[-1]["rows"].append(r)
    for f in families:  # the primary family open; the others too when there is no primary
        f["open"] = f["name"] in ("primary", "") or not any(
            g["name"] == "primary" for g in families)
    figures = [f for f in page.get("figures", []) if (folder / f["file"]).exists()]
    listed = {f["file"] for f in figures}
    figures += [{"name": p.stem, "file": f"figures/{p.name}", "caption": ""}
                for p in sorted((folder / "figures").glob("*.png"))
                if f"figures/{p.name}" not in listed]
    for f in figures:
        pdf = Path(f["file"]).with_suffix(".pdf")
        f["pdf"] = str(pdf) if (folder / pdf).exists() else ""
    captions = {t["name"]: t.get("caption", "") for t in page.get("tables", [])}
    order = [t["name"] for t in page.get("tables", [])]
    csvs = sorted((folder / "tables").glob("*.csv"),
                  key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    tables = [{"name": p.stem, "caption": captions.get(p.stem, ""),
               "csv": f"tables/{p.name}", "md": f"tables/{p.stem}.md",
               "tex": f"tables/{p.stem}.tex" if p.with_suffix(".tex").exists() else "",
               "html": table_html(p), "rows": _n_rows(p)} for p in csvs if p.stem != "claims"]
    opened = 0
    for t in tables:  # open by relevance: short tables (summaries), not the first three
        t["open"] = t["rows"] <= OPEN_TABLE_ROWS and opened < OPEN_TABLES
        opened += t["open"]
    params = [(k, json.dumps(v)) for k, v in (run.get("params") or {}).items()]
    provenance = [(k, run[k]) for k in ("study", "report", "mode", "status", "git_commit",
                                        "python", "platform", "start", "end") if run.get(k)]
    if run.get("overrides"):
        provenance.append(("overrides", " ".join(run["overrides"])))
    if run.get("packages"):
        provenance.append(("packages", ", ".join(f"{k} {v}" for k, v in
                                                 run["packages"].items())))
    from .forest import forest

    counts = Counter(r["verdict"] for r in claims)
    context = dict(name=folder.name, run_name=run.get("report", folder.name), page=page,
                   source_regime=_source_regime(folder, page),
                   run=_run_summary(run), claims=claims, families=families,
                   forest=forest(claims), answer=answer(claims),
                   counts=[(v, counts[v]) for v in VERDICTS if counts[v]],
                   links=_page_links(folder, run),
                   claim_columns=DISPLAY_COLUMNS, numeric=NUMERIC, figures=figures,
                   tables=tables, params=params, provenance=provenance, failed=failed,
                   notebook="notebook.html" if link_notebook
                   and (folder / "notebook.html").exists() else "",
                   up="../index.html", css=_css(), claims_md=_claims_md(claims))
    (folder / "index.html").write_text(env.get_template("study.html.j2").render(**context))
    (folder / "README.md").write_text(_md_env().get_template("study.md.j2").render(**context))


def _source_regime(folder: Path, page: dict) -> dict | None:
    """The answer of the report that runs the source's own setting (``page.json``'s
    ``source_regime``, :meth:`kdkit.report.Report.source_regime`), from its claims; None
    where none is named or that report has no claims yet."""
    named = page.get("source_regime") or {}
    claims = folder.parent / named.get("report", "") / "claims.csv"
    if not named.get("report") or not claims.exists():
        return None
    said = answer(read_claims(claims))
    return {"name": named["report"], "label": named.get("label", ""), "answer": said} \
        if said else None


def answer(claims: list[dict]) -> str:
    """The page's answer in words, from its primary claims (so it cannot disagree with the
    table): which of the source's headline claims held, which did not, which stay open and
    what would decide them."""
    rows = [r for r in claims if r.get("family") == "primary"]
    if not rows:
        return ""
    def name(r):  # the claim without its trailing qualifiers: "… (dim 8) [synthetic]"
        text = r.get("claim", "").strip().rstrip(".")
        while (m := re.search(r"\s*(\([^()]*\)|\[[^\]]*\])$", text)) and m.start() > 0:
            text = text[:m.start()].rstrip(".")
        return text

    parts = []
    for verdict, label in (("supported", "Supported"), ("not supported", "Not supported")):
        got = [r for r in rows if r["verdict"] == verdict]
        if got:
            texts = []
            for r in got:
                eq = " (equivalent within ±δ)" if "equivalent within" in r.get("note", "") \
                    and verdict == "not supported" else ""
                texts.append(f"{name(r)}{eq}")
            parts.append(f"{label}: " + "; ".join(texts) + ".")
    open_ = [r for r in rows if r["verdict"] == "inconclusive"]
    if open_:
        texts = []
        for r in open_:
            need, note = r.get("seeds_needed", ""), r.get("note", "")
            why = (f" (about {need} seeds would decide it)" if need and "underpowered" in note
                   else " (the effect lies near δ)" if "lies near δ" in note else "")
            texts.append(name(r) + why)
        parts.append("Undecided: " + "; ".join(texts) + ".")
    blocked = [r for r in rows if r["verdict"] == "not testable"]
    if blocked:
        parts.append("Not testable here: " + "; ".join(name(r) for r in blocked) +
                     " (a precondition failed: see why).")
    return f"Of the source's {len(rows)} headline claims — " + " ".join(parts)


def _answer_of(folder: Path) -> str:
    """The report's :func:`answer` in words (empty without primary claims)."""
    path = folder / "claims.csv"
    return answer(read_claims(path)) if path.exists() else ""


def _n_rows(csv_path: Path) -> int:
    with open(csv_path, newline="") as f:
        return max(sum(1 for _ in f) - 1, 0)


def _page_links(folder: Path, run: dict) -> list[tuple[str, str]]:
    """Links from a report page to the study's notebook, its params file and the bench report,
    each only where it resolves from this folder (``reports/NAME/`` in a project)."""
    out = []
    project = folder.parent.parent
    study, source = run.get("study", ""), run.get("params_source", "")
    if study and (project / "notebooks" / f"{study}.ipynb").exists():
        out.append((f"notebooks/{study}.ipynb", f"../../notebooks/{study}.ipynb"))
    if source.startswith("params/") and (project / source).exists():
        out.append((source, f"../../{source}"))
    if (folder.parent / "bench").is_dir():
        out.append(("speed against peers (bench)", "../bench/index.html"))
    return out


def write_bench_page(folder: Path) -> Path:
    """``folder/index.html`` for the peer comparisons of ``make bench``: each table and
    figure there, with links to the raw files."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
             f"content='width=device-width, initial-scale=1'><title>kdkit bench</title>"
             f"<style>{_css()}</style></head><body><p><a href='../index.html'>← all reports"
             "</a></p><h1>Speed against peers</h1><p class='muted'>Written by <code>make bench"
             "</code>: kdkit and its peers in one process, interleaved, 1 thread, median of 3."
             "</p>"]
    for csv_path in sorted(folder.glob("*.csv")):
        parts.append(f"<h2>{escape(csv_path.stem)}</h2><div class='scroll'>"
                     f"{table_html(csv_path)}</div><p class='muted'><a href='{csv_path.name}'>"
                     f"{csv_path.name}</a></p>")
    for png in sorted(folder.glob("*.png")):
        parts.append(f"<figure><a href='{png.name}'><img src='{png.name}' alt='{png.stem}'></a>"
                     f"<figcaption>{escape(png.stem)}</figcaption></figure>")
    path = folder / "index.html"
    path.write_text("".join(parts) + "</body></html>\n")
    return path


def write_site(root: Path, *, link_notebooks: bool = True) -> Path:
    """Write every report's pages and the index of ``root``; return ``root/README.md``.
    ``link_notebooks=False`` leaves out links to the executed notebooks (git-ignored in the
    committed ``reports/``, so a link there would not resolve on a fresh clone)."""
    root = Path(root)
    reports, md = [], []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for d in folders:
        if d.name.endswith(".failed"):
            if not (root / d.name.removesuffix(".failed")).exists():  # never succeeded
                run = _read_json(d / "run.json")
                reports.append({"name": d.name.removesuffix(".failed"), "link": "",
                                "status": f"failed: {run.get('error', '?')}",
                                **_row_common(run), "verdicts": [], "headline": ""})
            continue
        if not (d / "run.json").exists():
            continue
        run = _read_json(d / "run.json")
        failed_run = _read_json(root / f"{d.name}.failed" / "run.json")
        failed = failed_run.get("error", "failed") if failed_run else ""
        write_study_page(d, failed=failed, link_notebook=link_notebooks)
        status = run.get("status", "?")
        if run.get("mode") == "smoke":
            status += " (smoke run: not evidence)"
        if failed:
            status += " (last run failed; this is the previous report)"
        reports.append({"name": d.name, "link": f"{d.name}/index.html", "status": status,
                        **_row_common(run), "verdicts": verdict_counts(d),
                        "headline": _read_json(d / "page.json").get("headline", ""),
                        "answer": _answer_of(d)})
    sweeps = []
    sweep_root = root / "sweeps"
    if sweep_root.is_dir():
        for s in sorted(p for p in sweep_root.iterdir() if (p / "sweep.json").exists()):
            spec = _read_json(s / "sweep.json")
            ok = sum(p["status"] == "ok" for p in spec.get("points", []))
            sweeps.append({"name": s.name, "link": f"sweeps/{s.name}/index.html",
                           "text": f"{spec.get('study')} over {', '.join(spec.get('grid', {}))}"
                                   f": {ok}/{len(spec.get('points', []))} points ok"})
    if (root / "bench").is_dir() and list((root / "bench").glob("*.csv")):
        write_bench_page(root / "bench")
    is_sweep = (root / "sweep.json").exists()
    title = f"sweep {root.name}" if is_sweep else "kdkit reports"
    sweep = None
    if is_sweep and (root / "sweep.csv").exists():
        sweep = {"figure": "sweep.png" if (root / "sweep.png").exists() else "",
                 "table": table_html(root / "sweep.csv")}
    env = _env()
    (root / "index.html").write_text(env.get_template("index.html.j2").render(
        title=title, reports=reports, sweeps=sweeps, sweep=sweep, css=_css()))
    md.append(f"# {title}\n\nGenerated by `kdkit run`; do not edit by hand. Open "
              "[index.html](index.html) for the pages with figures.\n")
    md.append("| report | status | date (UTC) | commit | duration | verdicts | headline |")
    md.append("|---|---|---|---|---|---|---|")
    for r in reports:
        link = f"[{r['name']}]({r['name']}/)" if r["link"] else r["name"]
        counts = ", ".join(f"{n} {v}" for v, n in r["verdicts"])
        md.append(f"| {link} | {r['status']} | {r['date']} | {r['commit']} | {r['duration']} | "
                  f"{counts} | {r['headline']} |")
    if sweeps:
        md += ["", "## Sweeps", ""] + [f"- [{s['name']}](sweeps/{s['name']}/): {s['text']}"
                                         for s in sweeps]
    path = root / "README.md"
    path.write_text("\n".join(md) + "\n")
    return path


def _row_common(run: dict) -> dict:
    return {"date": (run.get("start") or "")[:16], "commit": (run.get("git_commit") or "")[:12],
            "duration": _duration(run.get("duration_s"))}


TIMES_START, TIMES_END = "<!-- kdkit:times -->", "<!-- /kdkit:times -->"


def times_table(root: Path) -> str:
    """The run time of every full report in ``root`` from its ``run.json``, as Markdown: the
    last look and, for a seed plan, the whole plan (the sum over its looks, with the jobs
    computed and taken from the job cache; a cold plan is one whose looks computed every job
    they ran)."""
    lines = ["| report | last look (2 workers, 2 cores) | seed plan: looks, total | jobs "
             "computed / cached | seeds | commit | date (UTC) |",
             "|---|---|---|---|---|---|---|"]
    for d in sorted(p for p in Path(root).iterdir() if (p / "run.json").exists()):
        run = _read_json(d / "run.json")
        if run.get("mode") == "smoke" or run.get("status") != "ok":
            continue
        seeds = run.get("seeds")
        n = len(seeds) if isinstance(seeds, list) else \
            seeds.get("n", seeds.get("start", "")) if isinstance(seeds, dict) else ""
        dirty = " (uncommitted changes)" if run.get("git_dirty") else ""
        looks = run.get("looks") or []
        if looks:
            total = sum(float(x.get("duration_s") or 0) for x in looks)
            plan = (f"{len(looks)} ({', '.join(str(x.get('n')) for x in looks)} seeds), "
                    f"{_duration(total)}")
            jobs = (f"{sum(int(x.get('jobs_computed') or 0) for x in looks)} / "
                    f"{sum(int(x.get('jobs_cached') or 0) for x in looks)}")
        else:
            plan, jobs = "not recorded", ""
        lines.append(f"| [{d.name}](reports/{d.name}/) | {_duration(run.get('duration_s'))} | "
                     f"{plan} | {jobs} | {n} | `{(run.get('git_commit') or '')[:7]}`{dirty} | "
                     f"{(run.get('start') or '')[:10]} |")
    return "\n".join(lines)


def update_readme_times(readme: Path, root: Path) -> bool:
    """Rewrite the block between :data:`TIMES_START` and :data:`TIMES_END` in ``readme`` with
    :func:`times_table`, so the README's run times come from the reports and cannot go stale.
    False (nothing written) when the README has no such block."""
    try:
        text = Path(readme).read_text()
    except OSError:
        return False
    a, b = text.find(TIMES_START), text.find(TIMES_END)
    if a < 0 or b < a:
        return False
    new = text[:a + len(TIMES_START)] + "\n" + times_table(root) + "\n" + text[b:]
    if new != text:
        Path(readme).write_text(new)
    return True

"""Run a study notebook with papermill and write its report atomically.

``run_study`` executes ``notebooks/STUDY.ipynb`` into a temporary sibling of the report folder,
adds ``run.json`` (provenance) and the notebook as HTML, and only then swaps it into place.
A failed run leaves the previous report untouched and keeps the evidence in ``STUDY.failed/``.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from . import params as _params
from .claims import CLAIM_COLUMNS
from .report import project_root, read_claims

PACKAGES = ("kdkit", "torch", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib",
            "papermill")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def params_dir() -> Path:
    return project_root() / "params"


def studies() -> list[str]:
    return sorted(p.stem for p in notebooks_dir().glob("*.ipynb"))


def notebook_path(study: str) -> Path:
    path = notebooks_dir() / f"{study}.ipynb"
    if not path.exists():
        raise _params.ParamError(f"unknown study '{study}'; available: {', '.join(studies())}")
    return path


def default_params_file(study: str) -> Path:
    return params_dir() / f"{study}.yaml"


def report_name(study: str, params_file: Path | None) -> str:
    """The report folder: ``STUDY``, or ``STUDY-VARIANT`` for ``params/STUDY-VARIANT.yaml``,
    so that a named variant (a longer protocol, another data set) never overwrites the main
    report."""
    if params_file is not None:
        stem = Path(params_file).stem
        if stem.startswith(f"{study}-") and len(stem) > len(study) + 1:
            return stem
    return study


def _git_commit() -> str:
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kdkit", "notebooks",
                                "params"], cwd=root, capture_output=True, text=True).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict:
    out = {}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _to_html(nb_file: Path, html_file: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(nb_file), as_version=4))
    html_file.write_text(body)


def run_study(study: str, values: dict, out_root: Path, *, params_source: str,
              progress: bool = True, log=print, name: str | None = None) -> bool:
    """Execute one study with validated ``values`` into ``out_root/name`` (default: the
    study's name); return True when it succeeded."""
    import papermill as pm

    nb = notebook_path(study)
    name = name or study
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out_root))
    tmp.chmod(0o755)  # mkdtemp makes it private; a report is for everyone to read
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    status, error = "ok", None
    log(f"[kdkit] {name}: started ({params_source})")
    try:
        pm.execute_notebook(str(nb), str(tmp / "notebook.ipynb"),
                            parameters={**values, "report_dir": str(tmp.resolve())},
                            kernel_name="python3", progress_bar=progress, cwd=str(Path.cwd()))
    except Exception as e:  # PapermillExecutionError carries the cell's exception name + value
        status = "failed"
        error = f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}"
    duration = time.perf_counter() - t0
    run = {
        "study": study, "report": name, "status": status, "params": values,
        "params_source": params_source,
        "seeds": values.get("seeds"), "git_commit": _git_commit(), "packages": _versions(),
        "python": platform.python_version(), "platform": platform.platform(),
        "start": started.isoformat(timespec="seconds"),
        "end": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration, 1),
    }
    if error:
        run["error"] = error.strip().splitlines()[0][:500]
    (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    if (tmp / "notebook.ipynb").exists():
        try:
            _to_html(tmp / "notebook.ipynb", tmp / "notebook.html")
        except Exception as e:  # HTML is a convenience; never fail a good run over it
            log(f"[kdkit] {name}: could not write notebook.html ({e})")
    if status == "ok":
        missing = [f for f in ("metrics.json", "claims.csv") if not (tmp / f).exists()]
        if missing:
            status, run["status"] = "failed", "failed"
            run["error"] = f"notebook did not write {', '.join(missing)}"
            (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    if status == "ok":
        _replace(tmp, final)
        shutil.rmtree(out_root / f"{name}.failed", ignore_errors=True)
        log(f"[kdkit] {name}: finished in {duration:.1f}s -> {final}")
    else:
        failed = out_root / f"{name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        tmp.rename(failed)
        log(f"[kdkit] {name}: FAILED after {duration:.1f}s ({run['error']}); previous report "
            f"kept, executed notebook in {failed}/notebook.ipynb")
    write_index(out_root)
    return status == "ok"


def _replace(tmp: Path, final: Path) -> None:
    """Swap ``tmp`` into ``final``: the old report is moved aside first, removed last."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError:
        if old.exists():
            old.rename(final)  # put the previous report back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _headline(metrics: dict) -> str:
    head = metrics.get("headline", {})
    return "; ".join(f"{k} = {v}" for k, v in head.items()) if head else ""


def write_index(out_root: Path) -> Path:
    """Write ``out_root/README.md``: every study's status, provenance, headline and claims."""
    lines = ["# Reports", "",
             "Generated by `kdkit run` (`make reports`); do not edit by hand.", "",
             "| study | status | date (UTC) | commit | duration | headline |",
             "|---|---|---|---|---|---|"]
    claim_blocks = []
    folders = sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for d in folders:
        if d.name.endswith(".failed"):
            if not (out_root / d.name.removesuffix(".failed")).exists():  # never succeeded
                run = json.loads((d / "run.json").read_text()) if (d / "run.json").exists() \
                    else {}
                lines.append(f"| {d.name.removesuffix('.failed')} | failed: "
                             f"{run.get('error', '?')} | {run.get('start', '')[:16]} | "
                             f"{run.get('git_commit', '')[:12]} | "
                             f"{run.get('duration_s', 0):.0f} s | |")
            continue
        if not (d / "run.json").exists():
            continue
        run = json.loads((d / "run.json").read_text())
        metrics = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() \
            else {}
        failed = (out_root / f"{d.name}.failed").exists()
        status = run["status"] + (" (last run failed; this is the previous report)" if failed
                                  else "")
        lines.append(f"| [{d.name}]({d.name}/) | {status} | {run['start'][:16]} | "
                     f"{run['git_commit'][:12]} | {run['duration_s']:.0f} s | "
                     f"{_headline(metrics)} |")
        if (d / "claims.csv").exists():
            rows = read_claims(d / "claims.csv")
            block = [f"## {d.name}: claims", "",
                     "| " + " | ".join(CLAIM_COLUMNS) + " |",
                     "|" + "---|" * len(CLAIM_COLUMNS)]
            block += ["| " + " | ".join(r.get(c, "") or "" for c in CLAIM_COLUMNS) + " |"
                      for r in rows]
            claim_blocks.append("\n".join(block))
    text = "\n".join(lines) + "\n\n" + "\n\n".join(claim_blocks) + "\n"
    path = out_root / "README.md"
    path.write_text(text)
    return path


def main_run(names: list[str], *, all_studies: bool, params_file: str | None, smoke: bool,
             overrides: list[str], out: str, progress: bool = True) -> int:
    """The ``kdkit run`` command; returns the process exit code (0 ok, 1 failed, 2 usage)."""
    if all_studies:
        names = studies()
    if not names:
        print("kdkit run: name at least one study or --all; available: "
              + ", ".join(studies()), file=sys.stderr)
        return 2
    if params_file and len(names) > 1:
        print("kdkit run: --params applies to one study at a time", file=sys.stderr)
        return 2
    if params_file and smoke:
        print("kdkit run: --smoke uses the notebook's defaults; it cannot be combined with "
              "--params", file=sys.stderr)
        return 2
    plans = []
    try:  # validate everything before running anything
        for name in names:
            nb = notebook_path(name)
            pfile = None if smoke else Path(params_file) if params_file \
                else default_params_file(name)
            if pfile is not None and not pfile.exists():
                if params_file:
                    raise _params.ParamError(f"params file not found: {pfile}")
                pfile = None
            values = _params.resolve(nb, pfile, overrides)
            _study_checks(name, values)
            source = "notebook defaults (--smoke)" if smoke else str(pfile or "notebook defaults")
            plans.append((name, values, source, report_name(name, pfile)))
    except _params.ParamError as e:
        print(f"kdkit run: {e}", file=sys.stderr)
        return 2
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"kdkit run: cannot create the report folder {out} ({e})", file=sys.stderr)
        return 2
    ok = [run_study(n, v, Path(out), params_source=s, progress=progress, name=r)
          for n, v, s, r in plans]
    return 0 if all(ok) else 1


def _study_checks(study: str, values: dict) -> None:
    """Run ``kdkit.studies.STUDY.check_params(values)`` when the study defines one."""
    try:
        module = importlib.import_module(f"kdkit.studies.{study}")
    except ModuleNotFoundError:
        return
    check = getattr(module, "check_params", None)
    if check is not None:
        try:
            check(values)
        except (ValueError, KeyError) as e:
            raise _params.ParamError(f"{study}: {e}") from None

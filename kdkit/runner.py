"""Run a study notebook with papermill and write its report atomically and safely.

``run_study`` executes ``notebooks/STUDY.ipynb`` into a temporary sibling of the report folder,
adds ``run.json`` (provenance) and the notebook as HTML, and only then swaps it into place,
under a lock, so that two runs of one report never mix. What can go wrong, and what happens:

* a failed run leaves the previous report untouched and keeps the evidence in
  ``NAME.failed/`` (the executed notebook shows the error);
* Ctrl-C or SIGTERM removes the temporary folder and leaves the previous report untouched; a
  temporary folder left by a process that died is removed by the next run;
* a second run of the same report waits for the first (it says so);
* a smoke run (``--smoke``) writes to the git-ignored ``scratch/`` folder, and never replaces
  a full report unless ``--replace-full-report`` says so.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import difflib
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import jobs as _jobs
from . import params as _params
from .project import find_project
from .report import git_state, versions

MODES = ("full", "smoke")


def project_root() -> Path:
    return find_project()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def params_dir() -> Path:
    return project_root() / "params"


def reports_dir() -> Path:
    return project_root() / "reports"


def scratch_dir() -> Path:
    """Where smoke runs and notebooks opened by hand write (git-ignored)."""
    return project_root() / "scratch"


def studies() -> list[str]:
    return sorted(p.stem for p in notebooks_dir().glob("*.ipynb"))


def variants(study: str | None = None) -> list[str]:
    """Named variants ``STUDY-VARIANT`` (``params/STUDY-VARIANT.yaml``)."""
    out = []
    for p in sorted(params_dir().glob("*-*.yaml")):
        owner = next((s for s in studies() if p.stem.startswith(f"{s}-")), None)
        if owner and (study is None or owner == study):
            out.append(p.stem)
    return out


def notebook_path(study: str) -> Path:
    path = notebooks_dir() / f"{study}.ipynb"
    if not path.exists():
        raise _params.ParamError(unknown_name_message(study))
    return path


def unknown_name_message(name: str) -> str:
    names = studies() + variants()
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown study '{name}'{hint} Available: {', '.join(names)}"


def default_params_file(study: str) -> Path:
    return params_dir() / f"{study}.yaml"


def split_name(name: str) -> tuple[str, Path | None]:
    """``STUDY`` or ``STUDY-VARIANT`` → (study, the variant's params file or None)."""
    if name in studies():
        return name, None
    if name in variants():
        study = next(s for s in studies() if name.startswith(f"{s}-"))
        return study, params_dir() / f"{name}.yaml"
    raise _params.ParamError(unknown_name_message(name))


def params_chain(study: str, params_file: Path | None) -> list[Path]:
    """The params files a run reads, in order: a variant (``params/STUDY-NAME.yaml``) inherits
    the study's full params (``params/STUDY.yaml``) and then sets its own keys, so a variant
    file need only say what differs; any other file stands alone."""
    if params_file is None:
        return []
    parent = default_params_file(study)
    if (params_file.parent.resolve() == params_dir().resolve()
            and params_file.name.startswith(f"{study}-") and parent.exists()):
        return [parent, params_file]
    return [params_file]


def report_name(study: str, params_file: Path | None) -> str:
    """The report folder: ``STUDY``, or ``STUDY-VARIANT`` for ``params/STUDY-VARIANT.yaml``,
    so that a named variant (a longer protocol, another data set) never overwrites the main
    report."""
    if params_file is not None:
        stem = Path(params_file).stem
        if stem.startswith(f"{study}-") and len(stem) > len(study) + 1:
            return stem
    return study


def _to_html(nb_file: Path, html_file: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(nb_file), as_version=4))
    html_file.write_text(body)


@dataclass
class Plan:
    """One validated run: which study, with which values, into which report."""

    study: str
    values: dict
    source: str
    name: str
    mode: str = "full"
    overrides: list = field(default_factory=list)


# ---------------------------------------------------------------- safety: locks, leftovers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(out_root: Path, name: str, log=print) -> None:
    """Remove temporary folders of runs whose process is gone, and half-swapped leftovers."""
    for tmp in out_root.glob(f".{name}.tmp-*"):
        m = re.match(rf"\.{re.escape(name)}\.tmp-(\d+)-", tmp.name)
        if m and not _alive(int(m.group(1))):
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"[kdkit] {name}: removed {tmp.name}, left by an interrupted run")
    old = out_root / f".{name}.old"
    if old.exists():
        if not (out_root / name).exists():  # a swap died half-way: put the report back
            old.rename(out_root / name)
        else:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def report_lock(out_root: Path, name: str, log=print):
    """An exclusive lock on one report folder; a second run waits (and says so). The lock
    file is removed when the run ends, however it ends: a run that waited on a file its holder
    has since removed takes the lock again on the new one (the inode check)."""
    path = out_root / f".{name}.lock"
    told = False
    while True:
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not told:
                f.seek(0)
                holder = f.read().strip() or "?"
                log(f"[kdkit] {name}: another kdkit run (pid {holder}) is writing this "
                    "report; waiting for it to finish")
                told = True
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            same = os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()  # the holder removed the file while we waited: lock the new one
    try:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


KERNEL_LOG = "kernel.log"  # the kernel process's stderr; kept only in NAME.failed/
JOB_LOG = "jobs.log"  # the jobs computed and cached (kdkit.jobs.Runner), summed into run.json


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived during a run."""


@contextlib.contextmanager
def _interruptible():
    """Turn SIGTERM (and SIGINT) into :class:`Interrupted` while a run is in progress."""
    def handler(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    if threading_main():
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    else:  # signals can only be caught in the main thread
        old = {}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def quiet_after_interrupt() -> None:
    """After the one line an interrupted run prints: the notebook client's abandoned cell task
    would log "Task exception was never retrieved" with the kernel's coloured traceback at
    interpreter exit (about a hundred lines), and the Dask client's closing warnings after it.
    The run said what happened and what was kept; silence the rest."""
    import logging
    import warnings

    for name in ("asyncio", "distributed", "tornado", "traitlets"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    warnings.simplefilter("ignore")


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _read_run(folder: Path) -> dict:
    try:
        return json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------- one run


def run_study(plan: Plan, out_root: Path, *, progress: bool = True, log=print,
              replace_full: bool = False) -> bool:
    """Execute ``plan`` into ``out_root/plan.name``; return True when it succeeded."""
    out_root.mkdir(parents=True, exist_ok=True)
    name = plan.name
    final = out_root / name
    with report_lock(out_root, name, log):
        clean_leftovers(out_root, name, log)
        if plan.mode == "smoke" and final.exists() and not replace_full \
                and _read_run(final).get("mode", "full") != "smoke":
            log(f"[kdkit] {name}: {final} holds a full report; a smoke run does not replace it "
                "(write the smoke run elsewhere with --out, or pass --replace-full-report)")
            return False
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=out_root))
        tmp.chmod(0o755)  # mkdtemp makes it private; a report is for everyone to read
        try:
            with _interruptible():
                return _execute(plan, tmp, final, out_root, progress=progress, log=log)
        except (Interrupted, KeyboardInterrupt) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            kept = "the previous report is kept" if final.exists() else "no report was written"
            log(f"[kdkit] {name}: interrupted ({e or 'SIGINT'}); {kept}")
            raise


def _execute(plan: Plan, tmp: Path, final: Path, out_root: Path, *, progress: bool,
             log) -> bool:
    import papermill as pm

    name = plan.name
    nb = notebook_path(plan.study)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    status, error = "ok", None
    log(f"[kdkit] {name}: started ({plan.source}); writing to {final}")
    injected = {**plan.values, "report_dir": str(tmp.resolve()), "smoke": plan.mode == "smoke"}
    job_log = tmp / JOB_LOG
    old_log = os.environ.get(_jobs.JOB_LOG_ENV)
    os.environ[_jobs.JOB_LOG_ENV] = str(job_log.resolve())  # the kernel inherits it
    try:
        with open(tmp / KERNEL_LOG, "w") as klog:
            pm.execute_notebook(str(nb), str(tmp / "notebook.ipynb"), parameters=injected,
                                kernel_name="python3", progress_bar=progress,
                                cwd=str(Path.cwd()), kernel_manager_class=_kernel_manager(klog))
    except (Interrupted, KeyboardInterrupt):
        raise
    except Exception as e:  # PapermillExecutionError carries the cell's exception name + value
        status = "failed"
        error = f"{getattr(e, 'ename', type(e).__name__)}: {getattr(e, 'evalue', e)}"
    finally:
        if old_log is None:
            os.environ.pop(_jobs.JOB_LOG_ENV, None)
        else:
            os.environ[_jobs.JOB_LOG_ENV] = old_log
    duration = time.perf_counter() - t0
    commit, dirty = git_state()
    jobs_done = job_counts(job_log)
    job_log.unlink(missing_ok=True)
    run = {
        "study": plan.study, "report": name, "mode": plan.mode, "status": status,
        "params": {k: v for k, v in plan.values.items() if k not in _params.RESERVED},
        "params_source": plan.source, "overrides": plan.overrides,
        "seeds": plan.values.get("seeds"), "git_commit": commit, "git_dirty": dirty,
        "packages": versions(), "python": platform.python_version(),
        "platform": platform.platform(),
        "start": started.isoformat(timespec="seconds"),
        "end": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration, 1),
        "jobs": jobs_done, "cpu": _jobs.cpu_info(), "job_cache_platform": _jobs.platform_tag(),
    }
    run["looks"] = look_records(plan, _read_run(final), run)
    run["plan_power"] = plan_power(plan.values)
    if error:
        run["error"] = error.strip().splitlines()[0][:500]
    if status == "ok":
        missing = [f for f in ("metrics.json", "claims.csv") if not (tmp / f).exists()]
        if missing:
            status, run["status"] = "failed", "failed"
            run["error"] = f"notebook did not write {', '.join(missing)}"
    (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    if (tmp / "notebook.ipynb").exists():
        try:
            _to_html(tmp / "notebook.ipynb", tmp / "notebook.html")
        except Exception as e:  # HTML is a convenience; never fail a good run over it
            log(f"[kdkit] {name}: could not write notebook.html ({e})")
    if status == "ok":
        (tmp / KERNEL_LOG).unlink(missing_ok=True)
        _replace(tmp, final)
        shutil.rmtree(out_root / f"{name}.failed", ignore_errors=True)
        log(f"[kdkit] {name}: finished in {duration:.1f}s; open {final / 'index.html'}")
    else:
        failed = out_root / f"{name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        tmp.rename(failed)
        kept = "the previous report is kept" if final.exists() else "no report was written"
        log(f"[kdkit] {name}: FAILED after {duration:.1f}s ({run['error']}); {kept}; the "
            f"executed notebook is in {failed}/notebook.ipynb")
    write_index(out_root)
    return status == "ok"


def job_counts(path: Path) -> dict:
    """The jobs a run computed and took from the cache, summed over the lines that
    :class:`kdkit.jobs.Runner` appended to ``path``, and each batch of jobs (``stages``: its
    name, counts and wall time: where a run's time went)."""
    out = {"computed": 0, "cached": 0, "stages": []}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        out["computed"] += int(row.get("computed", 0))
        out["cached"] += int(row.get("cached", 0))
        out["stages"].append(row)
    return out


def look_records(plan: Plan, previous: dict, run: dict) -> list[dict]:
    """Every look of a seed plan so far, this run's last: its seed count and seeds, the α
    it spent, wall time, jobs computed and cached, and commit. The earlier looks come from
    the report already there (``previous``: its run.json) when it ran the same plan with
    fewer seeds; a run without a seed plan is one look at the full α."""
    from .sequential import SeedPlan

    seeds = plan.values.get("seeds")
    try:
        seq = SeedPlan.from_param(seeds)
    except ValueError:
        seq = None
    if seq is None:
        n, alpha, earlier = (len(seeds) if isinstance(seeds, list) else None), 0.05, []
        seed_list = list(seeds) if isinstance(seeds, list) else None
    else:
        n = int(seeds.get("n", seq.start))
        alpha, seed_list = seq.alpha(n), seq.seeds(n)
        before = previous.get("seeds")
        same = (previous.get("mode") == run["mode"] and previous.get("status") == "ok"
                and isinstance(before, dict) and SeedPlan.from_param(before) == seq)
        earlier = [look for look in previous.get("looks", []) if isinstance(look.get("n"), int)
                   and look["n"] < n] if same else []
    this = {"n": n, "seeds": seed_list, "alpha": alpha,
            "duration_s": run["duration_s"], "jobs_computed": run["jobs"]["computed"],
            "jobs_cached": run["jobs"]["cached"], "git_commit": run["git_commit"],
            "git_dirty": run["git_dirty"], "start": run["start"]}
    return earlier + [this]


def plan_power(values: dict) -> dict | None:
    """What a seed plan promised before its first seed (run.json's ``plan_power``): with a
    declared ``sd``, the effect its last look detects with 80 % power against the smallest δ;
    without one, that it was not sized by power. None for a plain seed list."""
    from .claims import Deltas
    from .sequential import SeedPlan

    try:
        seq = SeedPlan.from_param(values.get("seeds"))
        deltas = Deltas(values.get("delta"))
    except (ValueError, AttributeError):
        return None
    if seq is None:
        return None
    tests = max(1, len(values.get("primary") or []))
    delta = deltas.smallest()
    if seq.sd is None:
        return {"sized_by_power": False, "max": seq.max, "delta": delta,
                "note": "no sd declared: the plan's max was not sized by power"}
    return {"sized_by_power": True, "max": seq.max, "sd": seq.sd, "tests": tests,
            "delta": delta, "planned_mde": seq.planned_mde(seq.sd, tests=tests)}


def _kernel_manager(kernel_log=None):
    """A kernel manager that talks to the kernel over IPC (Unix sockets), not TCP: the kernel
    is local, and the kernel's "running over TCP without encryption" warning goes away.

    Each kernel gets its own socket prefix in the temp folder: jupyter_client's default
    ("kernel-ipc" in the working directory) is shared by kernels started at the same moment
    from parallel workers, which then read each other's messages ("Invalid Signature")."""
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        transport = "ipc"

        @default("ip")
        def _unique_ip(self):
            return str(Path(tempfile.gettempdir()) / f"kdkit-{uuid.uuid4().hex[:16]}-ipc")

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            # the kernel process's own stderr (not the cells' output, which comes over
            # iopub) goes to a log file: on Ctrl-C it would print a zmq traceback after the
            # run's one-line message; a failed run keeps it as NAME.failed/kernel.log
            if kernel_log is not None:
                kw.setdefault("stderr", kernel_log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return IPCKernelManager


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


def write_index(out_root: Path) -> Path:
    """The index of ``out_root``: ``README.md`` and the HTML site (``kdkit.site``); the
    committed ``reports/`` does not link the git-ignored executed notebooks."""
    from .site import update_readme_times, write_site

    committed = Path(out_root).resolve() == reports_dir().resolve()
    index = write_site(out_root, link_notebooks=not committed)
    if committed:  # the README beside the committed reports/ (a test's own, not the project's)
        update_readme_times(reports_dir().parent / "README.md", out_root)
    return index


# ---------------------------------------------------------------- the command


def plan_runs(names: list[str], *, params_file: str | None, smoke: bool,
              overrides: list[str]) -> list[Plan]:
    """Validate everything (names, params files, every value, the study's own checks) before
    anything runs; raises ``ParamError``."""
    if params_file and len(names) > 1:
        raise _params.ParamError("--params applies to one study at a time")
    if params_file and smoke:
        raise _params.ParamError("--smoke uses the notebook's defaults; it cannot be combined "
                                 "with --params")
    plans = []
    for name in names:
        study, variant_file = split_name(name)
        nb = notebook_path(study)
        if smoke:
            pfile = None
        elif params_file:
            pfile = Path(params_file)
            if not pfile.exists():
                raise _params.ParamError(f"params file not found: {pfile}")
        else:
            pfile = variant_file or default_params_file(study)
            pfile = pfile if pfile.exists() else None
        values = _params.resolve(nb, params_chain(study, pfile), overrides)
        missing = sorted(k for k in user_data_keys(pfile) if values.get(k) is None)
        if missing:
            raise _params.ParamError(
                f"{name} runs on data you pass: give {' and '.join(missing)} (-p "
                f"{missing[0]}=PATH; {pfile.name} says what it holds, docs/data-contracts.md "
                "the format)")
        study_checks(study, values, smoke=smoke)
        if smoke:
            source = "notebook defaults (--smoke)"
        else:
            source = str(pfile.relative_to(project_root()) if pfile and pfile.is_relative_to(
                project_root()) else pfile or "notebook defaults")
        plans.append(Plan(study, values, source, report_name(study, pfile),
                          "smoke" if smoke else "full", list(overrides)))
    return plans


def main_run(names: list[str], *, all_studies: bool, params_file: str | None, smoke: bool,
             overrides: list[str], out: str | None, progress: bool = True,
             replace_full: bool = False, until_decided: bool = False,
             replace: bool = False) -> int:
    """The ``kdkit run`` command; returns the process exit code (0 ok, 1 failed, 2 usage)."""
    if all_studies and names:
        print(f"kdkit run: --all runs every study; it cannot be combined with names "
              f"({', '.join(names)}). Name the studies, or use --all alone", file=sys.stderr)
        return 2
    if all_studies:
        names = studies()
    if not names:
        print("kdkit run: name at least one study or --all; available: "
              + ", ".join(studies() + variants()), file=sys.stderr)
        return 2
    try:
        plans = plan_runs(names, params_file=params_file, smoke=smoke, overrides=overrides)
        if until_decided:
            check_until_decided(plans)
    except _params.ParamError as e:
        print(f"kdkit run: {e}", file=sys.stderr)
        return 2
    out_root = Path(out) if out else scratch_dir() if smoke else reports_dir()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"kdkit run: cannot create the report folder {out_root} ({e})", file=sys.stderr)
        return 2
    if smoke and not out:
        print(f"[kdkit] smoke run: writing to {out_root} (git-ignored scratch; the reports in "
              f"{reports_dir()} are not touched)")
    if not smoke and not out and not replace:
        plans = [custom_plan(plan, out_root) for plan in plans]
    results = []
    try:
        for plan in plans:
            t0 = time.perf_counter()
            ok = run_study(plan, out_root, progress=progress, replace_full=replace_full)
            look = next_look(plan, out_root) if ok and until_decided else None
            while look is not None:
                ok = run_study(look, out_root, progress=progress, replace_full=True)
                look = next_look(look, out_root) if ok else None
            results.append((plan.name, ok, time.perf_counter() - t0))
    except (Interrupted, KeyboardInterrupt):
        quiet_after_interrupt()
        return 130
    if len(plans) > 1:
        print(summary_table(results, out_root))
    return 0 if all(ok for _, ok, _ in results) else 1


# overrides that say where or how a run executes, not what it computes
EXECUTION_KEYS = frozenset({"workers", "scheduler", "threads", "device", "cache"})
# where the data is: "where" only for a variant whose params file sets the key to null, i.e.
# runs on data the user passes (topology_kd-citeulike's split); elsewhere the user's data is
# another study (topology_kd -p data_dir=... must not replace the MovieLens report)
DATA_KEYS = frozenset({"data_dir", "data_file"})


def user_data_keys(params_file) -> set:
    """The :data:`DATA_KEYS` a params file sets to null: the user passes that data."""
    path = Path(params_file) if params_file else None
    if path is None or not path.is_file():
        return set()
    values = _params.load_yaml(path)
    return {k for k in DATA_KEYS if k in values and values[k] is None}


def _n_seeds(seeds) -> int | None:
    from .sequential import resolve_seeds

    try:
        return len(resolve_seeds(seeds)[0]) if seeds is not None else None
    except (ValueError, TypeError, AttributeError):
        return None


def custom_plan(plan: Plan, out_root: Path, log=print) -> Plan:
    """A full run into the project's reports/ that is not the study as committed — overrides
    beyond :data:`EXECUTION_KEYS` (and the :data:`DATA_KEYS` its params file leaves to the
    user), or fewer seeds than the report already there — goes to
    ``NAME-custom/`` so that it never silently replaces the committed report (``--replace``
    does)."""
    where = EXECUTION_KEYS | user_data_keys(project_root() / plan.source)
    changed = [o for o in plan.overrides if o.split("=", 1)[0].strip() not in where]
    have = _n_seeds(_read_run(out_root / plan.name).get("seeds"))
    now = _n_seeds(plan.values.get("seeds"))
    why = ""
    if changed:
        why = "overrides " + " ".join(changed)
    elif have is not None and now is not None and now < have:
        why = f"{now} seeds, fewer than the {have} of the report there"
    if not why:
        return plan
    name = f"{plan.name}-custom"
    log(f"[kdkit] {plan.name}: a run with {why} writes to {out_root / name} (the report in "
        f"{out_root / plan.name} is kept; --replace writes over it)")
    return replace(plan, name=name)


def check_until_decided(plans: list[Plan]) -> None:
    """``--until-decided`` needs a seed plan and primary claims in every study it runs."""
    from .sequential import SeedPlan

    for plan in plans:
        if SeedPlan.from_param(plan.values.get("seeds")) is None:
            raise _params.ParamError(
                f"{plan.name}: --until-decided needs seeds as a plan, e.g. "
                "-p 'seeds={start: 5, step: 5, max: 40}'; got a list")
        if not plan.values.get("primary"):
            raise _params.ParamError(f"{plan.name}: --until-decided stops when every primary "
                                     "claim is decided; declare them (primary: [ids])")


def next_look(plan: Plan, out_root: Path) -> Plan | None:
    """The run of the next look of ``plan``'s seed plan, or None when every primary claim of
    its report is decided (or not testable) or the plan's last look has run. The next run
    reuses finished jobs from the job cache."""
    from .report import read_claims
    from .sequential import SeedPlan

    seeds = plan.values["seeds"]
    seq = SeedPlan.from_param(seeds)
    n = int(seeds.get("n", seq.start))
    rows = read_claims(out_root / plan.name / "claims.csv")
    open_ = [r["id"] for r in rows if r.get("family") == "primary"
             and r["verdict"] == "inconclusive"]
    nxt = seq.next_n(n)
    if not open_:
        print(f"[kdkit] {plan.name}: every primary claim decided at {n} seeds")
        return None
    if nxt is None:
        print(f"[kdkit] {plan.name}: {len(open_)} primary claims still open at the plan's "
              f"maximum ({n} seeds): {', '.join(open_)}")
        return None
    print(f"[kdkit] {plan.name}: {len(open_)} primary claims open at {n} seeds "
          f"({', '.join(open_)}); next look at {nxt} seeds")
    values = {**plan.values, "seeds": {**seeds, "n": nxt}}
    if "cache" in values:
        values["cache"] = True
    return replace(plan, values=values)


def summary_table(results, out_root: Path) -> str:
    """The table printed at the end of ``kdkit run --all``."""
    from .report import read_claims

    lines = [f"{'report':<28} {'status':<7} {'time':>7}  verdicts"]
    for name, ok, seconds in results:
        counts = ""
        claims = out_root / name / "claims.csv"
        if ok and claims.exists():
            from collections import Counter

            c = Counter(r["verdict"] for r in read_claims(claims))
            counts = ", ".join(f"{v} {k}" for k, v in sorted(c.items()))
        lines.append(f"{name:<28} {'ok' if ok else 'FAILED':<7} {seconds:>6.0f}s  {counts}")
    return "\n".join(lines)


def study_checks(study: str, values: dict, *, smoke: bool = False) -> None:
    """Run ``kdkit.studies.STUDY.check_params(values)`` when the study defines one, and check
    the device when the study has one."""
    if "device" in values:
        from .device import DeviceError, check

        try:
            check(values["device"])
        except DeviceError as e:
            raise _params.ParamError(f"{study}: {e}") from None
    if values.get("workers", 1) < 1:
        raise _params.ParamError(f"{study}: workers must be at least 1")
    from .jobs import SCHEDULER_ENV, reach_scheduler

    address = values.get("scheduler") or os.environ.get(SCHEDULER_ENV)
    if address:
        try:
            reach_scheduler(address)
        except ValueError as e:
            raise _params.ParamError(f"{study}: {e}") from None
    values = evidence_checks(study, values)
    from .project import import_study

    try:
        module = import_study(study)
    except ModuleNotFoundError:
        return
    check = getattr(module, "check_params", None)
    if check is not None:
        try:
            check(values)
        except (ValueError, KeyError) as e:
            raise _params.ParamError(f"{study}: {e}") from None
    if not smoke:  # a smoke run is not evidence: its overrides may leave the primaries out
        check_primary_ids(study, values, getattr(module, "claim_ids", None))


def check_primary_ids(study: str, values: dict, claim_ids) -> None:
    """Refuse declared primary ids these params cannot produce (a size or data set the run
    does not have, a method it does not train), naming the ids they can: otherwise the
    claim would silently come out "not testable" after the whole run. Studies that list
    their ids (``claim_ids(params)``) are checked; a declared id without a data set matches
    any one data set (:func:`kdkit.claims.generic_match`)."""
    from .claims import generic_match

    primary = values.get("primary") or []
    if claim_ids is None or not primary:
        return
    ids = claim_ids(values)
    bad = [k for k in primary if generic_match(k, ids) not in ids]
    if bad:
        shown = ", ".join(ids[:24]) + (f", … ({len(ids)} in all)" if len(ids) > 24 else "")
        raise _params.ParamError(
            f"{study}: declared primary {', '.join(repr(k) for k in bad)} cannot be produced "
            f"by these params (student sizes, data sets and methods as resolved; `kdkit list "
            f"{study}` shows them); ids they produce: {shown}")


def evidence_checks(study: str, values: dict) -> dict:
    """Check the evidence plan every study shares — ``seeds`` (a list of seeds ≥ 0, or a plan
    ``{start, step, max}``), ``primary`` (claim ids) and ``delta`` (smallest effects of
    interest) — and return the values with a plan's seeds as this look's list."""
    from .claims import Deltas
    from .sequential import resolve_seeds

    out = dict(values)
    if "seeds" in values:
        try:
            out["seeds"], _ = resolve_seeds(values["seeds"])
        except ValueError as e:
            raise _params.ParamError(f"{study}: {e}") from None
        bad = [s for s in out["seeds"] if not isinstance(s, int) or s < 0]
        if bad:
            raise _params.ParamError(f"{study}: seeds must be integers ≥ 0; got {bad}")
    primary = values.get("primary") or []
    if not all(isinstance(k, str) and k for k in primary):
        raise _params.ParamError(f"{study}: primary must be a list of claim ids (strings, as in "
                                 f"the id column of claims.csv); got {primary!r}")
    try:
        deltas = Deltas(values.get("delta"))
    except (ValueError, AttributeError) as e:
        raise _params.ParamError(f"{study}: {e}") from None
    if "seeds" in values:
        check_plan_power(study, resolve_seeds(values["seeds"])[1], primary, deltas)
    return out


def check_plan_power(study: str, plan, primary, deltas) -> None:
    """Refuse a seed plan that declares ``sd`` but cannot detect the smallest δ with 80 %
    power at its last look (``kdkit.sequential``: plans are sized by power, not budget)."""
    delta, tests = deltas.smallest(), len(primary)
    if plan is None or plan.sd is None or not primary or delta is None:
        return
    effect = plan.planned_mde(plan.sd, tests=tests)
    if effect <= delta:
        return
    need = plan.sized_max(plan.sd, delta, tests=tests)
    level = plan.alpha(plan.max) / tests
    raise _params.ParamError(
        f"{study}: the seed plan cannot decide its primary claims: at its max of {plan.max} "
        f"seeds (sd {plan.sd:g}, {tests} primary claims, level {level:.2g} at the last look) it "
        f"detects {effect:.4g} with 80 % power, more than δ = {delta:g}; "
        + (f"raise max to {need}" if need else "no max up to 1,000 seeds reaches it; change "
           "the design (a smaller sd) or δ")
        + " — plans are sized by power, not by budget")

"""Jobs: a study's work as plain function calls, run in-process or on Dask, and cached.

A study expresses its work as :class:`Job` s — one arm × configuration × seed each, a plain
function call that seeds itself — and gets the results back **in the order of the jobs**, so
its tables do not depend on how or where the jobs ran. :class:`Runner` runs them:

* in-process (the default; what the tests and ``--smoke`` use);
* on **Dask distributed**: a ``LocalCluster`` of ``workers`` single-threaded processes on the
  loopback interface, or an existing cluster at ``scheduler`` (``tcp://HOST:PORT``; also read
  from the ``KDKIT_SCHEDULER`` environment variable). Dask reschedules the job of a worker that
  dies; a job that keeps killing its workers is reported, never lost.

A job that raises does not stop the others: when all are done, :class:`JobsFailed` names
every failed job with its arguments and the last line of its traceback.

**Cache** (``cache=True``): each job's result is stored with ``joblib.Memory`` under ``<cache
root>/jobs-<platform>/``, keyed by a hash of the function (its code), its arguments and the
code version of what it can run. For a job of the ``kdkit`` package that is
:func:`module_version`: a hash of the source files in the static import closure of the job's
module (every kdkit module it imports, at the top or inside a function, transitively, with the
``__init__.py`` of their packages) and of the modules of any kdkit function passed in its
arguments — all but :data:`AFTER_JOBS`, the modules that only turn job results into claims,
figures and pages. So a fix to a verdict rule re-renders every report from the cache, a fix to
one study leaves the other studies' jobs cached, and changed code never reuses a stale result
(a test traces every smoke study's jobs and fails if one runs a kdkit file outside its
closure). A job defined outside the package (a test's, a notebook's) takes the whole package's
:func:`code_version`. An interrupted or extended run (more seeds, one more arm) recomputes only
the new jobs. The platform (:func:`platform_tag`: CPU architecture and the
vector instruction sets, torch and numpy versions) is part of the folder, because training is
chaotic enough that a last-bit difference between two CPUs' kernels gives other curves (kdkit
issue 39): a result computed on another machine is not reused as if it were this one's. Each
:meth:`Runner.run` counts the jobs it computed and those it took from the cache, and appends
them to ``$KDKIT_JOB_LOG`` when set (the report's ``run.json`` records them). The root is
``$KDKIT_CACHE`` or ``.cache/kdkit`` in the project; ``kdkit cache`` shows its size and ``kdkit
cache --clear`` empties it. On a remote cluster the cache lives on each worker's disk unless
the root is a shared folder.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

SCHEDULER_ENV = "KDKIT_SCHEDULER"
CACHE_ENV = "KDKIT_CACHE"


@dataclass(frozen=True)
class Job:
    """``fn(*args, **kwargs)``; ``name`` labels it in messages and progress bars."""

    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str = ""

    def label(self) -> str:
        return self.name or getattr(self.fn, "__name__", "job")


class JobsFailed(RuntimeError):
    """Some jobs raised; ``failures`` holds (job, exception name, last traceback line)."""

    def __init__(self, failures: list):
        self.failures = failures
        lines = [f"{len(failures)} job(s) failed:"]
        for job, ename, last in failures:
            lines.append(f"  {job.label()} {_describe(job)}: {ename}: {last}")
        super().__init__("\n".join(lines))


def _describe(job: Job) -> str:
    parts = [_short(a) for a in job.args] + [f"{k}={_short(v)}" for k, v in job.kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"<{type(value).__name__}>"


# Modules that only read job results (claims, statistics of verdicts, figures, pages, the CLI
# and the runner): a job never calls them, so they are not part of the code version.
# tests/test_notebooks.py traces every smoke study's jobs and fails if one does.
AFTER_JOBS = frozenset({
    "claims.py", "cli.py", "figure_check.py", "forest.py", "notebook.py", "plots.py",
    "power.py", "report.py", "runner.py", "scaffold.py", "sequential.py", "site.py",
    "sweep.py"})
TRACE_ENV = "KDKIT_TRACE_JOBS"
JOB_LOG_ENV = "KDKIT_JOB_LOG"


@lru_cache(maxsize=4)
def code_version(root: Path | None = None) -> str:
    """A hash of the ``.py`` files of the installed ``kdkit`` package (or the package folder
    ``root``) that jobs run (all but :data:`AFTER_JOBS`), 12 hex digits."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if str(rel) in AFTER_JOBS:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@lru_cache(maxsize=2)
def _import_graph(root: Path) -> tuple[dict, dict]:
    """kdkit's modules: {name: relative path} and {name: set of kdkit modules it imports},
    from the source text (imports inside functions count)."""
    import ast

    paths = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {m: set() for m in paths}
    for m, path in paths.items():
        pkg = m if path.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            graph[m] |= {n for n in names if n in paths and n != m}
    return {m: p.relative_to(root).as_posix() for m, p in paths.items()}, graph


def import_closure(module: str, root: Path | None = None) -> tuple[str, ...]:
    """The kdkit source files (paths relative to the package) that ``module`` can run: itself,
    every kdkit module it imports, transitively, and the ``__init__`` of each one's packages,
    without :data:`AFTER_JOBS`."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    paths, graph = _import_graph(root)
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen or m not in paths:
            continue
        seen.add(m)
        todo.extend(graph[m])
        parts = m.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # its packages
    return tuple(sorted(p for m in seen if (p := paths[m]) not in AFTER_JOBS))


@lru_cache(maxsize=None)
def module_version(module: str, root: Path | None = None) -> str:
    """A hash of the files of :func:`import_closure` of a kdkit ``module`` (in the installed
    package, or the package folder ``root``), 12 hex digits."""
    root = Path(root) if root is not None else Path(__file__).resolve().parent
    h = hashlib.sha256()
    for rel in import_closure(module, root):
        h.update(rel.encode())
        h.update((root / rel).read_bytes())
    return h.hexdigest()[:12]


def _kdkit_modules(value, out: set, depth: int = 0) -> set:
    """The kdkit modules of the functions, classes and objects in a job's arguments (a
    function's or class's own module, an object's class's; in lists, tuples and dict values,
    three levels deep)."""
    mod = getattr(value, "__module__", None) if callable(value) else type(value).__module__
    if isinstance(mod, str) and mod.split(".")[0] == "kdkit":
        out.add(mod)
    if depth < 3 and isinstance(value, (list, tuple, dict)):
        for v in (value.values() if isinstance(value, dict) else value):
            _kdkit_modules(v, out, depth + 1)
    return out


def job_code_version(fn, args=(), kwargs=None) -> str:
    """The code a job can run, as a hash: :func:`module_version` of the job's module and of
    every kdkit module of a function in its arguments; a function from outside the package
    takes the whole package's :func:`code_version`."""
    mod = getattr(fn, "__module__", "") or ""
    if mod.split(".")[0] != "kdkit":
        return code_version()
    mods = _kdkit_modules(list(args) + list((kwargs or {}).values()), {mod})
    return "+".join(module_version(m) for m in sorted(mods))


@lru_cache(maxsize=1)
def cpu_info() -> dict:
    """This machine's CPU as it matters for float results: architecture, model name and the
    vector instruction sets torch's kernels choose between (from /proc/cpuinfo on Linux)."""
    import platform

    info = {"machine": platform.machine(), "model": platform.processor() or "", "flags": []}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni",
              "amx_tile", "asimd", "sve")
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and info["model"] in ("", info["machine"]):
            info["model"] = value.strip()  # platform.processor() is often empty on Linux
        elif key in ("flags", "Features") and not info["flags"]:
            have = set(value.split())
            info["flags"] = [f for f in wanted if f in have]
    return info


@lru_cache(maxsize=1)
def platform_tag() -> str:
    """8 hex digits for what makes float results machine-specific: the CPU's architecture and
    vector instruction sets (:func:`cpu_info`, not its model name), torch and numpy."""
    from importlib import metadata

    cpu = cpu_info()
    parts = [cpu["machine"], *cpu["flags"]]
    for pkg in ("torch", "numpy"):
        try:
            parts.append(f"{pkg}={metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg}=none")
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:8]


def cache_root() -> Path:
    """Where cached job results live: ``$KDKIT_CACHE`` or ``<project>/.cache/kdkit``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    from .project import find_project

    project = find_project(required=False)
    return (project or Path.cwd()) / ".cache" / "kdkit"


def cache_size(root: Path | None = None) -> int:
    """Bytes used by the cache."""
    root = root or cache_root()
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def reach_scheduler(address: str, timeout: float = 5.0) -> None:
    """Open (and close) a TCP connection to a Dask scheduler at ``tcp://HOST:PORT``; raise
    ``ValueError`` saying what is wrong, so that a run fails before any kernel starts."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise ValueError(f"scheduler {address!r} is not an address of the form tcp://HOST:PORT")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as e:
        raise ValueError(f"cannot reach the Dask scheduler at {address} ({e.strerror or e}); "
                         "start it (dask scheduler) or drop --scheduler / "
                         f"${SCHEDULER_ENV}") from None


def _execute(fn, args, kwargs, location, threads):
    """Run one job where it lands (this process or a Dask worker): thread limits (torch and
    the BLAS libraries), then the cache."""
    import torch
    from threadpoolctl import threadpool_limits

    from .allocator import keep_freed_memory

    keep_freed_memory()
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        if location is None:
            return _call(fn, args, kwargs), False
        from joblib import Memory

        key = job_key(fn, args, kwargs)
        cached = Memory(location, verbose=0).cache(_keyed, ignore=["fn", "args", "kwargs"])
        hit = cached.check_call_in_cache(key, fn, args, kwargs)
        return cached(key, fn, args, kwargs), hit


def _call(fn, args, kwargs):
    """``fn(*args, **kwargs)``; with ``$KDKIT_TRACE_JOBS`` set, the source file of every Python
    function the call runs is appended to that file, after the kdkit modules whose closure
    keys the job (``mod1,mod2<TAB>file``; the test of :data:`AFTER_JOBS` and of
    :func:`import_closure`)."""
    trace = os.environ.get(TRACE_ENV)
    if not trace:
        return fn(*args, **kwargs)
    import sys

    files: set[str] = set()

    def record(frame, event, arg):
        if event == "call":
            files.add(frame.f_code.co_filename)

    sys.setprofile(record)
    try:
        return fn(*args, **kwargs)
    finally:
        sys.setprofile(None)
        mod = getattr(fn, "__module__", "") or ""
        mods = ",".join(sorted(_kdkit_modules(list(args) + list(kwargs.values()), {mod})))
        with open(trace, "a") as f:
            f.writelines(f"{mods}\t{name}\n" for name in sorted(files))


def _keyed(key, fn, args, kwargs):
    """The cached call: joblib keys it by ``key`` alone (:func:`job_key`)."""
    return _call(fn, args, kwargs)


def job_key(fn, args, kwargs) -> str:
    """The cache key of a job: the function (module, name, source) and its arguments, with
    torch modules and tensors replaced by their contents (:func:`canonical`). Hashing a torch
    module as pickled gives another key once it has been through a pickle round trip (a
    result loaded from the cache, or sent to a Dask worker), so a job that takes a model
    trained by an earlier job (a KD student's teacher) would never find its cached result."""
    import inspect

    import joblib

    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = getattr(getattr(fn, "__code__", None), "co_code", repr(fn))
    ident = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), source,
             job_code_version(fn, args, kwargs))
    return joblib.hash((ident, canonical(args), canonical(kwargs)))


def job_params(p: dict) -> dict:
    """The study params as a job's argument: without ``seeds``, with ``first_seed``. A seed
    plan's list of seeds grows at every look, so a job keyed on the whole params would miss
    the cache for every seed an earlier look already ran (``--until-decided`` recomputing
    them); the first seed (the tuning seed) is the one fact jobs read from the list."""
    out = {k: v for k, v in p.items() if k != "seeds"}
    if p.get("seeds"):
        out["first_seed"] = list(p["seeds"])[0]
    return out


def canonical(obj):
    """``obj`` with every torch module, tensor and dataclass replaced by a plain description
    of its contents — a module by its class, its architecture (``repr``: sizes, dropout) and
    its state as NumPy arrays — so that equal contents hash equal wherever they come from."""
    import dataclasses

    import torch

    if isinstance(obj, torch.nn.Module):
        return ("module", type(obj).__qualname__, repr(obj),
                [(k, v.detach().cpu().numpy()) for k, v in obj.state_dict().items()])
    if isinstance(obj, torch.Tensor):
        return ("tensor", obj.detach().cpu().numpy())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return ("dataclass", type(obj).__qualname__,
                [(f.name, canonical(getattr(obj, f.name))) for f in dataclasses.fields(obj)])
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [canonical(v) for v in obj]
    if isinstance(obj, dict):
        return "dict", [(k, canonical(v)) for k, v in obj.items()]
    return obj


def _last_line(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return lines[-1].strip().split(": ", 1)[-1] if lines else str(exc)


class Runner:
    """Runs lists of jobs; ``workers`` > 1 or a ``scheduler`` address means Dask.

    Use as a context manager (or call ``close()``) so that a local cluster is shut down.
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, *, cache: bool = False,
                 threads: int = 1, progress: bool = True):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers, self.threads, self.progress = workers, threads, progress
        self.scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self.location = str(cache_root() / f"jobs-{platform_tag()}") if cache else None
        self._client = self._cluster = None
        self.computed = self.cached = 0  # jobs run here and jobs taken from the cache

    @property
    def kind(self) -> str:
        if self.scheduler:
            return f"Dask cluster at {self.scheduler}"
        if self.workers > 1:
            return f"Dask LocalCluster, {self.workers} workers × 1 thread (127.0.0.1)"
        return "in-process"

    def _dask(self):
        if self._client is None:
            import logging

            import dask
            from distributed import Client, LocalCluster

            n = str(self.threads)
            dask.config.set({"distributed.scheduler.allowed-failures": 2,
                             "distributed.worker.daemon": False,
                             "distributed.nanny.pre-spawn-environ": {
                                 "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
                                 "OPENBLAS_NUM_THREADS": n}})
            if self.scheduler:
                self._client = Client(self.scheduler, set_as_default=False)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(self._cluster, set_as_default=False)
        return self._client

    def run(self, jobs: Sequence[Job], desc: str = "jobs") -> list:
        """Results of ``jobs`` in their order; raises :class:`JobsFailed` after all ran if
        any raised."""
        jobs = list(jobs)
        if not jobs:
            return []
        t0 = time.perf_counter()
        if self.scheduler or self.workers > 1:
            results, failures = self._run_dask(jobs, desc)
        else:
            results, failures = self._run_local(jobs, desc)
        hits = sum(1 for r in results if r is not None and r[1])
        results = [r[0] if r is not None else None for r in results]
        self.cached += hits
        self.computed += len(jobs) - hits
        self._log(desc, len(jobs) - hits, hits, time.perf_counter() - t0)
        if failures:
            raise JobsFailed(failures)
        return results

    @staticmethod
    def _log(desc: str, computed: int, cached: int, seconds: float) -> None:
        """One JSON line per :meth:`run` to ``$KDKIT_JOB_LOG`` (when set)."""
        path = os.environ.get(JOB_LOG_ENV)
        if path:
            import json

            with open(path, "a") as f:
                f.write(json.dumps({"desc": desc, "computed": computed, "cached": cached,
                                    "seconds": round(seconds, 2)}) + "\n")

    def map(self, fn: Callable, items: Sequence, desc: str = "jobs", **kwargs) -> list:
        """``run([Job(fn, (item,), kwargs) for item in items])``."""
        return self.run([Job(fn, (item,), kwargs) for item in items], desc)

    def _bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not self.progress, leave=False)

    def _run_local(self, jobs, desc):
        results, failures = [None] * len(jobs), []
        with self._bar(len(jobs), desc) as bar:
            for i, job in enumerate(jobs):
                try:
                    results[i] = _execute(job.fn, job.args, job.kwargs, self.location,
                                          self.threads)
                except Exception as e:  # reported after the others ran
                    traceback.print_exc()
                    failures.append((job, type(e).__name__, _last_line(e)))
                bar.update()
        return results, failures

    def _run_dask(self, jobs, desc):
        from distributed import as_completed

        client = self._dask()
        futures = [client.submit(_execute, job.fn, job.args, job.kwargs, self.location,
                                 self.threads, pure=False, key=f"kdkit-{i}-{os.urandom(4).hex()}")
                   for i, job in enumerate(jobs)]
        index = {f.key: i for i, f in enumerate(futures)}
        results, failures = [None] * len(jobs), []
        with self._bar(len(jobs), desc) as bar:
            for future in as_completed(futures, loop=client.loop):
                i = index[future.key]
                if future.status == "finished":
                    results[i] = future.result()
                else:
                    exc = future.exception()
                    failures.append((i, jobs[i], type(exc).__name__, _last_line(exc)))
                bar.update()
        return results, [f[1:] for f in sorted(failures, key=lambda f: f[0])]

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def in_process() -> Runner:
    """The default runner: in-process, no cache, no progress bar."""
    return Runner(progress=False)

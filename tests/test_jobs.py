"""The job layer: order, failures, the cache, and a real Dask LocalCluster."""

import os
from pathlib import Path

import pytest

from kdkit import jobs
from kdkit.jobs import Job, JobsFailed, Runner


def square(x, log=None):
    if log:
        with open(log, "a") as f:
            f.write(f"{x}\n")
    return x * x


def boom(x):
    raise ValueError(f"bad value {x}")


def die_once(marker):
    """Kill the worker process the first time (as an out-of-memory kill would)."""
    if not Path(marker).exists():
        Path(marker).write_text("died")
        os._exit(1)
    return "survived"


def die_always():
    os._exit(1)


def calls(log):
    return Path(log).read_text().split() if Path(log).exists() else []


def test_in_process_keeps_order_and_reports_failures_after_the_others():
    r = Runner(progress=False)
    assert r.run([Job(square, (x,)) for x in (3, 1, 2)]) == [9, 1, 4]
    with pytest.raises(JobsFailed) as e:
        r.run([Job(square, (2,)), Job(boom, (7,), name="arm x seed 7"), Job(square, (5,))])
    assert "arm x seed 7 (7): ValueError: bad value 7" in str(e.value)
    assert len(e.value.failures) == 1


def test_cache_reruns_nothing_and_recomputes_only_a_changed_job(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    log = str(tmp_path / "log")
    r = Runner(cache=True, progress=False)
    assert r.run([Job(square, (x,), {"log": log}) for x in (1, 2)]) == [1, 4]
    assert r.run([Job(square, (x,), {"log": log}) for x in (1, 2)]) == [1, 4]
    assert calls(log) == ["1", "2"]  # the rerun did no work
    assert r.run([Job(square, (x,), {"log": log}) for x in (1, 3)]) == [1, 9]
    assert calls(log) == ["1", "2", "3"]  # only the changed parameter
    assert jobs.cache_size() > 0


def fit_on(teacher, log=None):
    if log:
        with open(log, "a") as f:
            f.write("fit\n")
    return float(teacher.weight.sum())


def test_a_job_that_takes_a_model_finds_its_result_after_a_pickle_round_trip(tmp_path,
                                                                           monkeypatch):
    # the bpr_kd case: stage 2's jobs take the teachers stage 1 trained; a rerun loads those
    # teachers from the cache (a pickle round trip), and must still find stage 2's results
    import pickle

    import torch

    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    log = str(tmp_path / "log")
    torch.manual_seed(0)
    teacher = torch.nn.Linear(4, 3)
    again = pickle.loads(pickle.dumps(teacher))
    r = Runner(cache=True, progress=False)
    first = r.run([Job(fit_on, (teacher,), {"log": log})])
    assert r.run([Job(fit_on, (again,), {"log": log})]) == first
    assert calls(log) == ["fit"]
    with torch.no_grad():
        again.weight.add_(1.0)  # another teacher: computed anew
    r.run([Job(fit_on, (again,), {"log": log})])
    assert calls(log) == ["fit", "fit"]
    assert jobs.job_key(fit_on, (torch.nn.Dropout(0.1),), {}) != \
        jobs.job_key(fit_on, (torch.nn.Dropout(0.2),), {})


def test_changed_code_never_reuses_a_stale_result(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    log = str(tmp_path / "log")
    Runner(cache=True, progress=False).run([Job(square, (4,), {"log": log})])
    monkeypatch.setattr(jobs, "code_version", lambda: "another-version")
    Runner(cache=True, progress=False).run([Job(square, (4,), {"log": log})])
    assert calls(log) == ["4", "4"]


@pytest.fixture(scope="module")
def dask_runner():
    # worker processes must import this module: put the project on their path
    root = str(Path(__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + old if old else "")
    with Runner(workers=2, progress=False) as r:
        yield r
    if old is None:
        os.environ.pop("PYTHONPATH")
    else:
        os.environ["PYTHONPATH"] = old


def test_dask_local_cluster_gives_the_in_process_results(dask_runner):
    assert dask_runner.kind.startswith("Dask LocalCluster, 2 workers")
    todo = [Job(square, (x,)) for x in range(6)]
    assert dask_runner.run(todo) == Runner(progress=False).run(todo)


def test_dask_reports_a_failed_job_and_finishes_the_others(dask_runner):
    with pytest.raises(JobsFailed) as e:
        dask_runner.run([Job(square, (2,)), Job(boom, (3,), name="bad"), Job(square, (4,))])
    assert "bad (3): ValueError: bad value 3" in str(e.value)


def test_dask_retries_the_job_of_a_killed_worker(dask_runner, tmp_path):
    assert dask_runner.run([Job(die_once, (str(tmp_path / "marker"),)), Job(square, (3,))]) \
        == ["survived", 9]


def test_dask_reports_a_job_that_keeps_killing_its_worker(dask_runner):
    with pytest.raises(JobsFailed) as e:
        dask_runner.run([Job(die_always, name="killer"), Job(square, (5,))])
    assert "killer" in str(e.value) and "KilledWorker" in str(e.value)


def test_a_later_look_keeps_the_job_keys_of_the_earlier_seeds():
    """The case seen on fisher_layerwise's second look: jobs that took the whole params had
    another key once ``seeds`` grew from 5 to 10, so seeds 5-9 were recomputed."""
    from kdkit.jobs import job_key, job_params

    def work(p, seed):
        return seed

    look1 = {"lr": 0.005, "seeds": [5, 6, 7, 8, 9]}
    look2 = {"lr": 0.005, "seeds": list(range(5, 15))}
    assert job_key(work, (look1, 6), {}) != job_key(work, (look2, 6), {})  # the bug
    assert job_key(work, (job_params(look1), 6), {}) == job_key(work, (job_params(look2), 6), {})
    assert job_params(look2) == {"lr": 0.005, "first_seed": 5}
    # the tuning seed still tells jobs apart
    assert job_params({"seeds": [0, 1]}) != job_params({"seeds": [1, 2]})


def test_freed_memory_is_kept_for_reuse_on_glibc():
    import platform

    from kdkit.allocator import keep_freed_memory
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert keep_freed_memory() is True and keep_freed_memory() is True  # idempotent


def test_code_version_ignores_the_modules_that_only_read_job_results(tmp_path):
    import shutil

    pkg = tmp_path / "kdkit"
    shutil.copytree(Path(jobs.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    version = jobs.code_version.__wrapped__  # not the lru_cache of the installed package
    before = version(pkg)
    (pkg / "claims.py").write_text((pkg / "claims.py").read_text() + "\n# a verdict rule\n")
    (pkg / "site.py").write_text((pkg / "site.py").read_text() + "\n# a page\n")
    assert version(pkg) == before
    (pkg / "distill" / "htd.py").write_text((pkg / "distill" / "htd.py").read_text() + "\n#\n")
    assert version(pkg) != before


def test_a_fix_to_one_study_keeps_the_other_studies_jobs_cached(tmp_path):
    """A job's code version covers the import closure of its module: editing topology_kd
    leaves geometric_kd's version as it was; a shared model module changes both; a verdict
    rule (claims.py, left out of every closure) changes neither."""
    import shutil

    pkg = tmp_path / "kdkit"
    shutil.copytree(Path(jobs.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    version = jobs.module_version.__wrapped__  # not the lru_cache of the installed package
    geo, topo = "kdkit.studies.geometric_kd", "kdkit.studies.topology_kd"
    closure = jobs.import_closure(geo, pkg)
    assert "studies/geometric_kd.py" in closure and "geometry/distance.py" in closure
    assert "studies/topology_kd.py" not in closure and "claims.py" not in closure
    assert "__init__.py" in closure and "studies/__init__.py" in closure
    g0, t0 = version(geo, pkg), version(topo, pkg)

    def touch(rel):
        (pkg / rel).write_text((pkg / rel).read_text() + "\n# edited\n")
        jobs._import_graph.cache_clear()

    touch("studies/topology_kd.py")
    assert version(geo, pkg) == g0 and version(topo, pkg) != t0
    g1, t1 = version(geo, pkg), version(topo, pkg)
    touch("stats.py")  # both studies' jobs use it
    assert version(geo, pkg) != g1 and version(topo, pkg) != t1
    g2 = version(geo, pkg)
    touch("claims.py")
    assert version(geo, pkg) == g2


def test_a_kdkit_function_passed_to_a_job_joins_its_code_version():
    from kdkit import stats
    from kdkit.studies import geometric_kd as gk
    alone = jobs.job_code_version(gk.student_job, (1,), {})
    assert alone == jobs.module_version("kdkit.studies.geometric_kd")
    both = jobs.job_code_version(gk.student_job, ([stats.mean_ci],), {})
    # by module name: kdkit.stats, then kdkit.studies.geometric_kd
    assert both == jobs.module_version("kdkit.stats") + "+" + alone
    assert jobs.job_code_version(square, (1,), {}) == jobs.code_version()


def test_the_cache_folder_names_the_platform(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    r = Runner(cache=True, progress=False)
    assert Path(r.location).name == f"jobs-{jobs.platform_tag()}"
    assert len(jobs.platform_tag()) == 8 and jobs.cpu_info()["machine"]


def test_runs_count_jobs_computed_and_cached_into_the_job_log(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv(jobs.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(jobs.JOB_LOG_ENV, str(tmp_path / "jobs.log"))
    log = str(tmp_path / "log")
    r = Runner(cache=True, progress=False)
    assert r.run([Job(square, (4,), {"log": log}), Job(square, (5,), {"log": log})]) == [16, 25]
    assert r.run([Job(square, (4,), {"log": log}), Job(square, (6,), {"log": log})],
                 desc="again") == [16, 36]
    assert (r.computed, r.cached) == (3, 1)
    lines = [json.loads(x) for x in (tmp_path / "jobs.log").read_text().splitlines()]
    assert [(x["desc"], x["computed"], x["cached"]) for x in lines] == [("jobs", 2, 0),
                                                                        ("again", 1, 1)]


def test_the_run_record_sums_the_job_log_and_keeps_each_stage(tmp_path):
    from kdkit.runner import job_counts
    log = tmp_path / "jobs.log"
    log.write_text('{"desc": "tuning", "computed": 36, "cached": 0, "seconds": 900.5}\n'
                   '{"desc": "KD students", "computed": 10, "cached": 38, "seconds": 300.0}\n')
    got = job_counts(log)
    assert (got["computed"], got["cached"]) == (46, 38)
    assert [(x["desc"], x["seconds"]) for x in got["stages"]] == [("tuning", 900.5),
                                                                  ("KD students", 300.0)]
    assert job_counts(tmp_path / "absent") == {"computed": 0, "cached": 0, "stages": []}

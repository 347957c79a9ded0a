"""``kdkit`` command line: run, sweep, list, new, cache, site."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata

from . import params as _params
from .project import PROJECT_ENV, ProjectNotFound


def _list(names: list[str], short: bool) -> int:
    from . import runner

    for name in names:
        runner.split_name(name)  # an unknown name: one clear error, exit 2
    chosen = [s for s in runner.studies()
              if not names or s in names or any(runner.split_name(n)[0] == s for n in names)]
    if short:
        for study in chosen:
            names_ = runner.variants(study)
            print(f"{study}" + (f"  (variants: {', '.join(names_)})" if names_ else ""))
        return 0
    shown = [(s, None) for s in chosen if not names or s in names]
    shown += [(runner.split_name(n)[0], n) for n in names if runner.split_name(n)[1]]
    for study, variant in shown:
        schema = _params.read_schema(runner.notebook_path(study))
        pfile = runner.split_name(variant)[1] if variant else runner.default_params_file(study)
        full = {}
        for f in runner.params_chain(study, pfile if pfile.exists() else None):
            full.update(_params.load_yaml(f))
        what = (f"variant {variant}: params/{runner.default_params_file(study).name} < "
                f"params/{pfile.name}, the values it runs with" if variant else
                f"full study: {'params/' + pfile.name if pfile.exists() else 'notebook defaults'}")
        print(f"{variant or study}  (notebooks/{study}.ipynb; {what})")
        for p in schema.values():
            if p.name in _params.RESERVED:
                continue
            line = f"  {p.name:<24} {p.type_name:<12} smoke={p.default!r}"
            if p.name in full:
                line += f"  full={full[p.name]!r}"
            if p.comment:
                line += f"  # {p.comment}"
            print(line)
        others = runner.variants(study)
        if others and not variant:
            print("  variants (kdkit run NAME; each reported to reports/NAME/): "
                  + ", ".join(others))
        print()
    return 0


def _new(name: str, like: str) -> int:
    from . import runner
    from .scaffold import ScaffoldError, new_study

    try:
        paths = new_study(runner.project_root(), name, like,
                          existing=runner.studies() + runner.variants())
    except ScaffoldError as e:
        print(f"kdkit new: {e}", file=sys.stderr)
        return 2
    root = runner.project_root()
    for p in paths.values():
        print(f"wrote {p.relative_to(root)}")
    print(f"next: kdkit run {name} --smoke   (then kdkit run {name} for the full study; "
          f"pytest {paths['test'].relative_to(root)})")
    return 0


def _cache(clear: bool) -> int:
    import shutil

    from .jobs import cache_root, cache_size, code_version

    root = cache_root()
    size = cache_size(root)
    print(f"job cache: {root} ({size / 1e6:.1f} MB; a job is keyed by the kdkit code it imports; "
          f"whole package: {code_version()})")
    if clear and root.exists():
        shutil.rmtree(root)
        print(f"cleared {size / 1e6:.1f} MB")
    return 0


def _run_args(r):
    r.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter (value parsed as YAML); repeatable")
    r.add_argument("--smoke", action="store_true",
                   help="the notebook's CI-sized defaults, written to scratch/ (not reports/)")
    r.add_argument("--out", default=None, help="report root (default: the project's reports/, "
                   "or scratch/ with --smoke)")
    r.add_argument("--workers", type=int, default=None,
                   help="run the study's jobs on a local Dask cluster of N workers")
    r.add_argument("--scheduler", default=None, help="run the study's jobs on the Dask "
                   "cluster at this address (tcp://HOST:PORT; or $KDKIT_SCHEDULER)")
    r.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")


def _scale_overrides(args) -> list[str]:
    extra = []
    if args.workers is not None:
        extra.append(f"workers={args.workers}")
    if args.scheduler:
        extra.append(f"scheduler={args.scheduler}")
    return list(args.overrides) + extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kdkit", description="Run kdkit studies into reports/.")
    ap.add_argument("--version", action="version",
                    version=f"kdkit {metadata.version('kdkit')}")
    ap.add_argument("--project", default=None, help="the project folder (default: found from "
                    "the current directory)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run studies (params/STUDY.yaml unless --smoke)")
    r.add_argument("studies", nargs="*", help="study or variant names (see `kdkit list`)")
    r.add_argument("--all", action="store_true", help="run every study (not the variants)")
    r.add_argument("--params", help="params YAML (default params/STUDY.yaml)")
    r.add_argument("--replace-full-report", action="store_true",
                   help="let a --smoke run replace a full report in --out")
    r.add_argument("--replace", action="store_true",
                   help="let a full run with overrides (or fewer seeds than the report there) "
                        "write over reports/NAME/ instead of reports/NAME-custom/")
    r.add_argument("--until-decided", action="store_true",
                   help="with a seed plan (seeds: {start, step, max}), add seeds look by look "
                        "until every primary claim is decided or max is reached (finished jobs "
                        "come from the job cache)")
    _run_args(r)
    s = sub.add_parser("sweep", help="run one study over a grid of its parameters")
    s.add_argument("study")
    s.add_argument("--grid", required=True, help="grid YAML (see params/sweep-*.yaml)")
    _run_args(s)
    ls = sub.add_parser("list", help="list studies, variants and their parameters")
    ls.add_argument("studies", nargs="*", help="only these studies (default: all)")
    ls.add_argument("--short", action="store_true", help="one line per study, no parameters")
    c = sub.add_parser("cache", help="show (or --clear) the job cache")
    c.add_argument("--clear", action="store_true")
    sub.add_parser("site", help="rebuild the HTML pages of reports/ from the report files")
    n = sub.add_parser("new", help="write a working study to edit: notebook, study module, "
                                   "params and a test")
    n.add_argument("name", help="the new study's name (a lowercase Python identifier)")
    n.add_argument("--like", default="transfer", help="the design to start from "
                   "(transfer: KD on a transfer set with a self-training control and an oracle)")
    args = ap.parse_args(argv)
    previous = os.environ.get(PROJECT_ENV)
    if args.project:  # for this command and the kernels it starts
        os.environ[PROJECT_ENV] = args.project
    try:
        return _dispatch(args)
    finally:
        if previous is None:
            os.environ.pop(PROJECT_ENV, None)
        else:
            os.environ[PROJECT_ENV] = previous


def _dispatch(args) -> int:
    try:
        from . import runner

        runner.project_root()
        if args.cmd == "list":
            return _list(args.studies, args.short)
        if args.cmd == "cache":
            return _cache(args.clear)
        if args.cmd == "new":
            return _new(args.name, args.like)
        if args.cmd == "site":
            print(runner.write_index(runner.reports_dir()).parent / "index.html")
            return 0
        if args.cmd == "sweep":
            from .sweep import run_sweep

            return run_sweep(args.study, args.grid, smoke=args.smoke,
                             overrides=list(args.overrides), out=args.out,
                             workers=args.workers or 1, scheduler=args.scheduler)
        return runner.main_run(args.studies, all_studies=args.all, params_file=args.params,
                               smoke=args.smoke, overrides=_scale_overrides(args),
                               out=args.out, progress=not args.no_progress,
                               replace_full=args.replace_full_report,
                               until_decided=args.until_decided, replace=args.replace)
    except (_params.ParamError, ProjectNotFound) as e:
        print(f"kdkit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

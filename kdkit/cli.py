"""``kdkit`` command line: ``kdkit run`` and ``kdkit list``."""

from __future__ import annotations

import argparse
import sys

from . import params as _params
from . import runner


def _list() -> int:
    for study in runner.studies():
        schema = _params.read_schema(runner.notebook_path(study))
        pfile = runner.default_params_file(study)
        full = _params.load_yaml(pfile) if pfile.exists() else {}
        print(f"{study}  (notebooks/{study}.ipynb; full study: "
              f"{'params/' + pfile.name if pfile.exists() else 'notebook defaults'})")
        for p in schema.values():
            if p.name in _params.RESERVED:
                continue
            line = f"  {p.name:<24} {p.type_name:<12} smoke={p.default!r}"
            if p.name in full:
                line += f"  full={full[p.name]!r}"
            if p.comment:
                line += f"  # {p.comment}"
            print(line)
        variants = sorted(runner.params_dir().glob(f"{study}-*.yaml"))
        if variants:
            print("  variants (--params, each reported to reports/<file name>/): "
                  + ", ".join(f"params/{v.name}" for v in variants))
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kdkit", description="Run kdkit studies into reports/.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run studies (params/STUDY.yaml unless --smoke)")
    r.add_argument("studies", nargs="*", help="study names (see `kdkit list`)")
    r.add_argument("--all", action="store_true", help="run every study")
    r.add_argument("--params", help="params YAML (default params/STUDY.yaml)")
    r.add_argument("--smoke", action="store_true",
                   help="use the notebook's CI-sized defaults instead of params/STUDY.yaml")
    r.add_argument("-p", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one parameter (value parsed as YAML); repeatable")
    r.add_argument("--out", default=None,
                   help="report root (default: the project's reports/, wherever you run from)")
    r.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    sub.add_parser("list", help="list studies and their parameters")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "list":
            return _list()
        return runner.main_run(args.studies, all_studies=args.all, params_file=args.params,
                               smoke=args.smoke, overrides=args.overrides,
                               out=args.out or str(runner.project_root() / "reports"),
                               progress=not args.no_progress)
    except _params.ParamError as e:
        print(f"kdkit: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

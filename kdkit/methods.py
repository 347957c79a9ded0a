"""Distillation methods as plug-ins: a KD loss declared once, an arm of every study of its kind.

A study compares *arms*; its built-in KD methods (FTD, HTD, …) are arms, and a user's method
becomes one by naming it in the study's ``methods`` param, e.g.
``methods: [student, ftd, htd, mypkg.losses:rrd]``. It then gets what a built-in gets: the same
tuning grid, the same early stopping and gates, a claim "NAME improves the student" (with δ,
Holm within its family, power) and its rows in every table and figure.

**Kinds** (the interface a method of that kind implements):

* ``"bpr-batch"`` — a loss for kdkit's mini-batch BPR loop (``kdkit.recsys.train.train_bpr``;
  topology_kd): ``factory(teacher, student_dim, protocol, seed) -> loss_fn`` where
  ``loss_fn(model, users, pos, neg)`` returns the batch's scalar loss (BPR included);
  ``teacher`` is the frozen teacher model (``.user`` / ``.item`` embeddings), ``protocol`` the
  study's settings (e.g. ``td_lambda``, ``reduction``). A loss that is an ``nn.Module`` trains
  its own parameters with the student; one with ``start_epoch(epoch, epochs)`` is told when
  each epoch starts.

* ``"bpr-sgd"`` — a teacher-derived term for bpr_kd's compiled per-sample SGD loop
  (``kdkit.recsys.bpr_sgd``): ``factory(teacher, data, setting) -> (margin, candidates)``, each
  ``None`` or the loop's own term — a :class:`~kdkit.recsys.bpr_sgd.MarginKD` (a soft target on
  every pair's margin, from any teacher factors) or a
  :class:`~kdkit.recsys.bpr_sgd.CandidateKD` (extra positives per user with weights that may
  change every epoch, e.g. Ranking Distillation's). ``teacher`` is the frozen teacher (for the
  shuffled control, the same teacher with its users permuted), ``data`` the seed's interaction
  data (``data.matrix("train")``: the observed items), ``setting`` one point of the method's
  ``kd_grid`` (a dict of numbers, e.g. ``{alpha: 0.3}``), tuned with lr like a built-in.

* ``"tabular-targets"`` — soft targets for cross_paradigm's transfer-set design:
  ``factory(proba, seed) -> targets``, from the teacher's class probabilities on the unlabelled
  transfer rows (n, C) to the targets the student learns there (n, C, each row a distribution;
  e.g. sharpened, filtered or smoothed teacher outputs). The student then trains exactly as the
  KD arm does (true labels on the training rows, the same α, T grid, the same gradient steps).

**Names.** A name with a colon or a dot is an import path, ``package.module:factory`` (or
``package.module.factory``): the module is imported where the job runs, so the method works on
Dask workers too, as long as its package is importable there (a package in the project folder,
such as ``plugins/``, always is). :func:`register` gives a factory
a short name in the current process (for a notebook cell; a job on another process needs the
import path). A factory may carry a ``label`` attribute (the name shown in tables; default: the
last part of the name).
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable

KINDS = {"bpr-batch": "factory(teacher, student_dim, protocol, seed) -> "
                      "loss_fn(model, users, pos, neg) -> scalar",
         "bpr-sgd": "factory(teacher, data, setting) -> (MarginKD | None, CandidateKD | None)",
         "tabular-targets": "factory(proba, seed) -> targets (n, C), rows summing to 1"}
_REGISTRY: dict[tuple[str, str], Callable] = {}


def register(kind: str, name: str):
    """Decorator: ``@register("bpr-batch", "rrd")`` makes ``rrd`` a method of that kind."""
    _check_kind(kind)

    def wrap(factory):
        _REGISTRY[(kind, name)] = factory
        return factory

    return wrap


def is_import_path(name: str) -> bool:
    return ":" in name or "." in name


def get(kind: str, name: str) -> Callable:
    """The factory of method ``name`` of ``kind`` (registered, or imported from its path);
    a ``ValueError`` that names what is wrong and what is allowed otherwise."""
    _check_kind(kind)
    if (kind, name) in _REGISTRY:
        return _REGISTRY[(kind, name)]
    if not is_import_path(name):
        raise ValueError(f"unknown {kind} method '{name}'; registered: "
                         f"{', '.join(registered(kind)) or 'none'}; or give an import path "
                         "such as mypkg.losses:my_loss")
    module, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
    try:
        obj = getattr(_import(module), attr)
    except ModuleNotFoundError as e:
        raise ValueError(f"method '{name}': module '{module}' cannot be imported ({e}); "
                         "is its package installed or on PYTHONPATH?") from None
    except AttributeError:
        raise ValueError(f"method '{name}': module '{module}' has no '{attr}'") from None
    if not callable(obj):
        raise ValueError(f"method '{name}' is not callable: a {kind} method is a factory "
                         f"{KINDS[kind]}")
    return obj


def check_names(kind: str, names, builtin, *, key: str = "methods") -> None:
    """For a study's ``check_params``: every name in ``names`` (the param ``key``) is built in
    or a method of ``kind`` that can be imported; else one ``ValueError`` naming the bad one
    and what is allowed (``kdkit run`` exits 2 with it, before a kernel starts)."""
    for name in names:
        if name not in builtin:
            try:
                get(kind, name)
            except ValueError as e:
                more = f"; built in: {', '.join(builtin)}" if builtin else ""
                raise ValueError(f"{key}: {e}{more}") from None


def _import(module: str):
    """Import ``module``; failing that, from the project folder (where a user keeps a package
    of plug-ins, e.g. ``plugins/``), which a Dask worker's path may lack."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        from .project import find_project

        root = find_project(required=False)
        if root is None or str(root) in sys.path or e.name != module.split(".")[0]:
            raise
        sys.path.append(str(root))
        return importlib.import_module(module)


def label(kind: str, name: str) -> str:
    """The name a method shows in tables: its factory's ``label``, else the last part."""
    factory = get(kind, name)
    return getattr(factory, "label", None) or name.replace(":", ".").rsplit(".", 1)[-1]


def registered(kind: str) -> list[str]:
    return sorted(n for k, n in _REGISTRY if k == kind)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown method kind '{kind}'; allowed: {', '.join(KINDS)}")

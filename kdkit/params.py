"""Study parameters: read a notebook's ``parameters`` cell, load YAML, validate.

The cell tagged ``parameters`` is the schema: every assignment ``name = default`` (optionally
annotated, ``name: Optional[int] = None`` or ``Union[list, dict]``; papermill reads these, not
``int | None``) declares one parameter whose type is its annotation or, without one, the type
of its default.
``params/STUDY.yaml`` and ``-p KEY=VALUE`` overrides are checked against it before anything
runs; ``report_dir`` and ``smoke`` are reserved for the runner.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

RESERVED = ("report_dir", "smoke")
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict,
          "None": type(None)}


class ParamError(ValueError):
    """A parameter problem the user can fix; the message says what is wrong and what is allowed."""


def require(condition, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: for a study's ``check_params``."""
    if not condition:
        raise ValueError(message)


def require_data(key: str, load, *args, **kwargs):
    """``load(*args, **kwargs)`` — a data contract's loader — for a study's ``check_params``:
    its :class:`~kdkit.data.DataError` becomes ``ValueError("KEY: message")``, so the user's
    bad data stops ``kdkit run`` (exit 2) before a kernel starts."""
    from .data import DataError

    try:
        return load(*args, **kwargs)
    except DataError as e:
        raise ValueError(f"{key}: {e}") from None


@dataclass(frozen=True)
class Param:
    name: str
    types: tuple[type, ...]
    default: object
    comment: str = ""

    @property
    def type_name(self) -> str:
        return " | ".join("None" if t is type(None) else t.__name__ for t in self.types)


def parameters_cell(nb_path: Path) -> str:
    nb = nbformat.read(str(nb_path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ParamError(f"{nb_path}: no cell tagged 'parameters'")


def _annotation_types(node: ast.expr) -> tuple[type, ...]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation_types(node.left) + _annotation_types(node.right)
    name = node.id if isinstance(node, ast.Name) else getattr(node, "value", None)
    if isinstance(node, ast.Constant) and node.value is None:
        name = "None"
    if isinstance(node, ast.Subscript):
        if isinstance(node.value, ast.Name) and node.value.id == "Optional":  # Optional[int]
            return _annotation_types(node.slice) + (type(None),)
        if isinstance(node.value, ast.Name) and node.value.id == "Union":  # Union[list, dict]
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return tuple(t for part in parts for t in _annotation_types(part))
        return _annotation_types(node.value)  # list[int] -> list
    if name not in _TYPES:
        raise ParamError(f"unsupported annotation {ast.unparse(node)!r}; use {sorted(_TYPES)}")
    return (_TYPES[name],)


def read_schema(nb_path: Path) -> dict[str, Param]:
    """Parameters declared in the notebook's ``parameters`` cell, in order."""
    source = parameters_cell(nb_path)
    lines = source.splitlines()
    schema: dict[str, Param] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, ann = node.targets[0], None
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, ann = node.target, node.annotation
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParamError(f"{nb_path}: parameter '{target.id}' needs a literal default "
                             f"(number, string, list, dict, None), got "
                             f"{ast.unparse(node.value)!r}") from None
        if ann is not None:
            types = _annotation_types(ann)
        elif default is None:
            types = (str, type(None))
        else:
            types = (type(default),)
        comment = lines[node.lineno - 1].partition("#")[2].strip()
        schema[target.id] = Param(target.id, types, default, comment)
    return schema


def _check_one(p: Param, value):
    """Return ``value`` coerced to the parameter's type, or raise ParamError."""
    if value is None and type(None) in p.types:
        return None
    for t in p.types:
        if t is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if t is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                pass
        if t is int and isinstance(value, bool):
            continue
        if t is not type(None) and isinstance(value, t):
            if t is list and isinstance(p.default, list) and p.default:
                return [_check_element(p, v) for v in value]
            return value
    raise ParamError(f"parameter '{p.name}' expects {p.type_name}, got "
                     f"{type(value).__name__} {value!r}")


def _check_element(p: Param, v):
    kinds = {type(x) for x in p.default}
    if kinds == {float} and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if kinds == {float} and isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    if any(isinstance(v, k) and not (k is int and isinstance(v, bool)) for k in kinds):
        return v
    names = " | ".join(sorted(k.__name__ for k in kinds))
    raise ParamError(f"parameter '{p.name}' expects a list of {names}, got element "
                     f"{type(v).__name__} {v!r}")


def describe(schema: dict[str, Param]) -> str:
    """The parameters a user may set (the runner's own, ``RESERVED``, left out), one line."""
    names = [p.name for p in schema.values() if p.name not in RESERVED]
    return "  " + ", ".join(names) + "\n  (types and defaults: kdkit list STUDY)"


def did_you_mean(key: str, schema: dict[str, Param]) -> str:
    """"; did you mean 'x'?" for the closest user parameter, or ""."""
    import difflib

    names = [n for n in schema if n not in RESERVED]
    close = difflib.get_close_matches(key, names, n=2, cutoff=0.6)
    if not close:
        close = [n for n in names if key in n or n in key][:2]
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""


def validate(schema: dict[str, Param], values: dict, source: str) -> dict:
    """Check every key and type in ``values`` (from ``source``) against ``schema``."""
    out = {}
    for key, value in values.items():
        if key in RESERVED:
            raise ParamError(f"{source}: '{key}' is set by the runner (use --out or --smoke); "
                             f"allowed parameters:\n{describe(schema)}")
        if key not in schema:
            raise ParamError(f"{source}: unknown parameter '{key}'{did_you_mean(key, schema)} "
                             f"Allowed parameters:\n{describe(schema)}")
        try:
            out[key] = _check_one(schema[key], value)
        except ParamError as e:
            raise ParamError(f"{source}: {e}") from None
    return out


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ParamError(f"params file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ParamError(f"params file {path} cannot be read ({e})") from None
    except yaml.YAMLError as e:
        raise ParamError(f"{path}: not valid YAML ({e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamError(f"{path}: expected a mapping of parameter: value, got "
                         f"{type(data).__name__}")
    return data


def parse_overrides(pairs: list[str]) -> dict:
    """``["epochs=10", "alpha=0.5"]`` -> ``{"epochs": 10, "alpha": 0.5}`` (values as YAML)."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"-p expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def notebook_values(nb_path: Path, namespace: dict) -> dict:
    """The study's parameters as a notebook holds them (``globals()``), reserved ones left
    out: what a notebook passes to its study module."""
    return {k: namespace[k] for k in read_schema(nb_path) if k not in RESERVED and k in namespace}


def resolve(nb_path: Path, params_file, overrides: list[str]) -> dict:
    """Full parameters for one run: notebook defaults < params file(s) < -p overrides.
    ``params_file`` is one file, None, or a list read in order (a variant: its study's full
    params, then its own keys)."""
    schema = read_schema(nb_path)
    values = {name: p.default for name, p in schema.items()}
    files = params_file if isinstance(params_file, (list, tuple)) else [params_file]
    for f in files:
        if f is not None:
            values.update(validate(schema, load_yaml(f), str(f)))
    values.update(validate(schema, parse_overrides(overrides), "-p"))
    return values

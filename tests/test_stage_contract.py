"""dvc.yaml keeps its promises: every stage depends on the code it runs, tracks exactly the params it reads
(``--params``), and tracks none of its untracked knobs (``--knobs``).

Stages are expanded as DVC does (dvc/parsing: ``params.yaml`` loaded first, then the ``vars`` merged into
it, never redefining a key nor interpolated themselves; ``foreach`` over a list or a dict; ``${...}``
resolved against the result), and each ``cmd`` must be ``python -m stages.<name> ...``.
"""

from __future__ import annotations

import ast
import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("seldlib", "stages")
_INTERP = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


def _lookup(context: dict[str, Any], dotted: str, where: str) -> Any:
    node: Any = context
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            pytest.fail(f"{where}: ${{{dotted}}} does not resolve against params.yaml and vars")
        node = node[part]
    return node


def _resolve(value: Any, context: dict[str, Any], where: str) -> Any:
    """``value`` with every ``${...}`` substituted (a whole-string ``${x}`` keeps x's type, as in DVC)."""
    if isinstance(value, dict):
        return {_resolve(k, context, where): _resolve(v, context, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context, where) for v in value]
    if not isinstance(value, str):
        return value
    whole = _INTERP.fullmatch(value.strip())
    if whole:
        return _lookup(context, whole.group(1), where)

    def scalar(m: re.Match[str]) -> str:
        found = _lookup(context, m.group(1), where)
        if isinstance(found, (dict, list)):
            pytest.fail(f"{where}: ${{{m.group(1)}}} is a {type(found).__name__} inside a string (not supported here)")
        return ("true" if found else "false") if isinstance(found, bool) else str(found)

    return _INTERP.sub(scalar, value)


def _interpolated(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_interpolated(k) or _interpolated(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_interpolated, value))
    return isinstance(value, str) and _INTERP.search(value) is not None


def _merge(into: dict[str, Any], update: dict[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """``into`` with ``update`` merged in as DVC merges vars: mappings key by key, any other key defined once."""
    out = dict(into)
    for key, value in update.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value, where, f"{prefix}{key}.")
        elif key in out:
            pytest.fail(f"{where}: vars redefine {prefix}{key}, already defined (params.yaml, earlier vars or "
                        "foreach key/item); DVC refuses")
        else:
            out[key] = value
    return out


def _with_vars(context: dict[str, Any], entries: list[Any] | None, where: str) -> dict[str, Any]:
    out = context
    for entry in entries or []:
        if not isinstance(entry, dict):
            pytest.fail(f"{where}: vars entry {entry!r} (a file) is not supported by this test")
        if _interpolated(entry):
            pytest.fail(f"{where}: vars entry {entry!r} interpolates; DVC does not allow it")
        out = _merge(out, entry, where)
    return out


@lru_cache(maxsize=None)
def expanded_stages() -> dict[str, dict[str, Any]]:
    """``{stage name: {"cmd", "deps", "params"}}`` with foreach expanded and interpolation resolved."""
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    context = _with_vars(params, pipeline.get("vars"), "dvc.yaml vars")
    stages: dict[str, dict[str, Any]] = {}
    for name, spec in pipeline["stages"].items():
        if "matrix" in spec:
            pytest.fail(f"{name}: matrix stages are not supported by this test")
        if "foreach" not in spec:
            variants = [(name, context, spec)]
        else:
            over = _resolve(spec["foreach"], context, name)
            variants = []
            if isinstance(over, dict):
                for key, item in over.items():
                    variants.append((f"{name}@{key}", {**context, "key": key, "item": item}, spec["do"]))
            else:  # DVC names list variants by the item, or by its index when the item is not a scalar
                for i, item in enumerate(over):
                    label = i if isinstance(item, (dict, list)) else item
                    variants.append((f"{name}@{label}", {**context, "item": item}, spec["do"]))
        for stage, local, body in variants:
            local = _with_vars(local, body.get("vars"), stage)
            stages[stage] = {field: _resolve(body.get(field, []), local, stage) for field in ("cmd", "deps", "params")}
    return stages


def _cmd_args(stage: str) -> list[str]:
    cmd = expanded_stages()[stage]["cmd"]
    args = shlex.split(cmd) if isinstance(cmd, str) else []
    if args[:2] != ["python", "-m"] or len(args) < 3 or not args[2].startswith("stages."):
        pytest.fail(f"{stage}: cmd is not `python -m stages.<name> ...`: {cmd!r}")
    return args


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements at any depth (functions included), less ``if TYPE_CHECKING:`` bodies, which never run."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return found


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@lru_cache(maxsize=None)
def _direct_imports(module: str) -> frozenset[str]:
    """Project modules that importing ``module`` imports itself (packages of each import included)."""
    path = _module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(anchor + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names.add(base)
        # `from pkg import name`: a submodule when such a file exists, else an attribute of pkg
        names.update(f"{base}.{alias.name}" for alias in node.names if _module_file(f"{base}.{alias.name}"))
    out: set[str] = set()
    for name in names:
        if name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        for mod in _with_parents(name):
            assert _module_file(mod) is not None, f"{path.relative_to(REPO)} imports {mod}, which has no file"
            out.add(mod)
    return frozenset(out)


def project_modules(entry: str) -> set[str]:
    """Every project module that running ``python -m entry`` imports, transitively."""
    seen: set[str] = set()
    todo = _with_parents(entry)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_direct_imports(module))
    return seen


def _inert(path: Path) -> bool:
    """A module of nothing but a docstring and ``__future__`` imports cannot change what a stage does."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in body)


STAGES = sorted(expanded_stages())


@pytest.mark.parametrize("stage", STAGES)
def test_deps_cover_every_imported_project_module(stage: str) -> None:
    deps = [str(d).rstrip("/") for d in expanded_stages()[stage]["deps"]]
    files = {_module_file(m).relative_to(REPO).as_posix() for m in project_modules(_cmd_args(stage)[2])}
    missing = sorted(f for f in files
                     if not _inert(REPO / f) and not any(f == d or f.startswith(d + "/") for d in deps))
    assert not missing, f"stage {stage}: deps lack {', '.join(missing)}"


@pytest.mark.parametrize("stage", STAGES)
def test_code_deps_are_all_imported(stage: str) -> None:
    """The other half of "exactly": a code dep that the stage never imports reruns it for nothing."""
    deps = [str(d).rstrip("/") for d in expanded_stages()[stage]["deps"] if str(d).startswith(("seldlib", "stages"))]
    files = {_module_file(m).relative_to(REPO).as_posix() for m in project_modules(_cmd_args(stage)[2])}
    unused = [d for d in deps if not any(f == d or f.startswith(d + "/") for f in files)]
    assert not unused, f"stage {stage}: deps name code it does not import: {', '.join(unused)}"


def _option_values(args: list[str], option: str) -> list[str]:
    """The arguments after each ``option`` up to the next ``--flag``."""
    values: list[str] = []
    for i, arg in enumerate(args):
        if arg == option:
            for value in args[i + 1:]:
                if value.startswith("--"):
                    break
                values.append(value)
    return values


def _tracked(stage: str) -> list[str]:
    """The stage's ``params`` as dotted keys (``file:key`` for a file other than params.yaml)."""
    tracked: list[str] = []
    for entry in expanded_stages()[stage]["params"]:  # `key` (params.yaml) or `{file: [keys]}`
        if isinstance(entry, str):
            tracked.append(entry)
        else:
            tracked += [k if file == "params.yaml" else f"{file}:{k}"
                        for file, keys in entry.items() for k in keys or ["*"]]
    return tracked


@pytest.mark.parametrize("stage", STAGES)
def test_params_after_dash_dash_params_are_the_tracked_params(stage: str) -> None:
    read = _option_values(_cmd_args(stage), "--params")
    tracked = _tracked(stage)
    assert sorted(read) == sorted(tracked), (
        f"stage {stage}: reads (--params) but does not track: {sorted(set(read) - set(tracked))}; "
        f"tracks but does not read: {sorted(set(tracked) - set(read))}")



def _in_params_yaml(dotted: str) -> bool:
    node: Any = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("stage", STAGES)
def test_knobs_are_params_yaml_keys_the_stage_does_not_track(stage: str) -> None:
    """``--knobs`` (workers, batch sizes) cannot change results, so a change must not rerun the stage:
    no knob may be tracked, itself or through a tracked section above or below it."""
    knobs = _option_values(_cmd_args(stage), "--knobs")
    tracked = _tracked(stage)
    overlap = sorted(f"{k} ~ {t}" for k in knobs for t in tracked
                     if k == t or k.startswith(t + ".") or t.startswith(k + "."))
    assert not overlap, f"stage {stage}: knobs tracked as params: {overlap}"
    unknown = sorted(k for k in knobs if not _in_params_yaml(k))
    assert not unknown, f"stage {stage}: knobs not in params.yaml: {unknown}"

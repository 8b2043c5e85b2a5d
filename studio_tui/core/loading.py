"""Safe YAML/JSON loading into pydantic models, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from . import safefile
from .errors import InputError

M = TypeVar("M", bound=BaseModel)


def _node_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, as deep as it resolves."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def describe_validation(path: Path, exc: ValidationError, node: yaml.Node | None = None) -> str:
    """One line for the first validation error: file, line, field path and what is wrong."""
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"])
    field = ".".join(str(p) for p in loc) or "(top level)"
    line = _node_line(node, loc) if node is not None else None
    where = f"{path}, line {line}" if line else str(path)
    more = len(exc.errors()) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    got = first.get("input")
    shown = "" if isinstance(got, (dict, list)) or got is None else f", got {got!r}"
    return f"{where}: field '{field}': {first['msg']}{shown}{extra}"


def read_text(path: Path, kind: safefile.Kind = safefile.CONFIG, *, root: Path | None = None) -> str:
    """The file's text, read safely (see core.safefile): a regular file, not too big, UTF-8."""
    return safefile.read_text(path, kind, root=root)


def load_yaml(
    path: Path, *, text: str | None = None, kind: safefile.Kind = safefile.CONFIG, root: Path | None = None
) -> tuple[Any, yaml.Node | None]:
    """Safe-load a YAML file once, within limits; returns the data and its node tree (for line numbers)."""
    if text is None:
        return safefile.load_yaml(path, kind, root=root)
    return safefile.parse_yaml(text, path)


def load_yaml_model(
    path: Path, model: type[M], *, empty_ok: bool = False, kind: safefile.Kind = safefile.CONFIG, root: Path | None = None
) -> M:
    """Load a YAML file into `model`; any problem is one InputError naming file, line and field."""
    data, node = load_yaml(path, kind=kind, root=root)
    if data is None:
        if not empty_ok:
            raise InputError(f"{path}: file is empty")
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}, line 1: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    except ValidationError as exc:
        raise InputError(describe_validation(path, exc, node)) from None


def load_json_model(path: Path, model: type[M], *, kind: safefile.Kind = safefile.PLAN, root: Path | None = None) -> M:
    """Load a JSON file into `model`; problems are one InputError naming file, line and field."""
    data = safefile.load_json(path, kind, root=root)
    if not isinstance(data, dict):
        raise InputError(f"{path}, line 1: expected a JSON object at the top level")
    try:
        return model.model_validate(data)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    except ValidationError as exc:
        raise InputError(describe_validation(path, exc)) from None

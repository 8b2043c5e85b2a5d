"""Safe YAML/JSON loading into pydantic models, with errors that name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


class _StrictSafeLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue
            if first != key_node.start_mark.line + 1:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path, *, text: str | None = None) -> tuple[Any, yaml.Node | None]:
    """Safe-load a YAML file once; returns the data and its node tree (for line numbers)."""
    text = read_text(path) if text is None else text
    loader: _StrictSafeLoader | None = None
    try:
        loader = _StrictSafeLoader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise InputError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def load_yaml_model(path: Path, model: type[M], *, empty_ok: bool = False) -> M:
    """Load a YAML file into `model`; any problem is one InputError naming file, line and field."""
    data, node = load_yaml(path)
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


def load_json_model(path: Path, model: type[M]) -> M:
    """Load a JSON file into `model`; problems are one InputError naming file, line and field."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(f"{path}: invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}, line 1: expected a JSON object at the top level")
    try:
        return model.model_validate(data)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    except ValidationError as exc:
        raise InputError(describe_validation(path, exc)) from None

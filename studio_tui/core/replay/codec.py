"""Decoding one log line: pydantic-core's one-pass parse and validate, `events.decode` as the fallback."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from .. import events as ev
from ..store.eventlog import BadLine

_KNOWN_EVENT: TypeAdapter[Any] = TypeAdapter(ev.KnownEvent)
_VALIDATE_JSON = _KNOWN_EVENT.validator.validate_json


def decode_line(raw: bytes) -> ev.Event:
    """`events.decode`, two to three times faster on a well-formed known event.

    Parses and validates in one pass (pydantic-core) and falls back to `decode` on any problem, so
    unknown types and the reasons given for bad lines are exactly `decode`'s."""
    try:
        return _VALIDATE_JSON(raw)
    except ValidationError:
        return ev.decode(raw)


def _decode_raw(raw: bytes, torn: bool) -> ev.Event | BadLine | None:
    """The event on a line, a BadLine (line number 0: the caller sets it), or None for a blank line."""
    try:
        return _VALIDATE_JSON(raw)  # the common case first: no copies, no checks
    except ValidationError:
        pass
    if not raw.strip():
        return None
    try:
        return ev.decode(raw)
    except ev.EventDecodeError as exc:
        return BadLine(0, f"torn last line ({exc})" if torn else str(exc))


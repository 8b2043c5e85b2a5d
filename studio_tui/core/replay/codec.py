"""Decoding one log line: pydantic-core's one-pass parse and validate, `events.decode` as the fallback."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from pydantic import ValidationError

from .. import events as ev
from .. import reducer
from ..state import OrchestrationState
from ..store.eventlog import MAX_LINE_BYTES, TOO_LONG, BadLine

_VALIDATE_JSON: Callable[[bytes], ev.Event] = ev._ADAPTER.validator.validate_json
"""The events module's own adapter over every known event (building a second one costs ~70 ms at import)."""


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
    if raw is TOO_LONG:
        return BadLine(0, f"line longer than {MAX_LINE_BYTES >> 20} MB")
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


# ── folding: only the state is wanted ─────────────────────────────────────
#
# Most lines of a long run are `agent_log` (97% in bench/_gen.py's log), and the reducer ignores them
# beyond their seq and time. Validating such a line through pydantic costs ~8 µs; msgspec checks the same
# fields (types, required ones, the type tag, well-formed JSON and UTF-8) in under 1 µs. A line msgspec
# refuses for any reason goes through pydantic as before, so bad lines and their reasons are unchanged;
# msgspec only ever accepts lines pydantic accepts too (tests/test_replay_fastfold.py checks both ways).

try:
    import msgspec
except ImportError:  # optional speed-up: without it every line goes through pydantic
    msgspec = None  # type: ignore[assignment]


def _agent_log_is_ignored() -> bool:
    return reducer._HANDLERS.get(ev.AgentLog) is reducer._ignore


if msgspec is not None:

    class LightLog(msgspec.Struct, tag_field="type", tag="agent_log", kw_only=True, frozen=True):
        """An `agent_log` line checked as `events.AgentLog` would be, kept only for its seq and time."""

        agent: str
        message: str
        seq: int = 0
        ts: float = 0.0
        orch_id: str = ""
        level: str = "info"

    class _NoSuchType(msgspec.Struct, tag_field="type", tag="\x00", kw_only=True, frozen=True):
        """Makes the decoder a tagged union, in which (unlike a single tagged Struct) the tag is required."""

    _LIGHT_DECODE: Any = msgspec.json.Decoder(LightLog | _NoSuchType).decode
    _LIGHT_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError)
else:  # pragma: no cover - msgspec is a dependency; this keeps the core working without it

    class LightLog:  # type: ignore[no-redef]
        seq: int
        ts: float

    _LIGHT_DECODE = None
    _LIGHT_ERRORS = ()

FAST_FOLD = msgspec is not None and _agent_log_is_ignored()
"""Whether `decode_for_fold` may skip building `agent_log` events (the reducer only takes their seq and ts)."""


def decode_for_fold(raw: bytes, torn: bool) -> ev.Event | LightLog | BadLine | None:
    """Like `_decode_raw`, but an `agent_log` line may come back as a `LightLog` (seq and ts only):
    give the result to `apply_decoded`, which folds it exactly as `apply` folds the full event."""
    if FAST_FOLD:
        try:
            light = _LIGHT_DECODE(raw)
            if type(light) is LightLog:
                return light
        except _LIGHT_ERRORS:
            pass
    return _decode_raw(raw, torn)


_TYPE_KEY = b'"type"'
_QUIET_TYPE = b'"type":"agent_log"'
_UNICODE_ESCAPE = b"\\u"


def quiet_by_bytes(raw: bytes) -> bool:
    """Whether a line is an `agent_log` line as far as its bytes tell, whatever else it holds.

    Such a line moves only the state's seq and time when it is valid and nothing when it is not, and
    the next event moves them again, so a fold need not decode it at all unless it is the last. The
    bytes tell it exactly: inside a JSON string a quote is escaped, so `"type"` occurs unescaped only
    as a key or a whole string value; one occurrence, followed by `:"agent_log"`, is the object's one
    `type` key (a line that is not a JSON object is a bad line, folded as nothing either way). A key
    spelled with a `\\u` escape could be a second `type` (the last one wins): such lines are decoded."""
    return raw.count(_TYPE_KEY) == 1 and _QUIET_TYPE in raw and _UNICODE_ESCAPE not in raw


class Folder:
    """Folds what `decode_for_fold` gives into a state, exactly as `reducer.apply` per event would.

    A `LightLog` only moves the state's seq and time, and every later event sets them again (no
    handler reads them), so only the newest pending one counts, and only if no full event follows:
    it is written by `flush()` (setting a field of a pydantic model costs more than checking the line
    did). `fold_raw` goes further for lines `quiet_by_bytes` picks: it keeps them undecoded and, at
    the end, decodes backwards from the newest only until one is valid."""

    __slots__ = ("_light", "_quiet", "state")

    def __init__(self, state: OrchestrationState) -> None:
        self.state = state
        self._light: LightLog | None = None
        self._quiet: list[bytes] = []

    def add(self, found: ev.Event | LightLog) -> None:
        if type(found) is LightLog:
            self._light = found
            if self._quiet:
                self._quiet.clear()
            return
        self._light = None
        if self._quiet:
            self._quiet.clear()
        reducer.apply(self.state, cast(ev.Event, found))  # not a LightLog: that returned above

    def fold_raw(self, lines: Iterable[bytes]) -> OrchestrationState:
        """Fold complete lines (bad ones skipped, as `model.fold` does) and flush; return the state."""
        quiet = FAST_FOLD
        for raw in lines:
            if quiet and quiet_by_bytes(raw):
                self._quiet.append(raw)
                continue
            # Not agent_log by its bytes: almost always another type, which msgspec would only refuse.
            found = _decode_raw(raw, False) if quiet else decode_for_fold(raw, False)
            if found is not None and type(found) is not BadLine:
                self.add(found)  # type: ignore[arg-type]
        return self.flush()

    def fold_numbered(
        self, lines: Iterable[bytes], before: int, bad: list[BadLine], watched: tuple[type, ...] = ()
    ) -> tuple[int, list[ev.Event]]:
        """Fold complete lines, the first being line `before + 1`: bad ones are numbered and added to
        `bad`, blank ones skipped. Returns the events folded and, in order, those of a `watched` type.

        `add` and `decode_for_fold` per line, inlined: on a log of short lines the calls cost as much
        as decoding them. The newest `agent_log` stays pending (`flush` writes it)."""
        light_decode = _LIGHT_DECODE if FAST_FOLD else None
        light_errors = _LIGHT_ERRORS
        apply = reducer.apply
        state = self.state
        light: LightLog | None = None
        applied = False
        events = 0
        seen: list[ev.Event] = []
        number = before
        for raw in lines:
            number += 1
            if light_decode is not None:
                try:
                    quick = light_decode(raw)
                except light_errors:
                    quick = None
                if type(quick) is LightLog:
                    light = quick
                    events += 1
                    continue
            found = _decode_raw(raw, False)
            if found is None:
                continue
            if type(found) is BadLine:
                found.line = number
                bad.append(found)
                continue
            light = None
            applied = True
            events += 1
            apply(state, found)  # type: ignore[arg-type]  # not a BadLine: that continued above
            if watched and type(found) in watched:
                seen.append(found)  # type: ignore[arg-type]
        if light is not None or applied:
            self._light = light
            self._quiet.clear()
        return events, seen

    def flush(self) -> OrchestrationState:
        """Write the pending seq and time; return the state."""
        light = self._light
        while self._quiet:  # newer than any pending light: the newest valid one wins
            found = decode_for_fold(self._quiet.pop(), False)
            if is_decoded(found):
                self._quiet.clear()
                light = found  # type: ignore[assignment]
                break
        if light is not None:
            self._light = None
            self.state.seq = light.seq
            self.state.updated_ts = light.ts
        return self.state


def is_decoded(found: object) -> bool:
    """Whether `decode_for_fold` found an event (full or light), not a bad or blank line."""
    return isinstance(found, ev._Event) or type(found) is LightLog

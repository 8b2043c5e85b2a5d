"""Keyframes: the state every K lines, sharing its records with the other keyframes and the states built
from it, so any position is a keyframe plus < K lines and memory is about the unique content.

A keyframe holds the state's plain fields (copied when the reducer could change them in place) and its
long lists (agents, checkpoints, failures, handoffs, decisions, ...) as tuples of CHUNK records each. A
chunk whose records are the very ones of the previous keyframe's chunk is that chunk, so a thousand
keyframes of a state with 19,000 checkpoints hold the checkpoints once, plus a few hundred bytes of chunk
references each. Records the reducer never changes after appending them are shared by reference;
records it does change are shared copy-on-write (sharing.py) or copied into the keyframe (failures
until their recovery action is set). A record equal to the previous keyframe's record at its place
(a `resumed` event rebuilds every record from its snapshot) is replaced by that one in the frontier
state too, so resumes do not double the memory.

Building a state from a keyframe (`thaw`) copies no record and validates nothing: milliseconds for a
state of thousands of agents, where validating its JSON took half a second.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from itertools import chain
from operator import is_
from typing import Any

from pydantic import BaseModel

from ..state import Budget, Failure, OrchestrationState
from .sharing import Borrowed, SharedRouting, SharedState

KEYFRAME_EVERY = 1000
"""Lines between keyframes: a seek folds at most 999 lines after building a state from a keyframe."""

KEYFRAME_BUDGET_BYTES = 96 << 20
"""Bytes kept by keyframes alone (chunk references, copies, and records the state being folded no
longer holds: older versions of agents, records a resume rolled back) at most; past it every other
keyframe is dropped and the spacing doubles, so a log whose state churns costs slower seeks, never
unbounded memory. Records the newest state still holds are not counted: they are the state's. Counted
as of the newest keyframe: records the frontier replaced since are counted when the next one is laid."""

CHUNK = 128
"""Records per chunk: a keyframe holds len(list) / CHUNK chunk references per list, and a chunk changed
since the previous keyframe costs CHUNK references anew."""

_SCALARS = frozenset({str, int, float, bool, type(None)})

SHARE = "share"
"""Records the reducer never changes after appending them: shared by reference."""

COPY_ON_WRITE = "copy-on-write"
"""Records the reducer changes through a lookup (`agent`, `entry`, `decision`): shared, copied by a
`SharedState` before its first write."""


def _failure_settled(failure: Any) -> bool:
    """The reducer changes a failure only to set its recovery action, and only while it has none."""
    return type(failure) is not Failure or bool(failure.action)


class _Spec:
    """How a model's fields are kept: lists by policy, nested models by their own spec, the rest copied."""

    __slots__ = ("build", "lists", "nested", "settled")

    def __init__(
        self,
        build: type[BaseModel],
        lists: dict[str, str] | None = None,
        nested: dict[str, _Spec] | None = None,
        settled: dict[str, Callable[[Any], bool]] | None = None,
    ) -> None:
        self.build = build
        self.lists = lists or {}
        self.nested = nested or {}
        self.settled = settled or {}
        """Lists of records shared once a predicate holds for them, copied into the keyframe before."""


_STATE = _Spec(
    SharedState,
    lists={
        "agent_states": COPY_ON_WRITE,
        "decisions": COPY_ON_WRITE,
        "checkpoints": SHARE,
        "handoffs": SHARE,
        "learnings": SHARE,
        "resumed_from": SHARE,
    },
    nested={
        "routing": _Spec(SharedRouting, lists={"agent_sequence": COPY_ON_WRITE}),
        "budget": _Spec(Budget, lists={"optimizations": SHARE}),
    },
    settled={"failures": _failure_settled},
)


class _Frozen:
    """One model of a keyframe: plain `values`, `lists` as tuples of chunks, `nested` models, and for
    lists of records shared once settled, the places of the ones copied (`unsettled`)."""

    __slots__ = ("lists", "nested", "unsettled", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.lists: dict[str, tuple[tuple[Any, ...], ...]] = {}
        self.nested: dict[str, _Frozen] = {}
        self.unsettled: dict[str, tuple[int, ...]] = {}


class Keyframe:
    """The state after `position` lines, frozen; `bytes` is what it added to the keyframes' memory."""

    __slots__ = ("bytes", "frozen", "position")

    def __init__(self, frozen: _Frozen, position: int, added: int) -> None:
        self.frozen = frozen
        self.position = position
        self.bytes = added


# ── sizes (estimates: what a record holds besides its strings and numbers) ──


def own_bytes(value: Any) -> int:
    """Bytes of a record or container itself, and of the containers in it; strings and numbers are not
    counted (a record's versions share them)."""
    kind = type(value)
    if kind in _SCALARS:
        return 0
    if isinstance(value, BaseModel):
        size = sys.getsizeof(value) + sys.getsizeof(value.__dict__) + sys.getsizeof(value.__pydantic_fields_set__)
        return size + sum(own_bytes(item) for item in value.__dict__.values())
    if kind is list or kind is tuple:
        return sys.getsizeof(value) + sum(own_bytes(item) for item in value if type(item) not in _SCALARS)
    if kind is dict:
        return sys.getsizeof(value) + sum(own_bytes(item) for item in value.values() if type(item) not in _SCALARS)
    return sys.getsizeof(value)


# ── freezing ──


def _detached(value: Any) -> Any:
    """A copy of `value` the reducer cannot reach (the value itself when immutable)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list and all(type(item) in _SCALARS for item in value):
        return list(value)
    if kind is dict and all(type(item) in _SCALARS for item in value.values()):
        return dict(value)
    return copy.deepcopy(value)


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(new, BaseModel):
        return old.__dict__ == new.__dict__  # type: ignore[no-any-return]
    return old == new  # type: ignore[no-any-return]


class _Counter:
    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


def _chunks(
    items: list[Any],
    policy: str | Callable[[Any], bool],
    previous: tuple[tuple[Any, ...], ...] | None,
    added: _Counter,
) -> tuple[tuple[tuple[Any, ...], ...], tuple[int, ...]]:
    """`items` as chunks, reusing the previous keyframe's chunks and records where they are the same;
    equal records are put back into `items` (the frontier's list) in place of their copies. Returns the
    chunks and the places of records copied because they are not settled."""
    settled = policy if callable(policy) else None
    found: list[tuple[Any, ...]] = []
    unsettled: list[int] = []
    dropped: list[Any] = []
    for number, start in enumerate(range(0, len(items), CHUNK)):
        part = items[start : start + CHUNK]
        old = previous[number] if previous is not None and number < len(previous) else ()
        if len(old) == len(part) and all(map(is_, old, part)):
            found.append(old)
            continue
        fresh: list[Any] = []
        for offset, record in enumerate(part):
            prior = old[offset] if offset < len(old) else None
            mutable = settled is not None and not settled(record)
            if prior is record and not mutable:
                kept = record
            elif prior is not None and prior is not record and _same(prior, record):
                kept = prior
                if not mutable:
                    items[start + offset] = prior  # the frontier drops its equal copy and shares this one
            else:
                if prior is not None:
                    dropped.append(prior)
                kept = copy.copy(record) if mutable else record
                if mutable:
                    added.bytes += own_bytes(kept)
            if mutable:
                unsettled.append(start + offset)
            fresh.append(kept)
        chunk = tuple(fresh)
        if len(old) == len(chunk) and all(map(is_, old, chunk)):
            chunk = old
        else:
            added.bytes += sys.getsizeof(chunk)
        found.append(chunk)
    if previous is not None and len(previous) > len(found):
        for chunk in previous[len(found) :]:
            dropped.extend(chunk)
    if dropped:
        present = set(map(id, items))
        added.bytes += sum(own_bytes(record) for record in dropped if id(record) not in present)
    return tuple(found), tuple(unsettled)


def _freeze_model(model: BaseModel, spec: _Spec, previous: _Frozen | None, added: _Counter) -> _Frozen:
    frozen = _Frozen()
    fields = model.__dict__
    for name in type(model).model_fields:
        value = fields[name]
        policy: str | Callable[[Any], bool] | None = spec.lists.get(name) or spec.settled.get(name)
        if policy is not None and type(value) is list:
            chunks, unsettled = _chunks(value, policy, previous.lists.get(name) if previous is not None else None, added)
            frozen.lists[name] = chunks
            if unsettled:
                frozen.unsettled[name] = unsettled
            added.bytes += sys.getsizeof(chunks)
        elif name in spec.nested and isinstance(value, BaseModel):
            frozen.nested[name] = _freeze_model(
                value, spec.nested[name], previous.nested.get(name) if previous is not None else None, added
            )
        else:
            before = previous.values.get(name, frozen) if previous is not None else frozen
            if before is not frozen and type(before) in _SCALARS and before is value:
                frozen.values[name] = before
            elif before is not frozen and type(before) is type(value) and before == value:
                frozen.values[name] = before  # unchanged since the previous keyframe: its copy serves
            else:
                frozen.values[name] = kept = _detached(value)
                added.bytes += own_bytes(kept)
    added.bytes += sys.getsizeof(frozen.values)
    return frozen


def freeze(state: SharedState, position: int, previous: Keyframe | None = None) -> Keyframe:
    """A keyframe of `state` (the frontier: it is lent to the keyframe, and copies on its next writes)."""
    added = _Counter()
    frozen = _freeze_model(state, _STATE, previous.frozen if previous is not None else None, added)
    state.lend()
    return Keyframe(frozen, position, added.bytes)


# ── thawing ──


def _thaw_model(frozen: _Frozen, spec: _Spec, lent: list[Any]) -> Any:
    fields = {name: _detached(value) for name, value in frozen.values.items()}
    for name, chunks in frozen.lists.items():
        records = list(chain.from_iterable(chunks))
        if spec.lists.get(name) == COPY_ON_WRITE:
            lent.extend(records)
        for place in frozen.unsettled.get(name, ()):
            records[place] = copy.copy(records[place])
        fields[name] = records
    for name, nested in frozen.nested.items():
        fields[name] = _thaw_model(nested, spec.nested[name], lent)
    return spec.build.model_construct(**fields)


def thaw(keyframe: Keyframe) -> SharedState:
    """A state equal to the one frozen, sharing its records: changing it never changes the keyframe."""
    lent: list[Any] = []
    state: SharedState = _thaw_model(keyframe.frozen, _STATE, lent)
    borrowed = Borrowed(lent)
    state._borrowed = borrowed
    if isinstance(state.routing, SharedRouting):
        state.routing._borrowed = borrowed
    return state


def keyframe_only_bytes(keyframes: list[Keyframe], state: OrchestrationState) -> int:
    """Bytes the keyframes hold that `state` (the frontier) does not: chunks, copies, plain values, and
    records the state no longer holds. Exact up to the estimates of `own_bytes`; a walk over every
    distinct chunk."""
    present: set[int] = set()
    _collect_ids(state, _STATE, present)
    seen: set[int] = set()
    total = 0
    for keyframe in keyframes:
        total += _frozen_bytes(keyframe.frozen, present, seen)
    return total


def _collect_ids(model: BaseModel, spec: _Spec, into: set[int]) -> None:
    for name in (*spec.lists, *spec.settled):
        value = model.__dict__.get(name)
        if type(value) is list:
            into.update(map(id, value))
    for name, nested in spec.nested.items():
        value = model.__dict__.get(name)
        if isinstance(value, BaseModel):
            _collect_ids(value, nested, into)


def _frozen_bytes(frozen: _Frozen, present: set[int], seen: set[int]) -> int:
    total = 0
    if id(frozen.values) not in seen:
        seen.add(id(frozen.values))
        total += sys.getsizeof(frozen.values)
    for value in frozen.values.values():
        if type(value) not in _SCALARS and id(value) not in seen:
            seen.add(id(value))
            total += own_bytes(value)
    for chunks in frozen.lists.values():
        total += sys.getsizeof(chunks)
        for chunk in chunks:
            if id(chunk) in seen:
                continue
            seen.add(id(chunk))
            total += sys.getsizeof(chunk)
            for record in chunk:
                key = id(record)
                if key not in present and key not in seen and type(record) not in _SCALARS:
                    seen.add(key)
                    total += own_bytes(record)
    for nested in frozen.nested.values():
        total += _frozen_bytes(nested, present, seen)
    return total

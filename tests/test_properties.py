"""Property tests (hypothesis): the JSONL codec, the reducer, and the file loaders on arbitrary input.

Events are generated from the event models themselves (every field of every known type, with any
text, any number, nested JSON where a field takes `Any`), so a new event type or field is covered
without touching this file. tests/test_reducer.py holds narrower fold properties over a fixed
vocabulary; tests/test_events.py the hand-written codec samples.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from studio_tui.core import events as ev
from studio_tui.core.agents.scripted import load_scenario
from studio_tui.core.config import load_config
from studio_tui.core.errors import InputError
from studio_tui.core.plan import load_backlog, load_plan
from studio_tui.core.reducer import apply, fold, reduce
from studio_tui.core.state import OrchestrationState

SETTINGS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ── strategies derived from the models ──────────────────────────────────

TEXT = st.text(max_size=12)
"""Any Unicode text (hypothesis leaves out lone surrogates, which no decoder produces from UTF-8)."""
INTS = st.integers(min_value=-(10**18), max_value=10**18)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
"""Finite floats: NaN and infinity have no JSON spelling (pydantic writes them as null)."""
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["planner", "builder", "builder:T1", "planner:T1", "architect"]) | TEXT
"""Agent keys: mostly ones the reducer will see twice (so events interact), sometimes anything."""
FIELD_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "agent": KEYS,
    "key": KEYS,
    "from_agent": KEYS,
    "to_agent": KEYS,
    "insert_before": st.none() | KEYS,
    "decision_id": st.sampled_from(["d1", "d2", "d3"]) | TEXT,
    "pool": st.sampled_from(["working", "context7", "reserved"]) | TEXT,
}


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of a (pydantic field) type annotation."""
    if annotation is Any:
        return JSON_VALUES
    if annotation is str:
        return TEXT
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return INTS
    if annotation is float:
        return FLOATS
    if annotation is type(None):
        return st.none()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return for_model(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, types.UnionType):
        return st.one_of(*(for_annotation(a) for a in args))
    if origin is list:
        return st.lists(for_annotation(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(for_annotation(args[0]), for_annotation(args[1]), max_size=3)
    if origin is typing.Annotated:
        return for_annotation(args[0])
    raise NotImplementedError(f"no strategy for {annotation!r}")


def for_model(model: type[BaseModel], *, skip: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    fields = {
        name: FIELD_OVERRIDES.get(name, for_annotation(info.annotation))
        for name, info in model.model_fields.items()
        if name not in ("type", *skip)
    }
    return st.fixed_dictionaries(fields).map(lambda values: model(**values))


def event_fields(cls: type[ev._Event]) -> st.SearchStrategy[dict[str, Any]]:
    """The type-specific fields of an event of `cls` (seq, ts and orch_id are set by the caller)."""
    base = ("seq", "ts", "orch_id", "type")
    fields = {
        name: FIELD_OVERRIDES.get(name, for_annotation(info.annotation)) for name, info in cls.model_fields.items() if name not in base
    }
    return st.fixed_dictionaries(fields)


KNOWN = {cls.model_fields["type"].default: cls for cls in ev._KNOWN_CLASSES}


def any_event(cls: type[ev._Event]) -> st.SearchStrategy[ev._Event]:
    return st.builds(
        lambda seq, ts, orch_id, fields: cls(seq=seq, ts=ts, orch_id=orch_id, **fields),
        INTS,
        FLOATS,
        TEXT,
        event_fields(cls),
    )


def test_every_known_event_type_has_a_strategy():
    assert set(KNOWN) == set(ev.KNOWN_TYPES)
    for cls in KNOWN.values():
        any_event(cls).example  # noqa: B018 - builds the strategy, raising if a field has none


# ── the JSONL codec ─────────────────────────────────────────────────────


@SETTINGS
@given(st.sampled_from(sorted(KNOWN)).flatmap(lambda kind: any_event(KNOWN[kind])))
def test_codec_round_trips_any_event_of_every_type(event):
    line = ev.encode(event)
    assert "\n" not in line and "\r" not in line  # one event, one line, whatever its text holds
    back = ev.decode(line)
    assert type(back) is type(event)
    assert back == event
    assert ev.decode(line.encode("utf-8")) == event
    assert ev.encode(back) == line


@SETTINGS
@given(st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b))
def test_decode_of_anything_returns_an_event_or_raises_only_event_decode_error(line):
    try:
        event = ev.decode(line)
    except ev.EventDecodeError:
        return
    assert isinstance(event, ev._Event)


JSON_OBJECTS = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(KNOWN)) | TEXT},
    optional={
        "seq": JSON_VALUES,
        "ts": JSON_VALUES,
        "orch_id": JSON_VALUES,
        "agent": JSON_VALUES,
        "status": JSON_VALUES,
        "sequence": JSON_VALUES,
        "snapshot": JSON_VALUES,
        "step": JSON_VALUES,
        "message": JSON_VALUES,
        "category": JSON_VALUES,
        "pools": JSON_VALUES,
        "from": JSON_VALUES,
        "output": JSON_VALUES,
    },
)


@SETTINGS
@given(JSON_OBJECTS | JSON_VALUES)
def test_decode_of_any_json_returns_an_event_or_raises_only_event_decode_error(value):
    line = json.dumps(value)
    try:
        event = ev.decode(line)
    except ev.EventDecodeError as exc:
        assert str(exc)
        return
    assert isinstance(event, ev._Event)
    # what decodes, encodes again and decodes to the same event
    assert ev.decode(ev.encode(event)) == event


@pytest.mark.parametrize(
    "line",
    ["[" * 100_000, '{"type": "agent_log", "agent": "a", "message": "m", "x": ' + "[" * 5000 + "]" * 5000 + "}"],
    ids=["100k-open-brackets", "deep-extra-field"],
)
def test_decode_of_deeply_nested_json_is_a_decode_error(line):
    with pytest.raises(ev.EventDecodeError):
        ev.decode(line)


# ── the reducer ─────────────────────────────────────────────────────────

NON_RESUMED = sorted(kind for kind in KNOWN if kind != "resumed")
SPEC = st.one_of(
    st.sampled_from(NON_RESUMED).flatmap(lambda kind: event_fields(KNOWN[kind]).map(lambda f, k=kind: (k, f))),
    st.just(("resumed", {})),
    TEXT.map(lambda t: ("unknown", {"type": "future_" + t})),
)
"""A Resumed event carries the state folded so far as its snapshot (as the orchestrator writes it)."""


def materialise(specs: list[tuple[str, dict[str, Any]]]) -> list[ev._Event]:
    events: list[ev._Event] = []
    for seq, (kind, fields) in enumerate(specs, start=1):
        base = {"seq": seq, "ts": float(seq), "orch_id": "orch_20270101_000000_abcd"}
        if kind == "resumed":
            events.append(ev.Resumed(**base, checkpoint_id=f"cp_{seq}", snapshot=fold(events).to_dict()))
        elif kind == "unknown":
            events.append(ev.UnknownEvent(**base, **fields))
        else:
            events.append(KNOWN[kind](**base, **fields))
    return events


@SETTINGS
@given(st.lists(SPEC, max_size=25))
def test_fold_of_any_valid_events_never_raises_and_is_deterministic(specs):
    events = materialise(specs)
    first = fold(events)
    assert fold(list(events)) == first
    # the pure reduce, one event at a time, agrees and leaves its input alone
    state = OrchestrationState()
    for event in events:
        before = state.model_dump()
        after = reduce(state, event)
        assert state.model_dump() == before
        state = after
    assert state == first
    in_place = OrchestrationState()
    for event in events:
        apply(in_place, event)
    assert in_place == first
    if events:
        assert first.seq == events[-1].seq


@SETTINGS
@given(st.lists(SPEC, max_size=25))
def test_replay_through_the_codec_gives_the_live_state_and_state_yaml_round_trips(specs):
    events = materialise(specs)
    live = fold(events)
    replayed = fold(ev.decode(ev.encode(e)) for e in events)
    assert replayed == live
    text = live.to_yaml()
    assert OrchestrationState.from_dict(yaml.safe_load(text)) == live
    assert OrchestrationState.from_dict(yaml.safe_load(text)).to_yaml() == text


@pytest.mark.parametrize("snapshot", [{"agent_states": "nope"}, {"status": 5}, {"orchestration_state": []}])
def test_a_resumed_event_with_a_bad_snapshot_does_not_crash_the_fold(snapshot):
    line = json.dumps({"type": "resumed", "seq": 2, "checkpoint_id": "cp_1", "snapshot": snapshot})
    try:
        event = ev.decode(line)
    except ev.EventDecodeError:
        return  # refused at the codec: fine too
    fold([ev.OrchestrationStarted(seq=1, goal="g"), event])


# ── the loaders ─────────────────────────────────────────────────────────

YAML_PRINTABLE = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(
        chr(c) for c in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0), 0xFFFE, 0xFFFF]
    ),
)
"""Characters YAML allows in a file (the others are covered by test_loaders_refuse_control_characters_cleanly)."""
YAML_TEXT = st.text(YAML_PRINTABLE, max_size=200)
SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)

CONFIG_WORDS = [
    "budget",
    "pools",
    "warning",
    "critical",
    "reserved_tokens",
    "recovery",
    "max_retries",
    "max_replans",
    "max_tries_per_step",
    "loop_guard",
    "backoff",
    "initial",
    "factor",
    "max",
    "checkpoints",
    "every_steps",
    "planner",
    "builder",
    "architect",
    "max_question_rounds",
    "confidence_threshold",
    "agents",
    "kind",
    "scripted",
    "command",
    "plan_builder",
    "scenario",
    "timeout",
    "env",
    "step_timeout",
    "theme",
    "working",
]
PLAN_WORDS = [
    "id",
    "task_id",
    "goal",
    "summary",
    "confidence",
    "status",
    "pending",
    "completed",
    "requirements",
    "learnings",
    "steps",
    "description",
    "command",
    "timeout",
    "risky",
    "critical",
    "on_failure",
    "quality_gates",
    "name",
    "transient",
    "code_error",
]
BACKLOG_WORDS = ["epics", "features", "tasks", "id", "title", "status", "depends_on", "pending", "T1", "../x"]
SCENARIO_WORDS = [
    "goal",
    "planner",
    "builder",
    "architect",
    "tasks",
    "steps",
    "duration",
    "tokens",
    "logs",
    "outcomes",
    "fail",
    "message",
    "details",
    "ok",
    "questions",
    "question",
    "default",
    "plan",
    "replan",
    "replan_steps",
    "backlog",
    "plans",
    "description",
    "transient",
    "epics",
]


def documents(words: list[str]) -> st.SearchStrategy[Any]:
    """Nested data built from a loader's own vocabulary, so it gets past the first check often."""
    word = st.sampled_from(words)
    leaf = SCALARS | word
    return st.recursive(
        leaf,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(word | st.integers(0, 9), inner, max_size=4),
        max_leaves=12,
    )


def check_loader(loader, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    try:
        loader(path)
    except InputError as exc:
        message = str(exc)
        assert str(path) in message, message
        assert "Traceback" not in message


YAML_LOADERS = {
    "config": (load_config, CONFIG_WORDS, "config.yaml"),
    "backlog": (load_backlog, BACKLOG_WORDS, "backlog.yaml"),
    "scenario": (load_scenario, SCENARIO_WORDS, "scenario.yaml"),
}


@pytest.mark.parametrize("which", sorted(YAML_LOADERS))
@SETTINGS
@given(data=st.data())
def test_yaml_loaders_succeed_or_raise_one_input_error_naming_the_file(tmp_path_factory, which, data):
    loader, words, name = YAML_LOADERS[which]
    path = tmp_path_factory.mktemp(which) / name
    text = data.draw(
        YAML_TEXT
        | documents(words).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
        | st.lists(
            st.sampled_from(
                ["- ", ": ", "{", "}", "[", "]", "&a ", "*a ", "!!python/name:os.system ", "? ", "\n  ", "'", '"', "#", "---\n"]
            )
            | st.sampled_from(words),
            max_size=20,
        ).map("".join),
        label="text",
    )
    check_loader(loader, path, text)


@SETTINGS
@given(data=st.data())
def test_plan_loader_succeeds_or_raises_one_input_error_naming_the_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    text = data.draw(
        st.text(max_size=200) | documents(PLAN_WORDS).map(json.dumps) | JSON_VALUES.map(json.dumps),
        label="text",
    )
    check_loader(load_plan, path, text)


@pytest.mark.parametrize("which", ["config", "backlog", "scenario", "plan"])
def test_loaders_refuse_deep_nesting_cleanly(tmp_path, which):
    loader = {"plan": load_plan, **{k: v[0] for k, v in YAML_LOADERS.items()}}[which]
    path = tmp_path / "file"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n" if which != "plan" else '{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InputError) as info:
        loader(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("which", sorted(YAML_LOADERS))
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x9b"], ids=["NUL", "ESC", "DEL", "C1-CSI"])
def test_loaders_refuse_control_characters_cleanly(tmp_path, which, char):
    loader = YAML_LOADERS[which][0]
    path = tmp_path / "file.yaml"
    path.write_text(f"goal: a{char}b\n")
    with pytest.raises(InputError) as info:
        loader(path)
    assert str(path) in str(info.value)

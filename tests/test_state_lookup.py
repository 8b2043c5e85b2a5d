"""Lookups by key (agents, sequence entries, checkpoints) agree with a scan whatever is done to the lists."""

from __future__ import annotations

import copy
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from studio_tui.core.state import AgentState, Checkpoint, OrchestrationState, SequenceEntry

KEYS = st.sampled_from(["a", "b", "c", "builder:T1", "planner:T1", "x"])

OPS = st.one_of(
    st.tuples(st.just("append"), KEYS),
    st.tuples(st.just("insert"), KEYS, st.integers(0, 8)),
    st.tuples(st.just("swap"), KEYS, st.integers(0, 8)),
    st.tuples(st.just("rename"), KEYS, st.integers(0, 8)),
    st.tuples(st.just("delete"), st.integers(0, 8)),
    st.tuples(
        st.just("replace_list"),
    ),
    st.tuples(st.just("look"), KEYS),
)


def _scan(items, key, wanted):
    return next((entry for entry in items if key(entry) == wanted), None)


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=40))
def test_agent_lookup_matches_a_scan(ops):
    state = OrchestrationState()
    for op in ops:
        agents = state.agent_states
        if op[0] in ("append", "insert", "swap", "rename") and any(a.agent == op[1] for a in agents):
            continue  # keys are unique in a state (the reducer never adds one twice)
        if op[0] == "append":
            agents.append(AgentState(agent=op[1]))
        elif op[0] == "insert":
            agents.insert(op[2], AgentState(agent=op[1]))
        elif op[0] == "swap" and agents:
            agents[op[2] % len(agents)] = AgentState(agent=op[1])
        elif op[0] == "rename" and agents:
            agents[op[2] % len(agents)].agent = op[1]
        elif op[0] == "delete" and agents:
            del agents[op[1] % len(agents)]
        elif op[0] == "replace_list":
            state.agent_states = list(reversed(agents))
        for key in ("a", "b", "c", "builder:T1", "planner:T1", "x"):
            assert state.agent(key) is _scan(state.agent_states, lambda e: e.agent, key)


def test_sequence_entries_and_checkpoints_by_key():
    state = OrchestrationState()
    state.routing.agent_sequence = [SequenceEntry(agent="planner", key="planner:T1"), SequenceEntry(agent="builder", key="builder:T1")]
    state.checkpoints = [Checkpoint(id="cp_1", name="one"), Checkpoint(id="cp_2", name="two")]
    assert state.routing.entry("builder:T1").agent == "builder"
    assert state.routing.entry("nope") is None
    assert state.checkpoint("cp_2").name == "two"
    state.checkpoints.append(Checkpoint(id="cp_3", name="three"))
    assert state.checkpoint("cp_3").name == "three"


def test_the_index_is_a_cache_not_state():
    state = OrchestrationState(agent_states=[AgentState(agent="a"), AgentState(agent="b")])
    fresh = OrchestrationState.model_validate_json(state.model_dump_json())
    assert state.agent("b") is not None  # builds the index on one side only
    assert state == fresh and fresh == state
    for other in (state.model_copy(deep=True), copy.deepcopy(state), pickle.loads(pickle.dumps(state))):
        assert other == state
        assert other.agent("b") is other.agent_states[1]
        assert other.agent("b") is not state.agent("b")
    assert "_agent_index" not in state.model_dump()

"""States that share records with keyframes and copy one on its first write (copy-on-write).

A keyframe (keyframes.py) holds the state's records by reference, and so do the states built from it,
so a seek does not copy or validate thousands of agents, checkpoints and failures. The reducer changes
some records in place after appending them: agents (`state.agent(key)`), sequence entries
(`routing.entry(key)`) and decisions (`state.decision(id)`). A `SharedState` knows which of its records
are *borrowed* (also held by a keyframe) and hands the reducer a private copy of a borrowed one the
first time it is looked up, putting the copy in its place in the list: the keyframe's record never
changes. Every other record the reducer changes in place is copied by the keyframe instead (see
keyframes.py: failures without a recovery action yet, the budget, plain lists and dicts).

A lookup that only reads still makes the copy (once per record): harmless, and rare outside the reducer.
"""

from __future__ import annotations

from typing import Any

from pydantic import PrivateAttr

from ..state import AgentState, Decision, OrchestrationState, Routing, SequenceEntry


class Borrowed:
    """The records a state shares with keyframes, by id. The records are held here too: an id stays
    theirs while it is listed (a freed record's id could be reused by a new one, which would then be
    copied behind the back of a reducer handler holding it).

    Not copied with the state (`model_copy(deep=True)` copies the records too) nor pickled."""

    __slots__ = ("ids",)

    def __init__(self, records: list[Any] | None = None) -> None:
        self.ids: dict[int, Any] = {} if records is None else dict(zip(map(id, records), records, strict=True))

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(None), ())


def _own(record: Any) -> Any:
    return record.model_copy(deep=True)


class SharedRouting(Routing):
    """`Routing` whose sequence entries may be borrowed from a keyframe."""

    _borrowed: Borrowed | None = PrivateAttr(default=None)

    def entry(self, key: str) -> SequenceEntry | None:
        found = super().entry(key)
        borrowed = self._borrowed
        if found is not None and borrowed is not None and id(found) in borrowed.ids:
            del borrowed.ids[id(found)]
            found = _own(found)
            self.agent_sequence[self._sequence_index.where[key]] = found  # type: ignore[union-attr]
        return found


class SharedState(OrchestrationState):
    """`OrchestrationState` whose agents, sequence entries and decisions may be borrowed from a keyframe.

    Equal to a plain state with the same fields (`==` compares fields only), and folded by the same
    reducer; only the lookups the reducer writes through copy a borrowed record first."""

    _borrowed: Borrowed | None = PrivateAttr(default=None)

    def agent(self, key: str) -> AgentState | None:
        found = super().agent(key)
        borrowed = self._borrowed
        if found is not None and borrowed is not None and id(found) in borrowed.ids:
            del borrowed.ids[id(found)]
            found = _own(found)
            self.agent_states[self._agent_index.where[key]] = found  # type: ignore[union-attr]
        return found

    def decision(self, decision_id: str | None) -> Decision | None:
        found = super().decision(decision_id)
        borrowed = self._borrowed
        if found is not None and borrowed is not None and id(found) in borrowed.ids:
            del borrowed.ids[id(found)]
            decisions = self.decisions
            for position in range(len(decisions) - 1, -1, -1):
                if decisions[position] is found:
                    found = decisions[position] = _own(found)
                    break
        return found

    def lend(self) -> None:
        """Mark every agent, sequence entry and decision as borrowed: a keyframe now holds them.

        The routing becomes a `SharedRouting` if it is not one (a `resumed` event replaces it)."""
        routing = self.routing
        if type(routing) is not SharedRouting:
            routing = SharedRouting.model_construct(**routing.__dict__)
            self.routing = routing
        borrowed = Borrowed([*self.agent_states, *routing.agent_sequence, *self.decisions])
        self._borrowed = borrowed
        routing._borrowed = borrowed

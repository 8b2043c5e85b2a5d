"""The checkpoint browser lists runs as a tree: a fork under its parent, and checkpoints a rewind left
behind named from their own files (never `?` rows)."""

from __future__ import annotations

from studio_tui.core.decider import PolicyDecider
from studio_tui.ui.screens.checkpoints import find_checkpoints


async def test_forks_are_listed_under_their_parent_and_rewound_work_keeps_its_names(tmp_path, doubles):
    make_orchestrator, mini_scenario = doubles.make_orchestrator, doubles.mini_scenario
    ws = doubles.write_workspace(tmp_path / "project", mini_scenario(blocker=False))
    parent = await make_orchestrator(ws).build("Add a mini feature")
    assert parent.status == "completed"
    planner_cp = next(c for c in parent.checkpoints if c.name == "planner_complete")
    record = ws.find_checkpoint(planner_cp.id)
    # a rewind of the parent to planner_complete: its later checkpoints leave the run's current state
    rewound = await make_orchestrator(ws, decider=PolicyDecider("retry")).resume(record)
    assert rewound.status == "completed"
    child = await make_orchestrator(ws).fork(record, goal="Add a mini feature, forked")
    assert (child.parent_orch_id, child.parent_checkpoint_id) == (parent.id, planner_cp.id)

    found = find_checkpoints(ws, None)
    runs = list(dict.fromkeys(e.orch_id for e in found.entries))
    assert runs == [parent.id, child.id]  # the fork comes right after its parent, whatever its age
    assert {e.depth for e in found.entries if e.orch_id == parent.id} == {0}
    assert {e.depth for e in found.entries if e.orch_id == child.id} == {1}
    assert all(e.name != "?" for e in found.entries)
    # every checkpoint file is listed, those of the work the rewind replaced included
    assert len(found.entries) == len(ws.checkpoint_paths())

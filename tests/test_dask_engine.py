"""The Dask engine: the same backlog on a LocalCluster of 2 worker processes ends as the local run does."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.parallel import git

pytest.importorskip("distributed", reason="the dask extra (dask[distributed]) is not installed")

from test_parallel_builders import Project, _tasks

pytestmark = pytest.mark.dask

IDS = ["T1", "T2", "T3", "T4"]
PAIRS = {"T1": "T2", "T2": "T1", "T3": "T4", "T4": "T3"}
"""Each task waits until its partner has started: a pair can only finish on two workers at once."""


def _outcome(project: Project) -> dict:
    events = project.events()
    backlog = yaml.safe_load((project.studio / "backlog.yaml").read_text())
    return {
        "status": events[-1].status,
        "tree": git(project.root, "rev-parse", "HEAD^{tree}").stdout.strip(),
        "commits": project.task_commits(),
        "merged": [e.task_id for e in events if isinstance(e, ev.TaskMerged)],
        "agents": sorted((e.agent, e.output.get("task_id")) for e in events if isinstance(e, ev.AgentCompleted)),
        "backlog": [t["status"] for t in backlog["epics"][0]["features"][0]["tasks"]],
    }


def test_a_backlog_on_a_local_cluster_names_its_workers_and_ends_as_the_local_run(tmp_path: Path) -> None:
    setup = {"pairs": PAIRS, "plain": True}
    local = Project(tmp_path / "local" / "project", _tasks(*IDS), setup)
    on_dask = Project(tmp_path / "dask" / "project", _tasks(*IDS), setup, execution={"engine": "dask", "dask_workers": 2})
    ran_local = local.cli("run-backlog", "--headless", "--parallel", "2")
    assert ran_local.returncode == 0, ran_local.stdout[-3000:] + ran_local.stderr[-3000:]
    ran_dask = on_dask.cli("run-backlog", "--headless")
    assert ran_dask.returncode == 0, ran_dask.stdout[-3000:] + ran_dask.stderr[-3000:]
    assert _outcome(on_dask) == _outcome(local)
    events = on_dask.events()
    dispatched = [e for e in events if isinstance(e, ev.TaskDispatched)]
    assert sorted(e.task_id for e in dispatched) == IDS
    assert all(e.engine == "dask" and e.worker.startswith("tcp://127.0.0.1:") for e in dispatched)
    assert len({e.worker for e in dispatched}) == 2, "both workers ran tasks (a pair cannot finish on one)"
    assert "on dask worker tcp://127.0.0.1:" in ran_dask.stdout  # the headless printer names them too
    # the workers cloned and pushed: no worktree of the orchestrator's own, every branch pushed back
    assert not any(isinstance(e, ev.TaskWorktree) for e in events)
    for task_id in IDS:
        assert git(on_dask.root, "rev-parse", "--verify", "--quiet", f"studio/{events[0].orch_id}/{task_id}", check=False).returncode == 0


def test_workers_clone_from_and_push_to_a_hub_repository(tmp_path: Path) -> None:
    """Machines that do not share the project's folder: a bare repository both reach (repo_url)."""
    hub = tmp_path / "hub.git"
    project = Project(tmp_path / "project", _tasks("T1", "T2", deps={"T2": ["T1"]}), {"plain": True})
    git(tmp_path, "init", "-q", "--bare", str(hub))
    git(project.root, "push", "-q", str(hub), "HEAD:refs/heads/main")
    config = yaml.safe_load((project.studio / "config.yaml").read_text())
    config["execution"] = {"engine": "dask", "dask_workers": 2, "repo_url": str(hub)}
    (project.studio / "config.yaml").write_text(yaml.safe_dump(config))
    run = project.cli("run-backlog", "--headless")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert project.task_commits() == ["T1: Task T1", "T2: Task T2"]
    orch_id = project.events()[0].orch_id
    hub_branches = git(hub, "for-each-ref", "--format=%(refname:short)", "refs/heads/studio").stdout.split()
    assert sorted(hub_branches) == sorted(f"studio/{orch_id}/{name}" for name in ("_base", "T1", "T2"))
    # T2 depends on T1: its worker cloned a base holding T1's work, pushed to the hub first
    t2_parent = git(project.root, "rev-parse", "HEAD~1").stdout.strip()
    assert git(project.root, "log", "-1", "--format=%s", t2_parent).stdout.strip() == "T1: Task T1"


def test_a_worker_lost_mid_task_is_a_transient_failure_retried_on_another_worker(tmp_path: Path) -> None:
    setup = {"pairs": {"T1": "T2", "T2": "T1"}, "kill_worker": "T2", "plain": True}
    project = Project(
        tmp_path / "project",
        _tasks("T1", "T2"),
        setup,
        execution={"engine": "dask", "dask_workers": 2},
        recovery={"max_retries": 2, "max_replans": 0, "backoff": {"initial": 0}},
    )
    run = project.cli("run-backlog", "--headless")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    events = project.events()
    (failed,) = [e for e in events if isinstance(e, ev.AgentFailed)]
    assert failed.agent == "builder:T2" and failed.category == "transient" and "lost mid-task" in failed.message
    (recovery,) = [e for e in events if isinstance(e, ev.RecoveryDecided)]
    assert recovery.action == "retry"
    tries = [e for e in events if isinstance(e, ev.TaskDispatched) and e.task_id == "T2"]
    assert [t.attempt for t in tries] == [1, 2]
    assert tries[0].worker in failed.message and tries[1].worker != tries[0].worker
    assert project.task_commits() == ["T1: Task T1", "T2: Task T2"]

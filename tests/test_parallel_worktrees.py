"""Worktrees, branches and in-order merges for parallel Builders, against real git repositories."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from studio_tui.core.errors import InputError
from studio_tui.core.parallel import Scheduler, TaskSpec, Worktrees, git, merge_order, require_repo

ORCH = "orch_20260101_120000_abcd"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "shared.txt").write_text("line 1\nline 2\nline 3\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def _worktrees(repo: Path) -> Worktrees:
    return Worktrees(repo, ORCH, repo / ".studio" / "worktrees" / ORCH)


def _log(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s", "--reverse").stdout.splitlines()


@pytest.mark.parametrize("strategy", ["ff", "merge"])
def test_each_task_gets_its_own_branch_and_worktree_and_merges_in_order(repo: Path, strategy: str) -> None:
    wt = _worktrees(repo)
    base = wt.head()
    paths = {t: wt.create(t, base) for t in ("T1", "T2", "T3")}
    for task_id, path in paths.items():
        assert git(path, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip() == f"studio/{ORCH}/{task_id}"
        (path / f"{task_id}.txt").write_text(f"made by {task_id}\n")
        assert wt.commit_all(task_id, f"{task_id}: add {task_id}.txt")
        assert not (repo / f"{task_id}.txt").exists()  # the main tree is untouched until the merge
    for task_id in ("T1", "T2", "T3"):
        result = wt.merge(task_id, strategy)  # type: ignore[arg-type]
        assert result.merged, result
    for task_id in ("T1", "T2", "T3"):
        assert (repo / f"{task_id}.txt").read_text() == f"made by {task_id}\n"
    subjects = [s for s in _log(repo) if s.startswith("T")]
    assert subjects == ["T1: add T1.txt", "T2: add T2.txt", "T3: add T3.txt"]
    if strategy == "ff":
        assert git(repo, "rev-list", "--merges", "--count", "HEAD").stdout.strip() == "0"
    else:
        assert int(git(repo, "rev-list", "--merges", "--count", "HEAD").stdout) == 3
    assert wt.merge("T1", strategy).how == "already merged"  # type: ignore[arg-type]


def test_a_conflicting_pair_reports_the_files_and_changes_nothing(repo: Path) -> None:
    wt = _worktrees(repo)
    for task_id, text in (("A", "A's line 2"), ("B", "B's line 2")):
        path = wt.create(task_id)
        (path / "shared.txt").write_text(f"line 1\n{text}\nline 3\n")
        wt.commit_all(task_id, f"{task_id} edits shared.txt")
    assert wt.merge("A").merged
    head = wt.head()
    for strategy in ("ff", "merge"):
        result = wt.merge("B", strategy)  # type: ignore[arg-type]
        assert not result.merged
        assert result.conflicts == ["shared.txt"]
        assert wt.head() == head
        assert git(repo, "status", "--porcelain", "--untracked-files=no").stdout == ""
        assert git(wt.path("B"), "status", "--porcelain").stdout == ""
    # retry after a fix: the person (or the agent) resolves it on the task branch
    wt.reset_to_head("B")
    (wt.path("B") / "shared.txt").write_text("line 1\nA's line 2\nB's line 2b\nline 3\n")
    wt.commit_all("B", "B edits shared.txt again")
    assert wt.merge("B").merged
    assert "B's line 2b" in (repo / "shared.txt").read_text()


def test_an_existing_worktree_is_reused_after_a_crash_and_removal_is_clean(repo: Path) -> None:
    wt = _worktrees(repo)
    path = wt.create("T1")
    (path / "half-done.txt").write_text("step 1 was done before the crash\n")
    assert wt.create("T1") == path and (path / "half-done.txt").exists()
    wt.remove("T1", delete_branch=True)
    assert not path.exists() and not wt.branch_exists("T1")
    assert "T1" not in git(repo, "worktree", "list").stdout


def test_nothing_changed_is_nothing_to_commit(repo: Path) -> None:
    wt = _worktrees(repo)
    wt.create("T1")
    assert wt.commit_all("T1", "nothing") is None
    assert wt.merge("T1").merged


def test_parallel_is_refused_without_git_or_without_a_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError, match="needs a git repository"):
        require_repo(plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(InputError, match="commit"):
        require_repo(empty)


def test_task_ids_that_cannot_be_branch_names_are_refused(repo: Path) -> None:
    with pytest.raises(InputError):
        _worktrees(repo).branch("../evil")


# ── the scheduler ────────────────────────────────────────────────────────


def test_merge_order_puts_dependencies_first_and_keeps_the_rest_in_order() -> None:
    tasks = [TaskSpec("T1", ("T3",)), TaskSpec("T2"), TaskSpec("T3"), TaskSpec("T4", ("T1",))]
    assert [t.id for t in merge_order(tasks)] == ["T2", "T3", "T1", "T4"]
    with pytest.raises(InputError, match="cycle"):
        merge_order([TaskSpec("A", ("B",)), TaskSpec("B", ("A",))])
    with pytest.raises(InputError, match="T9"):
        merge_order([TaskSpec("A", ("T9",))])
    assert [t.id for t in merge_order([TaskSpec("A", ("T9",))], satisfied={"T9"})] == ["A"]


class _Runner:
    """Builds finish when the test says so; records every start, finish and merge."""

    def __init__(self, fail: set[str] = frozenset(), refuse_merge: set[str] = frozenset()) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.trail: list[tuple[str, str]] = []
        self.fail, self.refuse_merge = fail, refuse_merge

    def gate(self, task_id: str) -> asyncio.Event:
        return self.gates.setdefault(task_id, asyncio.Event())

    async def build(self, task_id: str) -> bool:
        self.trail.append(("start", task_id))
        await self.gate(task_id).wait()
        self.trail.append(("built", task_id))
        return task_id not in self.fail

    async def merge(self, task_id: str) -> bool:
        self.trail.append(("merge", task_id))
        return task_id not in self.refuse_merge

    def dropped(self, task_id: str, reason: str) -> None:
        self.trail.append(("dropped", task_id))

    def running(self) -> set[str]:
        started = {t for kind, t in self.trail if kind == "start"}
        return started - {t for kind, t in self.trail if kind == "built"}


async def _until(condition, what: str) -> None:
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)  # yield to the scheduler's tasks; bounded, no wall-clock wait
    raise AssertionError(f"never: {what}")


async def test_scheduler_runs_at_most_n_and_merges_in_task_order() -> None:
    runner = _Runner()
    tasks = [TaskSpec(t) for t in ("T1", "T2", "T3", "T4")]
    scheduler = Scheduler(tasks, runner, limit=2)
    job = asyncio.ensure_future(scheduler.run())
    await _until(lambda: runner.running() == {"T1", "T2"}, "T1 and T2 run together")
    runner.gate("T2").set()  # T2 finishes first: it waits for T1 before merging, T3 starts
    await _until(lambda: runner.running() == {"T1", "T3"}, "T3 takes T2's place")
    assert ("merge", "T2") not in runner.trail
    runner.gate("T1").set()
    await _until(lambda: ("merge", "T2") in runner.trail, "T1 then T2 merged")
    runner.gate("T3").set()
    runner.gate("T4").set()
    await job
    merges = [t for kind, t in runner.trail if kind == "merge"]
    assert merges == ["T1", "T2", "T3", "T4"]
    assert max(len(s) for s in _concurrency(runner.trail)) == 2


def _concurrency(trail: list[tuple[str, str]]) -> list[set[str]]:
    running: set[str] = set()
    seen = []
    for kind, task_id in trail:
        if kind == "start":
            running.add(task_id)
        elif kind == "built":
            running.discard(task_id)
        seen.append(set(running))
    return seen


async def test_scheduler_starts_a_dependent_only_after_its_dependency_merged_and_drops_orphans() -> None:
    runner = _Runner(fail={"T1"})
    tasks = [TaskSpec("T1"), TaskSpec("T2", ("T1",)), TaskSpec("T3"), TaskSpec("T4", ("T3",))]
    scheduler = Scheduler(tasks, runner, limit=4)
    job = asyncio.ensure_future(scheduler.run())
    await _until(lambda: runner.running() == {"T1", "T3"}, "the independent tasks start")
    runner.gate("T3").set()
    runner.gate("T4").set()
    runner.gate("T1").set()
    await job
    assert ("dropped", "T2") in runner.trail and ("start", "T2") not in runner.trail
    assert runner.trail.index(("merge", "T3")) < runner.trail.index(("start", "T4"))
    assert scheduler.status == {"T1": "dropped", "T2": "dropped", "T3": "merged", "T4": "merged"}


async def test_scheduler_skips_tasks_merged_before_a_resume() -> None:
    runner = _Runner()
    for t in ("T1", "T2", "T3"):
        runner.gate(t).set()
    scheduler = Scheduler([TaskSpec(t) for t in ("T1", "T2", "T3")], runner, limit=2, merged={"T1", "T2"})
    await scheduler.run()
    assert runner.trail == [("start", "T3"), ("built", "T3"), ("merge", "T3")]


async def test_an_abort_in_one_build_stops_the_others() -> None:
    class Abort(Exception):
        pass

    cancelled: list[str] = []

    class Runner(_Runner):
        async def build(self, task_id: str) -> bool:
            if task_id == "T2":
                await self.gate("T2").wait()
                raise Abort("the person aborted")
            try:
                return await super().build(task_id)
            except asyncio.CancelledError:
                cancelled.append(task_id)
                raise

    runner = Runner()
    scheduler = Scheduler([TaskSpec("T1"), TaskSpec("T2")], runner, limit=2)
    job = asyncio.ensure_future(scheduler.run())
    await _until(lambda: ("start", "T1") in runner.trail, "T1 runs")
    runner.gate("T2").set()
    with pytest.raises(Abort):
        await job
    assert cancelled == ["T1"]

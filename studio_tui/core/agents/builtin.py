"""The built-in Planner and Architect: a command-protocol agent shipped with studio-tui.

It runs as `studio-tui agent [--test-command CMD]` (config: `kind: command`, `command: [studio-tui,
agent]`) and speaks the command agent protocol (README, "The command agent protocol"): one JSON line
on stdin, JSON lines on stdout. It writes no code; it gives a project with no coding agent configured
a real pipeline that ends honestly:

- as the **Planner** it writes `tasks/<task_id>/plan.json`: one step naming the work (no command:
  nothing here can make the change) and, as the plan's quality gate, the project's test command
  (`--test-command`, or the one detected: pytest, npm test, cargo test, go test, make test). The
  built-in plan builder then runs that gate; a failing test fails the gate (retry, then escalation)
  until a real coding agent (an ACP agent) does the work;
- as the **Architect** it appends one epic, feature and task (the goal) to `backlog.yaml`.

A command whose program is `studio-tui` runs this installation (`python -m studio_tui`), so the
built-in agent is found whatever PATH says (see `resolve_self`).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import IO, Any

import yaml

from ..errors import InputError
from ..plan import Backlog, Plan, load_backlog
from ..store.atomic import atomic_write

SELF_PROGRAM = "studio-tui"
"""A command agent's program name that means this very installation of studio-tui."""

CONFIDENCE = 0.8
"""The built-in plan's confidence: the plan itself is sure (run the tests); whether the work gets
done depends on who does it."""

_NPM_DEFAULT_TEST = "no test specified"
"""Part of the `test` script `npm init` writes, which only fails: not a real test command."""


def resolve_self(command: list[str] | str) -> list[str] | str:
    """`[studio-tui, ...]` as `[python, -m, studio_tui, ...]` with this interpreter; anything else as is."""
    if isinstance(command, list) and command and command[0] == SELF_PROGRAM:
        return [sys.executable, "-m", "studio_tui", *command[1:]]
    return command


# ── the project's test command ───────────────────────────────────────────


def _has_pytest(root: Path) -> bool:
    for name in ("pytest.ini", "conftest.py"):
        if (root / name).is_file():
            return True
    for name, marker in (("pyproject.toml", "[tool.pytest"), ("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        path = root / name
        if path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace"):
            return True
    for folder in (root, root / "tests", root / "test"):
        if folder.is_dir() and (any(folder.glob("test_*.py")) or any(folder.glob("*_test.py"))):
            return True
    return False


def _npm_test(root: Path) -> bool:
    path = root / "package.json"
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return False
    scripts = data.get("scripts") if isinstance(data, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    return isinstance(test, str) and bool(test.strip()) and _NPM_DEFAULT_TEST not in test


def _make_test(root: Path) -> bool:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        path = root / name
        if path.is_file() and re.search(r"^test\s*:", path.read_text(encoding="utf-8", errors="replace"), re.MULTILINE):
            return True
    return False


def detect_test_command(root: Path) -> str | None:
    """The project's test command, by the files at its root; None when there is no sign of one.

    In order: pytest (pytest.ini, conftest.py, a pytest section in pyproject.toml / setup.cfg /
    tox.ini, or test_*.py / *_test.py files at the root or in tests/), `npm test` (package.json with a
    real test script), `cargo test` (Cargo.toml), `go test ./...` (go.mod), `make test` (a Makefile
    with a `test:` target)."""
    try:
        if _has_pytest(root):
            return "pytest -q"
        if _npm_test(root):
            return "npm test"
        if (root / "Cargo.toml").is_file():
            return "cargo test"
        if (root / "go.mod").is_file():
            return "go test ./..."
        if _make_test(root):
            return "make test"
    except OSError:
        return None
    return None


# ── the agent ────────────────────────────────────────────────────────────


def task_slug(goal: str) -> str:
    """A task id from the goal's words: `Fix the failing test` -> `fix-the-failing-test`."""
    words = re.findall(r"[A-Za-z0-9]+", goal.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > 40:
            break
        slug = candidate
    return slug or "task"


class _Out:
    """Protocol lines on stdout, one JSON object each, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def send(self, **message: Any) -> None:
        self.stream.write(json.dumps(message) + "\n")
        self.stream.flush()

    def progress(self, step: int, total: int, description: str = "", *, done: bool = False) -> None:
        self.send(type="progress", step=step, total=total, description=description, done=done)

    def log(self, message: str, level: str = "info") -> None:
        self.send(type="log", message=message, level=level)

    def fail(self, category: str, message: str, details: str = "") -> int:
        self.send(type="failure", category=category, message=message, details=details)
        return 0


def _plan(handoff: dict[str, Any], out: _Out, test_command: str | None) -> int:
    goal = str(handoff.get("goal") or "").strip()
    root = Path(str(handoff.get("project_root") or "."))
    workspace = Path(str(handoff.get("workspace_root") or root / ".studio"))
    task_id = str(handoff.get("task_id") or "") or task_slug(goal)
    attempt = int(handoff.get("attempt") or 1)
    out.progress(1, 2, "Find the project's test command")
    command = test_command or detect_test_command(root)
    if command:
        out.log(f"quality gate: {command}" + ("" if test_command else " (detected)"))
    else:
        out.log(
            "no test command found (pytest, npm test, cargo test, go test, make test): the plan has no quality gate; "
            "pass --test-command in .studio/config.yaml",
            "warning",
        )
    out.progress(1, 2, done=True)
    out.progress(2, 2, "Write the plan")
    plan_id = f"bp_{task_id}" if handoff.get("mode") != "replan" else f"bp_{task_id}_r{attempt}"
    data = {
        "id": plan_id,
        "task_id": task_id,
        "goal": goal,
        "summary": f"{goal} (built-in planner: the tests decide when it is done)",
        "confidence": CONFIDENCE,
        "steps": [
            {
                "id": 1,
                "description": f"{goal}: no coding agent is configured to make this change "
                "(set agents.builder to an ACP agent in .studio/config.yaml)",
            }
        ],
        "quality_gates": [{"name": "tests", "command": command}] if command else [],
    }
    try:
        plan = Plan.model_validate(data)
    except ValueError as exc:
        return out.fail("blocker", f"the built-in planner made an invalid plan for task {task_id!r}", str(exc))
    path = workspace / "tasks" / plan.task_id / "plan.json"
    atomic_write(path, json.dumps(plan.model_dump(mode="json"), indent=2) + "\n")
    out.progress(2, 2, done=True)
    out.send(type="result", output={"plan_id": plan.id, "task_id": plan.task_id, "plan_path": str(path)})
    return 0


def _next_id(prefix: str, taken: set[str]) -> str:
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def _decompose(handoff: dict[str, Any], out: _Out) -> int:
    goal = str(handoff.get("goal") or "").strip() or "the goal"
    root = Path(str(handoff.get("project_root") or "."))
    workspace = Path(str(handoff.get("workspace_root") or root / ".studio"))
    path = workspace / "backlog.yaml"
    out.progress(1, 1, "Add the goal to the backlog")
    try:
        backlog = load_backlog(path)
    except InputError as exc:
        return out.fail("blocker", "the built-in architect cannot read the backlog", str(exc))
    epic_id = _next_id("E", {e.id for e in backlog.epics})
    feature_id = _next_id("F", {f.id for e in backlog.epics for f in e.features})
    task_id = _next_id("T", {t.id for t in backlog.tasks()})
    data = backlog.model_dump(mode="json")
    data["epics"].append(
        {"id": epic_id, "title": goal, "features": [{"id": feature_id, "title": goal, "tasks": [{"id": task_id, "title": goal}]}]}
    )
    updated = Backlog.model_validate(data)
    atomic_write(path, yaml.safe_dump(updated.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
    out.progress(1, 1, done=True)
    out.send(type="result", output={"backlog": str(path), "task_ids": [task_id], "epics": len(updated.epics)})
    return 0


def run(stdin: IO[str], stdout: IO[str], *, test_command: str | None = None) -> int:
    """One run of the built-in agent (`studio-tui agent [--test-command CMD]`); the exit code."""
    out = _Out(stdout)
    line = stdin.readline()
    try:
        handoff = json.loads(line)
    except ValueError:
        return out.fail("blocker", "the built-in agent expects the task as one JSON line on stdin", line[:200])
    if not isinstance(handoff, dict):
        return out.fail("blocker", "the built-in agent expects a JSON object on stdin")
    role = handoff.get("role")
    if role == "planner":
        if test_command is not None and not test_command.strip():
            return out.fail("blocker", "--test-command is empty: name the project's test command, or leave it out to detect it")
        return _plan(handoff, out, test_command.strip() if test_command else None)
    if role == "architect":
        return _decompose(handoff, out)
    return out.fail(
        "blocker",
        f"the built-in agent plans and decomposes; it cannot be the {role}",
        "use kind: plan_builder (or an ACP agent) for the builder in .studio/config.yaml",
    )

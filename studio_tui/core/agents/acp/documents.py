"""A Planner writing plan.json, an Architect writing backlog.yaml: the file is checked when the agent
ends its turn, and an invalid or missing one goes back to it in the same session with the error,
up to `planner.plan_attempts`; a question the agent ends its turn with goes to the person."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError
from ...plan import Plan, PlanStep, load_backlog, load_plan
from ...store.atomic import atomic_write
from ...store.workspace import TASK_ID_RE
from ..base import AgentTask, Outcome
from ..process import clip
from .prompts import answer_prompt, fix_prompt

if TYPE_CHECKING:
    from .process import Session

QUESTION_MAX_CHARS = 1000
"""Characters of the agent's message put to the person as its question (the end of it)."""


@dataclass
class Document:
    """The file a role must leave, and how it is checked."""

    path: Path
    what: str
    """"plan" or "backlog", for the messages."""
    check: Callable[[Path], str | None]
    """The validation error, or None when the file is valid."""
    output: Callable[[Path], dict[str, Any]]
    """What the agent's result carries once the file is valid."""
    from_entries: Callable[[list[str], str], None] | None = None
    """Writes the file from the agent's ACP plan entries (and its summary), when it wrote none."""


def file_digest(path: Path) -> str | None:
    """The file's content hash, None when it does not exist (or cannot be read)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def planner_task_id(task: AgentTask) -> str:
    """The task the plan is for: the task's own id, else the first `T<n>` with no valid plan yet."""
    if task.task_id:
        return task.task_id
    tasks = task.workspace_root / "tasks"
    n = 1
    while True:
        candidate = f"T{n}"
        path = tasks / candidate / "plan.json"
        if not path.exists():
            return candidate
        try:
            load_plan(path)
        except InputError:
            return candidate  # a leftover that never validated: this plan replaces it
        n += 1


def plan_document(task: AgentTask, task_id: str) -> Document:
    assert TASK_ID_RE.match(task_id), task_id
    path = task.workspace_root / "tasks" / task_id / "plan.json"

    def check(path: Path) -> str | None:
        if not path.is_file():
            return f"{path} was not written"
        try:
            plan = load_plan(path)
        except InputError as exc:
            return str(exc)
        if plan.task_id != task_id:
            return f"{path}: task_id is {plan.task_id!r}; it must be {task_id!r}"
        return None

    def output(path: Path) -> dict[str, Any]:
        plan = load_plan(path)
        return {"plan_path": str(path), "task_id": plan.task_id, "plan_id": plan.id}

    def from_entries(entries: list[str], summary: str) -> None:
        plan = Plan(
            id=f"acp_{task_id}",
            task_id=task_id,
            goal=task.goal,
            summary=clip(summary.splitlines()[-1] if summary.strip() else "", 200),
            steps=[PlanStep(id=i, description=entry) for i, entry in enumerate(entries, 1)],
        )
        atomic_write(path, json.dumps(plan.model_dump(mode="json", exclude_defaults=True), indent=2, ensure_ascii=False) + "\n")

    return Document(path=path, what="plan", check=check, output=output, from_entries=from_entries)


def backlog_document(task: AgentTask) -> Document:
    path = task.workspace_root / "backlog.yaml"

    def check(path: Path) -> str | None:
        if not path.is_file():
            return f"{path} was not written"
        try:
            backlog = load_backlog(path)
        except InputError as exc:
            return str(exc)
        ids = [t.id for t in backlog.tasks()]
        if not ids:
            return f"{path}: the backlog has no tasks"
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            return f"{path}: task ids must be unique; repeated: {', '.join(repeated)}"
        if not backlog.pending():
            return f"{path}: no task is pending"
        return None

    def output(path: Path) -> dict[str, Any]:
        backlog = load_backlog(path)
        return {"backlog_path": str(path), "tasks": [t.id for t in backlog.pending()]}

    return Document(path=path, what="backlog", check=check, output=output)


def asked_question(message: str) -> str | None:
    """The question the agent ended its turn with (its message ends with "?"), or None."""
    text = message.strip()
    if not text.endswith("?"):
        return None
    if len(text) > QUESTION_MAX_CHARS:
        text = "… " + text[-QUESTION_MAX_CHARS:]
    return text


async def write_document(session: Session, document: Document, first: str, *, attempts: int, max_questions: int) -> Outcome:
    """Prompt until the agent leaves a valid file (new or changed in this run), answering its
    questions on the way; `design_flaw` when `attempts` checks all failed."""
    before = file_digest(document.path)
    prompt = first
    checks = 0
    questions = len(session.task.answers)
    while True:
        outcome = await session.turn(prompt)
        if not outcome.ok:
            return outcome
        written = file_digest(document.path) != before
        error = document.check(document.path) if written else f"{document.path} was not written"
        if error is None:
            await session.reporter.log(f"{document.what} {document.path} is valid", "info")
            return Outcome(output={**outcome.output, **document.output(document.path)})
        question = asked_question(session.summary())
        if question is not None and not written and questions < max_questions:
            questions += 1
            answer = await session.reporter.ask(question, default="")
            prompt = answer_prompt(answer, session.task.role)
            continue
        entries = session.client.updates.plan_entries
        if not written and entries and document.from_entries is not None:
            document.from_entries(entries, session.summary())
            error = document.check(document.path)
            if error is None:
                await session.reporter.log(
                    f"no {document.path} written: its {len(entries)} ACP plan entries are the plan's steps", "warning"
                )
                return Outcome(output={**outcome.output, **document.output(document.path), "from_plan_entries": True})
        checks += 1
        if checks >= attempts:
            return Outcome.failed(
                "design_flaw",
                clip(f"the {session.task.role} did not leave a valid {document.what} in {attempts} attempts: {error}", 500),
                details=error,
            )
        if question is not None and not written:
            # Out of question rounds: the agent plans with what it has.
            await session.reporter.log(
                f"question round limit reached ({max_questions}): the agent is told to write the {document.what}", "warning"
            )
            prompt = answer_prompt("", session.task.role)
            continue
        await session.reporter.log(clip(f"{document.what} not valid ({checks}/{attempts}), sent back to the agent: {error}"), "warning")
        prompt = fix_prompt(error, document.path, checks, attempts)

"""The inbox ("who needs me"): every decision waiting in any run of a workspace, and the channel that answers one.

The channel is a file: whoever answers (the inbox screen, `studio-tui answer`) writes
`orchestrations/<orch>/answers/<decision_id>.json` atomically; the run's own process races that file
against its own prompt or dialog (`InboxDecider`) and records whichever answers first as DecisionAnswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import events as ev
from . import safefile
from .decider import Answer, Decider, DecisionRequest
from .errors import InputError, NotFound, StudioError
from .replay.codec import _decode_raw
from .replay.stream import events_backwards, iter_file_lines
from .store import Workspace
from .store.atomic import atomic_write
from .text import sanitize

POLL_SECONDS = 0.25
"""How often a waiting run looks for an answer file."""
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class InboxItem:
    """One decision a run is waiting on."""

    orch_id: str
    decision_id: str
    kind: str
    prompt: str
    agent: str | None = None
    options: list[str] = field(default_factory=list)
    asked_ts: float = 0.0
    goal: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    """What the run said with the question (the error, the plan, the signals), as recorded."""

    def age(self, now: float) -> float:
        return max(0.0, now - self.asked_ts) if self.asked_ts else 0.0

    def to_dict(self, now: float) -> dict[str, Any]:
        return {**asdict(self), "age_seconds": round(self.age(now), 1)}


@dataclass
class Inbox:
    items: list[InboxItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


INBOX_TAIL_BYTES = 8 << 20
"""How far back from a log's end a waiting question is looked for: a run that waits writes little
after asking, and the inbox is counted every few seconds, so a huge log must cost only its tail."""


def _waiting_request(path: Path) -> ev.DecisionRequested | None:
    """The newest question of a log that has no answer yet, unless the run finished (or was resumed) since."""
    answered: set[str] = set()
    events = events_backwards(path, max_bytes=INBOX_TAIL_BYTES, kind=safefile.LOG)  # a workspace's own log: no link
    try:
        for event in events:
            if isinstance(event, (ev.OrchestrationFinished, ev.Resumed)):
                return None
            if isinstance(event, ev.DecisionAnswered):
                answered.add(event.decision_id)
            elif isinstance(event, ev.DecisionRequested):
                return None if event.decision_id in answered else event
        return None
    finally:
        events.close()


def _goal(path: Path) -> str:
    """The goal from the log's first line (`orchestration_started`), or "" when it is not there."""
    for _index, raw, _tail in iter_file_lines(path):
        first = _decode_raw(raw, False)
        return first.goal if isinstance(first, ev.OrchestrationStarted) else ""
    return ""


def waiting_decisions(workspace: Workspace) -> Inbox:
    """Every run's pending decision, oldest first, read from the end of each log (never a whole
    log); a run whose log cannot be read is a problem line, not a crash."""
    inbox = Inbox()
    for orch_id in workspace.orchestrations():
        path = workspace.events_path(orch_id)
        try:
            request = _waiting_request(path) if path.exists() else None
            goal = _goal(path) if request is not None else ""
        except Exception as exc:  # a damaged log: reported, the others still listed
            inbox.problems.append(f"{orch_id}: unreadable ({type(exc).__name__})")
            continue
        if request is None:
            continue
        offered = request.details.get("options", [])
        options = list(request.options) or [str(o.get("id")) for o in offered if isinstance(o, dict) and o.get("id")]
        inbox.items.append(
            InboxItem(
                orch_id, request.decision_id, request.kind, request.prompt, request.agent, options, request.ts, goal, dict(request.details)
            )
        )
    inbox.items.sort(key=lambda item: item.asked_ts)
    return inbox


def answer_path(workspace: Workspace, orch_id: str, decision_id: str) -> Path:
    if not decision_id or any(c in decision_id for c in "/\\\0") or decision_id.startswith("."):
        raise InputError(f"decision id {sanitize(repr(decision_id))} is not a decision id")
    return workspace.orch_dir(orch_id) / "answers" / f"{decision_id}.json"


def post_answer(workspace: Workspace, orch_id: str, decision_id: str, answer: str) -> Path:
    """Answer a waiting decision of another run: checked against its options, written atomically for its process."""
    orch_id = workspace.resolve_orch(orch_id)
    item = next((i for i in waiting_decisions(workspace).items if i.orch_id == orch_id and i.decision_id == decision_id), None)
    if item is None:
        raise NotFound(f"{orch_id} is not waiting on decision {sanitize(repr(decision_id))} (see `studio-tui inbox`)")
    if item.options and answer not in item.options:
        raise InputError(f"{sanitize(repr(answer))} is not an answer to {decision_id}: choose one of {', '.join(item.options)}")
    path = answer_path(workspace, orch_id, decision_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"answer": answer, "by": "person", "ts": time.time(), "pid": os.getpid()}))
    return path


def read_answer(path: Path, request: DecisionRequest) -> str | None:
    """The answer in an answer file when it is a valid one for `request`; None when absent or not valid (yet)."""
    try:
        if path.stat().st_size > MAX_ANSWER_BYTES:
            return None
        data = safefile.load_json(path, safefile.REQUEST)  # a regular file, bounded: a FIFO never hangs
    except (StudioError, OSError, ValueError):
        return None
    answer = data.get("answer") if isinstance(data, dict) else None
    if not isinstance(answer, str):
        return None
    allowed = list(request.options) or [str(o.get("id")) for o in request.details.get("options", []) if isinstance(o, dict)]
    if allowed and answer not in allowed:
        return None
    return answer


class InboxDecider:
    """Wraps the run's own decider: whichever answers first, the person here or an answer file, wins."""

    def __init__(self, inner: Decider, workspace: Workspace, orch_id: Callable[[], str] | None = None) -> None:
        self.inner = inner
        self.workspace = workspace
        self.orch_id = orch_id or (lambda: "")

    async def decide(self, request: DecisionRequest) -> Answer:
        orch_id = self.orch_id()
        if not orch_id:
            return await self.inner.decide(request)
        path = answer_path(self.workspace, orch_id, request.id)
        own = asyncio.ensure_future(self.inner.decide(request))
        remote = asyncio.ensure_future(self._watch(path, request))
        try:
            done, _ = await asyncio.wait({own, remote}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (own, remote):
                if not task.done():
                    task.cancel()
            await asyncio.gather(own, remote, return_exceptions=True)
        if own in done and not own.cancelled():
            return own.result()
        value = remote.result()
        with contextlib.suppress(OSError):
            path.unlink()
        return Answer(value, "person")

    async def _watch(self, path: Path, request: DecisionRequest) -> str:
        while True:
            answer = read_answer(path, request)
            if answer is not None:
                return answer
            await asyncio.sleep(POLL_SECONDS)

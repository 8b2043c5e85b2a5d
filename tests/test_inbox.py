"""The inbox channel for real: a run waits on its own (silent) decider; an answer file from outside answers it."""

from __future__ import annotations

import asyncio
import json

import pytest

from studio_tui.core.agents import agent_factory
from studio_tui.core.decider import Answer, DecisionRequest
from studio_tui.core.errors import InputError, NotFound
from studio_tui.core.example import make_demo_workspace
from studio_tui.core.export import export_report
from studio_tui.core.inbox import InboxDecider, answer_path, post_answer, waiting_decisions
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.store import Workspace, read_log


class NobodyHere:
    """A decider whose person never answers (a dialog left open): only the inbox can."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def decide(self, request: DecisionRequest) -> Answer:
        self.asked.append(request.id)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def until(condition, what: str, timeout: float = 20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)  # polling a condition with a deadline, not a fixed wait


async def test_answers_from_the_inbox_answer_the_run_in_its_own_process(tmp_path):
    workspace = Workspace(make_demo_workspace(tmp_path / "project"))
    config = workspace.config()
    nobody = NobodyHere()
    decider = InboxDecider(nobody, workspace)
    orchestrator = Orchestrator(workspace, config, decider, agent_factory(workspace, config, speed=0))
    decider.orch_id = lambda: orchestrator.state.id
    run = asyncio.ensure_future(orchestrator.build("Add user authentication with OAuth"))
    sent: dict[str, str] = {}
    try:
        while not run.done():
            found = await until(lambda: run.done() or waiting_decisions(workspace).items, "a waiting decision or the end")
            if run.done():
                break
            item = found[0]
            assert item.orch_id == orchestrator.state.id and item.age(item.asked_ts + 5) == 5
            if item.decision_id in sent:
                await asyncio.sleep(0.02)
                continue
            answer = "skip" if item.kind == "escalation" else ("GitHub only" if not item.options else item.options[0])
            if item.kind == "escalation":
                with pytest.raises(InputError):
                    post_answer(workspace, item.orch_id, item.decision_id, "maybe")
            post_answer(workspace, item.orch_id, item.decision_id, answer)
            sent[item.decision_id] = answer
        state = await run
    finally:
        run.cancel()
    answered = [e for e in read_log(workspace.events_path(state.id)).events if e.type == "decision_answered"]
    assert sent and {e.decision_id: e.answer for e in answered} == sent
    assert all(e.by == "person" for e in answered)
    assert set(nobody.asked) == set(sent), "the run's own dialog was asked too, and withdrawn"
    assert state.status == "completed"
    assert not waiting_decisions(workspace).items
    assert not any(answer_path(workspace, state.id, d).exists() for d in sent), "answer files are taken"
    with pytest.raises(NotFound):
        post_answer(workspace, state.id, next(iter(sent)), "skip")


def test_a_damaged_answer_file_is_ignored_not_obeyed(tmp_path):
    from studio_tui.core.inbox import read_answer

    path = tmp_path / "d1.json"
    request = DecisionRequest("d1", "escalation", "?", options=("retry", "skip", "abort"))
    for text in ("{", "[]", json.dumps({"answer": 3}), json.dumps({"answer": "rm -rf"})):
        path.write_text(text)
        assert read_answer(path, request) is None
    path.write_text(json.dumps({"answer": "retry"}))
    assert read_answer(path, request) == "retry"


def test_export_markdown_escapes_agent_text_and_html_has_no_script(tmp_path):
    from studio_tui.core.state import Decision, OrchestrationState

    state = OrchestrationState(id="orch_20260601_100000_0001", goal="[click](http://x) <b>hi</b> | *bold*", status="completed")
    state.decisions.append(Decision(id="d1", kind="question", prompt="<script>alert(1)</script>", answer="`x`", by="person"))
    md = export_report(state, [], "md")
    assert "[click](http://x)" not in md and "\\[click\\]" in md
    assert "<b>" not in md and "<script>" not in md
    html = export_report(state, [], "html")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert "## Budget" in md and "## Timeline" in md and "## Decisions (1)" in md

"""An agent's permission request: a dialog showing exactly the options the agent offered."""

from __future__ import annotations

import asyncio

from studio_tui.core.decider import DecisionRequest
from studio_tui.ui.decider import TuiDecider
from studio_tui.ui.screens.decisions import ChoiceScreen

OFFERED = [
    {"id": "allow-once", "name": "Allow this edit", "kind": "allow_once"},
    {"id": "allow-always", "name": "Always allow edits", "kind": "allow_always"},
    {"id": "reject-once", "name": "Reject this edit", "kind": "reject_once"},
    {"id": "reject-always", "name": "Never allow edits", "kind": "reject_always"},
]


def _request() -> DecisionRequest:
    return DecisionRequest(
        id="d42",
        kind="permission",
        prompt="Edit src/auth.py [bold]now[/]",
        agent="builder",
        options=(*tuple(o["id"] for o in OFFERED), "cancelled"),
        details={"options": OFFERED, "tool": "edit"},
    )


async def test_permission_dialog_shows_the_offered_options_and_answers_the_chosen_id(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        pending = asyncio.ensure_future(TuiDecider(app).decide(_request()))
        await dash.until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the permission dialog")
        shown = dash.screen_text(app)
        assert "Permission requested" in shown
        for option in OFFERED:
            assert option["name"] in shown
        assert "Edit src/auth.py [bold]now[/]" in shown  # the agent's text, literally
        await pilot.press("3")
        answer = await asyncio.wait_for(pending, timeout=5)
        assert (answer.value, answer.by) == ("reject-once", "person")
        assert not isinstance(app.screen, ChoiceScreen)


async def test_permission_dialog_cannot_be_dismissed_without_a_choice(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        pending = asyncio.ensure_future(TuiDecider(app).decide(_request()))
        await dash.until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the permission dialog")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceScreen) and not pending.done()
        await pilot.press("5")  # the last option: withdraw the request
        answer = await asyncio.wait_for(pending, timeout=5)
        assert answer.value == "cancelled"

"""The permission dialog an ACP agent's request opens, with everything a person judges it by: a shell
command shown literally (markup in it stays text), a location outside the project root in red, a
location inside it relative to the root, a diff preview, and numbered options (Claude's ids).

Update with `pytest tests/ui --snapshot-update` only after looking at the new SVGs (or PNGs made from them).
"""

from __future__ import annotations

import asyncio

import pytest

from studio_tui.core.decider import DecisionRequest
from studio_tui.ui.decider import TuiDecider
from studio_tui.ui.screens.permission import PermissionScreen

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]

OFFERED = [
    {"id": "allow_always", "name": "Always Allow", "kind": "allow_always"},
    {"id": "allow", "name": "Allow", "kind": "allow_once"},
    {"id": "reject", "name": "Reject", "kind": "reject_once"},
]
OUTSIDE = "/home/me/.bashrc"


def request() -> DecisionRequest:
    preview = "\n".join(
        [
            f"--- {OUTSIDE}",
            f"+++ {OUTSIDE}",
            "@@ -1,3 +1,4 @@",
            " export PATH=$HOME/bin:$PATH",
            "-alias ll='ls -l'",
            "+alias ll='ls -la'",
            "+export EDITOR=vim",
            " # end",
        ]
    )
    return DecisionRequest(
        id="d7",
        kind="permission",
        prompt="Edit ~/.bashrc and run the tests",
        agent="builder:T2",
        options=(*tuple(o["id"] for o in OFFERED), "cancelled"),
        details={
            "options": OFFERED,
            "tool_call": {
                "id": "toolu_01",
                "title": "Edit ~/.bashrc and run the tests",
                "kind": "execute",
                "command": f"sed -i 's/ls -l/ls -la/' {OUTSIDE} && pytest -q tests/ && echo '[bold red]done[/]'",
                "input": "{}",
                "locations": [{"path": OUTSIDE, "outside": True}, {"path": "tests/test_app.py", "outside": False, "line": 12}],
                "diffs": [{"path": OUTSIDE, "outside": True, "preview": preview}],
            },
            "outside_root": [OUTSIDE],
        },
    )


@pytest.mark.parametrize("size", SIZES)
def test_permission_dialog_with_a_command_an_outside_path_and_a_diff(dash, snap_compare, demo_ws, size):
    app = dash.make_app(demo_ws)

    async def before(pilot) -> None:
        await app.push_screen(PermissionScreen(request()))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


async def test_permission_dialog_shows_the_command_literally_and_numbers_answer(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        pending = asyncio.ensure_future(TuiDecider(app).decide(request()))
        await dash.until(pilot, lambda: isinstance(app.screen, PermissionScreen), "the permission dialog")
        shown = dash.screen_text(app)
        assert "echo '[bold" in shown and "red]done[/]'" in shown  # markup shown as text (wrapped at the dialog's width)
        assert f"{OUTSIDE} ← outside the project root" in shown
        assert "tests/test_app.py:12" in shown
        assert "+alias ll='ls -la'" in shown
        assert "[1] Always Allow  (allow_always)" in shown and "[2] Allow  (allow_once)" in shown
        await pilot.press("2")
        answer = await asyncio.wait_for(pending, timeout=5)
        assert (answer.value, answer.by) == ("allow", "person")

"""Replay mode (transport, timeline, bad lines) and watch mode, driven through the real app."""

from __future__ import annotations

import json

import pytest

from studio_tui.ui.screens.replay import BadLinesScreen, ReplayScreen
from studio_tui.ui.widgets.timeline.timeline import Timeline
from studio_tui.ui.widgets.timeline.transport import TransportBar


def replay_app(dash, workspace, path=None):
    path = path or workspace.events_path(workspace.latest())
    return dash.make_app(workspace, "replay", log_path=path)


async def opened(dash, pilot, app, *, keyframes: bool = True) -> ReplayScreen:
    """The replay screen once its first frame shows (and, by default, once the whole log is read)."""
    screen = app.screen
    assert isinstance(screen, ReplayScreen)
    await dash.until(pilot, lambda: screen.ready, "the first frame")
    if keyframes:
        await dash.until(pilot, lambda: screen.indexing is None and screen.keyframing is None, "the log to be read")
        await pilot.pause()
    return screen


def transport_text(screen: ReplayScreen) -> str:
    return str(screen.query_one(TransportBar).render())


class TestTransport:
    async def test_first_frame_then_end_and_start(self, dash, copy_run):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app, keyframes=False)
            assert screen.player.position == 1 and screen.player.state.id == workspace.latest()
            await dash.until(pilot, lambda: "paused" in transport_text(screen), "the transport bar's first paint")  # the next frame tick
            assert not screen.player.playing
            await pilot.press("G")  # maybe before the keyframes reach the end: prepared in a thread
            await dash.until(pilot, lambda: screen.pending_seek is None, "the jump to the end")
            assert screen.player.position == screen.model.length
            assert screen.player.state.status == "completed"
            assert app.feed.state.status == "completed"
            await pilot.press("g")
            assert screen.player.position == 0 and not screen.player.state.id

    async def test_step_and_big_step(self, dash, copy_run):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app)
            length = screen.model.length
            await pilot.press("right")
            assert screen.player.position == 2
            await pilot.press("left")
            assert screen.player.position == 1
            await pilot.press("shift+right")
            assert screen.player.position == min(101, length)
            seq = screen.player.state.seq
            assert seq == screen.player.position  # a clean log: position p is after event p
            await pilot.press("shift+right", "shift+right", "shift+right", "shift+right", "shift+right")
            assert screen.player.position == min(601, length)
            await pilot.press("shift+left")
            assert screen.player.position == max(0, min(601, length) - 100)

    async def test_n_lands_on_failures_and_escalations(self, dash, copy_run):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app)
            marks = screen.model.marks(("failure", "escalation"))
            assert marks, "the example run fails and escalates"
            await pilot.press("n")
            assert screen.player.position == marks[0].position
            assert marks[0].kind in ("failure", "escalation")
            if marks[0].kind == "failure":
                assert screen.player.state.failures
            if len(marks) > 1:
                await pilot.press("n")
                assert screen.player.position == marks[1].position
                await pilot.press("N")
                assert screen.player.position == marks[0].position
            kinds = {m.kind for m in screen.model.marks()}
            assert {"checkpoint", "failure"} <= kinds

    async def test_speed_and_play_to_the_end(self, dash, copy_run):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app)
            await pilot.press("minus")
            assert screen.player.speed == 0.5
            await pilot.press("plus", "equals_sign")
            assert screen.player.speed == 2.0
            await pilot.press("space")
            assert screen.player.playing
            # the transport bar repaints on its next refresh tick
            await dash.until(pilot, lambda: "playing" in transport_text(screen), "the transport bar to say playing")
            await pilot.press("space")
            assert not screen.player.playing
            await pilot.press(*["plus"] * 10)
            assert screen.player.speed == float("inf")
            await dash.until(pilot, lambda: "max" in transport_text(screen), "the transport bar to show max speed")
            await pilot.press("space")
            await dash.until(pilot, lambda: not screen.player.playing, "playback to reach the end")
            assert screen.player.position == screen.model.length
            assert app.feed.state.status == "completed"

    async def test_clicking_and_dragging_the_timeline_seeks(self, dash, copy_run):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app)
            timeline = screen.query_one(Timeline)
            width = timeline.size.width
            await pilot.click(Timeline, offset=(width // 2, 0))
            await pilot.pause()
            assert screen.player.position == timeline.position_at(width // 2)
            assert abs(screen.player.position - screen.model.length / 2) <= screen.model.length / width + 1
            await pilot.click(Timeline, offset=(width - 1, 0))
            await pilot.pause()
            assert screen.player.position == screen.model.length
            await pilot.mouse_down(Timeline, offset=(0, 0))
            await pilot.hover(Timeline, offset=(width // 4, 0))
            await pilot.mouse_up(Timeline, offset=(width // 4, 0))
            await pilot.pause()
            assert screen.player.position == timeline.position_at(width // 4)


class TestIndexing:
    async def test_first_frame_shows_before_indexing_finishes(self, dash, copy_run, monkeypatch):
        from studio_tui.ui.screens import replay as replay_screen

        monkeypatch.setattr(replay_screen, "INDEX_CHUNK_BYTES", 4096)  # many chunks from a small log
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)
        seen: list = []
        async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
            screen = await opened(dash, pilot, app)
            indexed = list({id(m): m for m in seen if isinstance(m, replay_screen.Indexed)}.values())  # the hook may see one twice
            assert indexed[0].first and not indexed[0].done  # the first frame came from a partial index
            assert indexed[-1].done and sum(m.first for m in indexed) == 1
            assert any(isinstance(m, replay_screen.KeyframesBuilt) and m.done for m in seen)
            await pilot.press("G")
            assert screen.player.state.status == "completed"


class TestBadLog:
    async def test_garbage_and_unknown_lines(self, dash, copy_run):
        workspace = copy_run("retry")
        source = workspace.events_path(workspace.latest())
        lines = source.read_text(encoding="utf-8").splitlines()
        unknown = {"type": "telepathy_used", "seq": 3, "ts": json.loads(lines[1])["ts"], "orch_id": workspace.latest(), "mind": "builder"}
        mangled = [lines[0], lines[1], "{this is not json", json.dumps(unknown), *lines[2:]]
        path = workspace.root / "mangled.jsonl"
        path.write_text("\n".join(mangled) + "\n", encoding="utf-8")
        app = replay_app(dash, workspace, path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await opened(dash, pilot, app)
            assert screen.bad_line_count == 1 and [b.line for b in screen.model.bad_lines] == [3]
            await dash.until(pilot, lambda: "1 bad line" in transport_text(screen), "the transport bar to count the bad line")
            assert screen.model.unknown_events == 1
            await pilot.press("right", "right", "right")
            await pilot.pause()
            assert "telepathy_used" in dash.screen_text(app)
            await pilot.press("b")
            assert isinstance(app.screen, BadLinesScreen)
            await pilot.pause()
            assert "not json" in dash.screen_text(app) or "3" in dash.screen_text(app)
            await pilot.press("escape")
            assert app.screen is screen
            await pilot.press("G")
            assert screen.player.state.status == "completed"


class TestPalette:
    async def test_open_replay_over_the_dashboard_and_close(self, dash, copy_run):
        workspace = copy_run("retry")
        app = dash.make_app(workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            app.open_replay(workspace.latest())
            await pilot.pause()
            screen = await opened(dash, pilot, app)
            await pilot.press("G")
            assert screen.player.state.status == "completed"
            await pilot.press("escape")
            assert app.screen is app.dashboard


class TestWatch:
    async def test_follows_appends_until_finished(self, dash, copy_run):
        workspace = copy_run("retry")
        orch_id = workspace.latest()
        path = workspace.events_path(orch_id)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        cut = len(lines) // 2
        path.write_text("".join(lines[:cut]), encoding="utf-8")
        app = dash.make_app(workspace, "watch", orch_id=orch_id)
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: app.feed.state.seq == cut, "the history to be read")
            workspace.lock().acquire().release()  # watching never takes the workspace lock
            await dash.until(pilot, lambda: "watching (read-only)" in dash.screen_text(app), "the watching note")
            with path.open("a", encoding="utf-8") as log:
                log.write("".join(lines[cut : cut + 5]))
            await dash.until(pilot, lambda: app.feed.state.seq == cut + 5, "five appended events")
            with path.open("a", encoding="utf-8") as log:
                log.write("".join(lines[cut + 5 :]))
            await dash.until(pilot, lambda: app.feed.state.status == "completed", "the run to finish")
            await dash.until(pilot, lambda: "finished: completed" in dash.screen_text(app), "the finished note")


@pytest.mark.parametrize("size", [pytest.param((120, 40), id="120x40")])
class TestReplaySnapshot:
    def test_paused_mid_run(self, dash, snap_compare, copy_run, size):
        workspace = copy_run("retry")
        app = replay_app(dash, workspace)

        async def before(pilot) -> None:
            screen = await opened(dash, pilot, app)
            screen.seek(screen.model.marks(("failure",))[0].position)
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=before)

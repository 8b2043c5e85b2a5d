"""The dashboard's view of runs on disk: an orchestration's log folded and tailed, or another process's run watched."""

from __future__ import annotations

import os

from textual import on, work

from studio_tui.core.errors import StudioError
from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.app_base import StudioBase
from studio_tui.ui.feed import TAIL_CHUNK, LogTail
from studio_tui.ui.launch import EXIT_BAD_LAUNCH
from studio_tui.ui.messages import LogRead, Watched

TAIL_INTERVAL = 0.25
"""Seconds between reads of another process's growing events.jsonl (a later issue swaps in watchfiles)."""


class Following(StudioBase):
    """Views an orchestration from disk (folded, then tailed while another process runs it) and watches runs read-only."""

    def _stopped_note(self) -> str:
        """`STOPPED (no writer since HH:MM) · resume: …` for a followed run nobody writes any more."""
        from studio_tui.core.liveness import resume_hint, stopped_label

        state = self.feed.state
        label = stopped_label(self.workspace, state)
        if label is None:
            return ""
        if self._stopped_hint[0] != state.seq:
            self._stopped_hint = (state.seq, resume_hint(self.workspace, state))
        return f"{label} · {self._stopped_hint[1]}"

    # ── viewing an orchestration from disk ───────────────────────────────

    def view(self, orch_id: str | None, *, launched: bool = False) -> None:
        """Show an orchestration's log folded into state; follow it while another process runs it."""
        self._stop_following()
        if orch_id is None:
            self.feed.reset(OrchestrationState(), [])
            return
        try:
            path = self.workspace.events_path(self.workspace.resolve_orch(orch_id))
        except StudioError as exc:
            self.notify(str(exc), title="Cannot show it", severity="error", timeout=15, markup=False)
            if launched:
                self.exit_status = EXIT_BAD_LAUNCH
            self.feed.reset(OrchestrationState(), [])
            return
        self._tail = LogTail(path)
        self._read_log(self._tail, first=True)

    @work(thread=True, group="log-read")
    def _read_log(self, tail: LogTail, first: bool = False) -> None:
        if first:
            # The log already written: folded from its nearest snapshot, never held whole (issue 14).
            from studio_tui.core.replay.catchup import CatchUp

            try:
                with CatchUp(tail.path) as caught:
                    state = caught.run()
                    events = caught.recent_events()
                    tail.offset, tail.partial = caught.offset, b""
                    tail.bad_lines += caught.bad_count  # a count: numbering them would count lines
            except (OSError, StudioError) as exc:
                state, events = OrchestrationState(), []
                if not isinstance(exc, FileNotFoundError) and os.path.lexists(tail.path):
                    tail.problem = str(exc)
            self.post_message(LogRead(tail, events, state))
            return
        events = tail.read_new(TAIL_CHUNK)
        self.post_message(LogRead(tail, events, None))

    @on(LogRead)
    def _log_read(self, message: LogRead) -> None:
        if message.tail is not self._tail:
            return  # an orchestration no longer shown
        if message.state is not None:
            self.feed.reset(message.state, message.events)
            if not message.state.finished and self._tail_timer is None:
                self._tail_timer = self.set_interval(TAIL_INTERVAL, self._poll_tail)
            return
        for event in message.events:
            self.feed.apply(event)
        if self.feed.state.finished:
            self._stop_following(keep_tail=True)

    def _poll_tail(self) -> None:
        if self._tail is not None and not any(w.group == "log-read" and w.is_running for w in self.workers):
            self._read_log(self._tail)

    def _stop_following(self, keep_tail: bool = False) -> None:
        if self.watch_note is not None:
            self.workers.cancel_group(self, "watch")
            self.watch_note = None
        if self._tail_timer is not None:
            self._tail_timer.stop()
            self._tail_timer = None
        if not keep_tail:
            self._tail = None

    # ── watching a run another process drives ────────────────────────────

    def watch(self, orch_id: str | None, *, follow_latest: bool = False) -> None:  # type: ignore[override]  # `studio-tui watch`; Textual's watch(obj, attr, cb) is not used on the app
        """Follow an orchestration's log read-only (never the workspace lock), as it is written."""
        self._stop_following()
        self.watch_note = "◌ watching (read-only)"
        self._follow(orch_id, follow_latest)

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def _follow(self, orch_id: str | None, follow_latest: bool) -> None:
        from studio_tui.core.watch import follow

        try:
            async for item in follow(self.workspace, orch_id, follow_latest=follow_latest, catch_up=True):
                self.post_message(Watched(item))
        except StudioError as exc:
            self.post_message(Watched(None, str(exc)))

    @on(Watched)
    def _watched(self, message: Watched) -> None:
        from studio_tui.core.watch import Attached, Batch, CatchingUp, CaughtUp, Finished, Switched, Waiting

        item = message.item
        if message.error is not None:
            self.watch_note = "not watching"
            self.notify(message.error, title="Cannot watch", severity="error", timeout=15, markup=False)
            if self.launch.action == "watch":
                self.exit_status = EXIT_BAD_LAUNCH
            self.feed.reset(OrchestrationState(), [])
        elif isinstance(item, Attached):
            self.watch_note = "◌ watching (read-only)"
            self.watch_bad_lines = 0
            self.feed.reset(OrchestrationState(), [])
        elif isinstance(item, CatchingUp):
            self.watch_note = f"◌ catching up {item.fraction:.0%} (read-only)"
            self.feed.dirty = True
        elif isinstance(item, CaughtUp):
            self.watch_note = "◌ watching (read-only)"
            self.watch_bad_lines += len(item.bad_lines)
            self.feed.reset(item.state, item.recent)
        elif isinstance(item, Batch):
            for event in item.events:
                self.feed.apply(event)
            self.watch_bad_lines += len(item.bad_lines)
            self.feed.dirty = True
        elif isinstance(item, Finished):
            self.watch_note = f"finished: {item.status} (read-only)"
            self.feed.dirty = True
            self.notify(fmt.literal(item.summary) or item.status, title=f"Watched run {item.status}", timeout=10, markup=False)
        elif isinstance(item, Switched):
            self.notify(f"A newer orchestration started: {item.to_id}", title="Following the latest", timeout=8, markup=False)
        elif isinstance(item, Waiting):
            self.watch_note = "◌ waiting for a run to start (read-only)"
            self.feed.dirty = True

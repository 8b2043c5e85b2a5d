"""Runs driven in this process: the orchestrator as a worker (build, backlog, resume, fork), its end, its questions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import on

from studio_tui.core.errors import StudioError, WorkspaceBusy
from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.decider import DecisionNeeded, DecisionWithdrawn
from studio_tui.ui.following import Following
from studio_tui.ui.launch import EXIT_BAD_LAUNCH, exit_code_for
from studio_tui.ui.messages import RunEnded

if TYPE_CHECKING:
    from studio_tui.core.config import StudioConfig
    from studio_tui.core.orchestrator import Orchestrator
    from studio_tui.core.store import CheckpointRecord, WorkspaceLock

# The orchestrator, the agents and the dialogs are imported when a run starts or asks: a dashboard that only
# shows a run never pays for them (issue 14, startup).


class RunControl(Following):
    """Starts at most one orchestrator run here, under the workspace lock, and shows its questions as dialogs."""

    # ── runs in this process ─────────────────────────────────────────────

    def start_build(self, goal: str, mode: str = "implicit", *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.build(goal, mode=mode), launched=launched)

    def start_backlog(self, *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.run_backlog(), launched=launched)

    def start_resume_id(self, checkpoint_id: str, *, launched: bool = False) -> bool:
        try:
            record = self.workspace.find_checkpoint(checkpoint_id)
        except StudioError as exc:
            self._launch_failed(str(exc), launched)
            return False
        return self.start_resume(record, launched=launched)

    def start_resume(self, record: CheckpointRecord, *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.resume(record), launched=launched)

    def _launch_failed(self, reason: str, launched: bool) -> None:
        self.notify(reason, title="Cannot start the run", severity="error", timeout=15, markup=False)
        if launched:
            self.exit_status = EXIT_BAD_LAUNCH
            self.view(self.workspace.latest())

    def _start(self, begin: Callable[[Orchestrator], Awaitable[OrchestrationState]], *, launched: bool) -> bool:
        if self.active_run is not None:
            self.notify("A run is already active in this dashboard.", severity="warning")
            return False
        if self.launch.read_only:
            self.notify(
                "This dashboard is served read-only: it starts no run (serve --allow-control to drive one).",
                severity="warning",
                markup=False,
            )
            return False
        lock = self.workspace.lock()
        try:
            lock.acquire()
        except WorkspaceBusy as exc:
            self._launch_failed(str(exc), launched)
            return False
        from studio_tui.core.agents import agent_factory

        try:
            config = self.workspace.config()
            if self.launch.execution:
                config = config.model_copy(update={"execution": config.execution.model_copy(update=self.launch.execution)})
            agents = agent_factory(self.workspace, config, speed=self.launch.speed)
        except StudioError as exc:
            lock.release()
            self._launch_failed(str(exc), launched)
            return False
        orchestrator = self._orchestrator(config, agents)
        self._stop_following()
        self.feed.reset(orchestrator.state, [])
        self.active_run = self.run_worker(
            self._drive(orchestrator, begin, lock, launched), name="orchestrator", group="run", exit_on_error=False
        )
        return True

    def _orchestrator(self, config: StudioConfig, agents: Callable[[str], Any]) -> Orchestrator:
        from studio_tui.core.inbox import InboxDecider
        from studio_tui.core.orchestrator import Orchestrator
        from studio_tui.ui.decider import TuiDecider

        decider = InboxDecider(TuiDecider(self), self.workspace)  # an answer from the inbox (any process) counts too
        orchestrator = Orchestrator(
            self.workspace,
            config,
            decider=decider,
            agent_factory=agents,
            clock=self.orchestrator_clock,
            sleep=self.orchestrator_sleep,
        )
        decider.orch_id = lambda: orchestrator.state.id
        orchestrator.subscribe(self.feed.record)
        return orchestrator

    async def _drive(
        self,
        orchestrator: Orchestrator,
        begin: Callable[[Orchestrator], Awaitable[OrchestrationState]],
        lock: WorkspaceLock,
        launched: bool,
    ) -> None:
        """The worker: run the orchestrator; whatever happens, release the lock and say so."""
        error: str | None = None
        try:
            await begin(orchestrator)
        except StudioError as exc:
            error = str(exc)
            if launched:
                self.exit_status = EXIT_BAD_LAUNCH
        except Exception as exc:  # a bug before the orchestrator's own guard: say it, keep the dashboard
            error = f"{type(exc).__name__}: {exc}"
            self.exit_status = 1
        finally:
            lock.release()
            self.post_message(RunEnded(orchestrator.state, error))

    @on(RunEnded)
    def _run_ended(self, message: RunEnded) -> None:
        self.active_run = None
        state = message.state
        self.feed.dirty = True
        if message.error is not None:
            self.notify(message.error, title="Cannot start the run", severity="error", timeout=15, markup=False)
            if self._quitting:
                self.exit(self.exit_status)
            return
        self.last_run = state
        self.exit_status = exit_code_for(state.status)
        severity = "information" if state.status == "completed" else "warning" if state.status == "interrupted" else "error"
        self.notify(fmt.literal(state.summary) or state.status, title=f"Run {state.status}", severity=severity, timeout=10, markup=False)  # type: ignore[arg-type]
        if self._quitting:
            self.exit(self.exit_status)

    # ── questions from the orchestrator ──────────────────────────────────

    @on(DecisionNeeded)
    def _ask(self, message: DecisionNeeded) -> None:
        from studio_tui.ui.screens.decisions import decision_screen

        request, answer = message.request, message.answer
        screen = decision_screen(request)
        self._questions[request.id] = screen

        def answered(value: str | None) -> None:
            self._questions.pop(request.id, None)
            self.clear_notifications()  # the "waiting for you" toast is stale now
            if not answer.done():
                answer.set_result(value or "")

        self.clear_notifications()  # the dialog is the notice; a toast over it would hide its buttons on a small terminal
        self.push_screen(screen, answered)
        self.bell()

    @on(DecisionWithdrawn)
    def _withdrawn(self, message: DecisionWithdrawn) -> None:
        screen = self._questions.pop(message.decision_id, None)
        if screen is not None and screen is self.screen:
            self.pop_screen()

"""What the command line asks the dashboard to do, and the exit codes the dashboard returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from studio_tui.ui.widgets.header.status_header import BAD

if TYPE_CHECKING:
    from studio_tui.core.store import Workspace

EXIT_INTERRUPTED = 130
EXIT_BAD_LAUNCH = 2


@dataclass
class Launch:
    """What the command line asks the dashboard to do first."""

    workspace: Workspace
    action: Literal["view", "build", "resume", "run_backlog", "replay", "watch"]
    goal: str | None = None
    """For build."""
    mode: Literal["implicit", "explicit"] = "implicit"
    checkpoint_id: str | None = None
    """For resume."""
    speed: float = 1.0
    """Scripted agents' speed (0 = no waiting)."""
    theme: str | None = None
    """--theme NAME; overrides config.yaml's theme."""
    orch_id: str | None = None
    """For view and watch: which orchestration (default: the latest)."""
    log_path: Path | None = None
    """For replay: the events.jsonl to replay."""
    max_gap: float | None = None
    """For replay: the longest idle gap played between two events, in log seconds (None: replay's MAX_GAP_S)."""
    follow_latest: bool = False
    """For watch: switch to a newer orchestration when one starts."""
    read_only: bool = False
    """Served read-only to a browser (`studio-tui serve`): no run is started and no checkpoint resumed here."""
    execution: dict[str, Any] | None = None
    """--parallel / --engine / --address, over config.yaml's `execution:`."""

    def replay_max_gap(self) -> float:
        """`max_gap`, or the replay's default: read from the replay package only when a replay opens."""
        from studio_tui.core.replay import MAX_GAP_S

        return MAX_GAP_S if self.max_gap is None else self.max_gap


def exit_code_for(status: str) -> int:
    """0 completed, 130 interrupted, 1 failed/aborted/halted/cancelled."""
    if status == "interrupted":
        return EXIT_INTERRUPTED
    return 1 if status in BAD else 0

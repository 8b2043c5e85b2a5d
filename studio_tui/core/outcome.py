"""How a run ended and how to pick it up again: the lines printed after the dashboard exits.

Plain Rich text built from the state, so every front end (dashboard, headless) can print it
without importing another front end.
"""

from __future__ import annotations

import shlex

from rich.text import Text

from .state import OrchestrationState
from .text import sanitize


def outcome_lines(workspace_root: object, state: OrchestrationState, events_path: object) -> list[Text]:
    """What a run ended as and how to pick it up again: printed after a headless run and when the dashboard exits."""
    if not state.id:
        return []
    root = shlex.quote(str(workspace_root))
    lines = [
        Text(f"{state.id}: {state.status}", style="bold")
        + (Text(" · ") + Text(sanitize(state.summary, keep_newlines=False)) if state.summary else Text())
    ]
    last = state.checkpoints[-1] if state.checkpoints else None
    if state.status == "interrupted" and last is not None:
        lines.append(Text(f"interrupted: resume with  studio-tui --workspace {root} resume {last.id}", style="yellow"))
    elif state.status in ("aborted", "halted", "failed", "cancelled") and last is not None:
        name = sanitize(last.name, keep_newlines=False)
        lines.append(
            Text(f"last checkpoint: {last.id} ({name}); resume with  studio-tui --workspace {root} resume {last.id}", style="yellow")
        )
    lines.append(Text(f"log: {events_path}", style="dim"))
    return lines

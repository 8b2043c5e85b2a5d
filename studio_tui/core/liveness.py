"""Is anyone still writing this run? A run whose writer is gone says STOPPED, never a ticking 'running'."""

from __future__ import annotations

import fcntl
import os
import shlex
import time

from .state import OrchestrationState
from .store import Workspace


def writer_alive(workspace: Workspace) -> bool:
    """Whether some process holds the workspace lock (the one writer), probed without taking it for long."""
    path = workspace.root / "lock"
    try:
        # never through a link, never a FIFO (a non-blocking open): a hostile lock cannot hang `status`
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def stopped_label(workspace: Workspace, state: OrchestrationState) -> str | None:
    """`STOPPED (no writer since HH:MM)` for an unfinished run nobody writes any more; None otherwise."""
    if not state.id or state.finished or writer_alive(workspace):
        return None
    since = state.updated_ts or state.started_ts
    when = time.strftime("%H:%M", time.localtime(since)) if since else "?"
    return f"STOPPED (no writer since {when})"


def resume_hint(workspace: Workspace, state: OrchestrationState) -> str:
    """The command that continues a stopped run (or starts over when it never saved a checkpoint)."""
    where = shlex.quote(str(workspace.root))
    good = workspace.last_good_checkpoint(state.id)
    if good is not None:
        return f"studio-tui --workspace {where} resume {good.meta.id}"
    return f"studio-tui --workspace {where} build {shlex.quote(state.goal)}  (it stopped before its first checkpoint)"

"""The workspace on disk: layout, lock, atomic writes, checkpoints, event log.

Names are imported from their modules on first use (PEP 562), so a command that only reads an event
log (`replay LOG --json`) does not pay for the workspace, checkpoint and config models it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import snapshots
    from .atomic import atomic_write
    from .eventlog import BadLine, EventLogWriter, LogRead, read_log
    from .lock import WorkspaceLock
    from .workspace import (
        CHECKPOINT_ID_RE,
        ORCH_ID_RE,
        TASK_ID_RE,
        CheckpointMeta,
        CheckpointRecord,
        ListedCheckpoint,
        Workspace,
        check_name,
    )

_WHERE = {
    "snapshots": "",
    "atomic_write": "atomic",
    "BadLine": "eventlog",
    "EventLogWriter": "eventlog",
    "LogRead": "eventlog",
    "read_log": "eventlog",
    "WorkspaceLock": "lock",
    "CHECKPOINT_ID_RE": "workspace",
    "ORCH_ID_RE": "workspace",
    "TASK_ID_RE": "workspace",
    "CheckpointMeta": "workspace",
    "CheckpointRecord": "workspace",
    "ListedCheckpoint": "workspace",
    "Workspace": "workspace",
    "check_name": "workspace",
}

__all__ = [
    "CHECKPOINT_ID_RE",
    "ORCH_ID_RE",
    "TASK_ID_RE",
    "BadLine",
    "CheckpointMeta",
    "CheckpointRecord",
    "EventLogWriter",
    "ListedCheckpoint",
    "LogRead",
    "Workspace",
    "WorkspaceLock",
    "atomic_write",
    "check_name",
    "read_log",
    "snapshots",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = importlib.import_module(f"{__name__}.{name}" if module == "" else f"{__name__}.{module}")
    value = found if module == "" else getattr(found, name)
    globals()[name] = value
    return value

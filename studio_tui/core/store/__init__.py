"""The workspace on disk: layout, lock, atomic writes, checkpoints, event log."""

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

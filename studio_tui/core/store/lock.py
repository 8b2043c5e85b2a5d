"""One writer per workspace: an flock on `.studio/lock`, released by the kernel when the holder dies."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from ..errors import WorkspaceBusy


class WorkspaceLock:
    """Held by the process that drives an orchestration; watchers and replay never take it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def holder(self) -> dict:
        """What the lock file says about its holder (may be stale if nobody holds the flock)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "WorkspaceLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = self.holder()
            who = f"pid {info.get('pid', '?')}"
            if info.get("command"):
                who += f" ({info['command']})"
            raise WorkspaceBusy(
                f"{self.path.parent} is in use by {who}; wait for it to finish, "
                "or use `studio-tui watch` to follow it read-only"
            ) from None
        # The flock is ours: whatever the file said was left by a dead process, so overwrite it.
        record = {
            "pid": os.getpid(),
            "command": " ".join(["studio-tui", *sys.argv[1:]])[:200],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WorkspaceLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

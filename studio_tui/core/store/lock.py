"""One writer per workspace: an flock on `.studio/lock`, released by the kernel when the holder dies.

The lock file is never followed through a symlink and must be a regular file (a link there would
make every writer truncate whatever it points at). Its record names the holder's pid, command and
the orchestration it is driving; a refusal always names the pid (from the record, or from the
kernel's own table of locks when the holder has not written its record yet)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .. import safefile
from ..errors import StudioError, WorkspaceBusy
from ..text import command_hint

HOLDER_WAIT_S = 2.0
"""Longest a refused writer waits for the holder's record to appear (it is written right after the flock)."""


class WorkspaceLock:
    """Held by the process that drives an orchestration; watchers and replay never take it."""

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.path = path
        self.root = root
        self._fd: int | None = None

    def holder(self) -> dict[str, Any]:
        """What the lock file says about its holder (may be stale if nobody holds the flock)."""
        try:
            data = safefile.parse_json(safefile.read_bytes(self.path, safefile.LOCK, root=self.root) or b"{}", self.path)
        except (StudioError, OSError):
            return {}
        return data if isinstance(data, dict) else {}

    def _kernel_holder(self) -> int | None:
        """The pid holding an flock on the lock file, from /proc/locks (Linux), if any."""
        try:
            inode = os.lstat(self.path).st_ino
            with open("/proc/locks", encoding="ascii", errors="replace") as table:
                for line in table:
                    parts = line.split()
                    # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
                    if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
                        return int(parts[4])
        except (OSError, ValueError):
            return None
        return None

    def _describe_holder(self) -> str:
        deadline = time.monotonic() + HOLDER_WAIT_S
        info = self.holder()
        while not isinstance(info.get("pid"), int) and time.monotonic() < deadline:
            time.sleep(0.02)  # polling for the record the holder writes right after taking the flock
            info = self.holder()
        pid = info.get("pid") if isinstance(info.get("pid"), int) else self._kernel_holder()
        who = f"pid {pid}" if pid is not None else "another process (pid unknown)"
        if info.get("command"):
            who += f" ({str(info['command'])[:200]})"
        return who

    def acquire(self) -> WorkspaceLock:
        fd = safefile.open_lock_file(self.path, root=self.root)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkspaceBusy(
                f"{self.path.parent} is in use by {self._describe_holder()}; wait for it to finish, "
                "or use `studio-tui watch` to follow it read-only"
            ) from None
        # The flock is ours: whatever the file said was left by a dead process, so overwrite it.
        self._fd = fd
        try:
            self._write_record(
                {
                    "pid": os.getpid(),
                    "command": command_hint(*sys.argv[1:])[:200],
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
            )
        except OSError as exc:
            self.release()
            raise safefile.disk_error(self.path, exc) from None
        if self.root is not None:
            # nobody else writes while we hold the lock: temporary files now are left by killed writers
            safefile.clean_stale_tmp([Path(folder) for folder, _, _ in os.walk(self.root)])
        return self

    def _write_record(self, record: dict[str, Any], fd: int | None = None) -> None:
        """Write the record in place, then cut the file to its length (no moment with an empty file
        once a record was there)."""
        fd = self._fd if fd is None else fd
        assert fd is not None
        data = json.dumps(record).encode()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))

    def note(self, **fields: str) -> None:
        """Add fields (the orchestration being driven) to the record, if this process holds the lock."""
        if not os.path.isfile(self.path):
            return
        try:
            fd = safefile.open_lock_file(self.path, root=self.root)
        except StudioError:
            return
        try:
            record = self.holder()
            if record.get("pid") != os.getpid():
                return
            self._write_record({**record, **fields}, fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # a read-only or full disk: the kernel still drops the flock below
            os.ftruncate(self._fd, 0)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

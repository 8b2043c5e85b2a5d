"""No orphans: agent process groups die with the orchestrator, and any survivor is ended on resume.

Two layers. Each child asks the kernel for a parent-death signal (prctl(PR_SET_PDEATHSIG, SIGKILL),
Linux, through ctypes) so it dies the moment the orchestrator does, even on kill -9. Its own children
(a shell's `sleep`) are not covered by that, so every group is also recorded on disk in the
orchestration folder while it runs; `resume` ends whatever is left in those groups before it runs
the step again, and says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .. import safefile
from ..errors import StudioError

PR_SET_PDEATHSIG = 1
"""prctl option number (linux/prctl.h)."""

END_WAIT_SECONDS = 5.0
"""How long `end_survivors` waits for a killed group to be gone before reporting it as still there."""

_records: contextvars.ContextVar[Path | None] = contextvars.ContextVar("studio_process_records", default=None)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def preexec() -> Callable[[], None] | None:
    """The preexec_fn for an agent child process (None where there is no parent-death signal)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def die_with_parent() -> None:
        """Runs in the child between fork and exec: as little as possible, all of it bound beforehand.
        A parent that died before the signal was set is noticed by the changed parent pid."""
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return die_with_parent


def record_groups_in(folder: Path | None) -> contextvars.Token[Path | None]:
    """Record the groups of processes started from this context (the orchestrator's task) in `folder`."""
    return _records.set(folder)


def forget_records(token: contextvars.Token[Path | None]) -> None:
    _records.reset(token)


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), to tell a reused pid apart."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    after_name = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(after_name[19])
    except (IndexError, ValueError):
        return None


def record(pid: int, command: str) -> None:
    """A child `pid` (leader of its own group) was started: note it on disk."""
    folder = _records.get()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        body = {"pgid": pid, "command": command[:300], "start_ticks": _start_ticks(pid), "started": time.time()}
        (folder / f"{pid}.json").write_text(json.dumps(body), encoding="utf-8")
    except OSError:
        pass  # bookkeeping only: the parent-death signal still applies


def forget(pid: int) -> None:
    folder = _records.get()
    if folder is not None:
        (folder / f"{pid}.json").unlink(missing_ok=True)


def _members(pgid: int, since_ticks: int | None) -> list[int]:
    """Live processes in group `pgid` started no earlier than its leader was (so not a reused id)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        try:
            state, pgrp, ticks = fields[0], int(fields[2]), int(fields[19])
        except (IndexError, ValueError):
            continue
        if pgrp == pgid and state != b"Z" and (since_ticks is None or ticks >= since_ticks):
            found.append(int(entry.name))
    return found


def survivors(folder: Path) -> dict[int, tuple[str, list[int]]]:
    """pgid -> (command, live member pids) for every recorded group that still has a live process."""
    alive: dict[int, tuple[str, list[int]]] = {}
    if not folder.is_dir():
        return alive
    for path in sorted(folder.glob("*.json")):
        try:
            body = safefile.load_json(path, safefile.REQUEST)  # small, regular, bounded: never a hang
            pgid = int(body["pgid"])
        except (StudioError, OSError, ValueError, KeyError, TypeError):
            continue
        members = _members(pgid, body.get("start_ticks"))
        if members:
            alive[pgid] = (str(body.get("command", "?")), members)
    return alive


def end_survivors(folder: Path) -> list[str]:
    """Kill every process left in the recorded groups, forget the records; one line per group ended."""
    ended: list[str] = []
    for pgid, (command, members) in survivors(folder).items():
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + END_WAIT_SECONDS
        while _members(pgid, None) and time.monotonic() < deadline:
            time.sleep(0.01)
        ended.append(f"ended {len(members)} leftover process(es) of the stopped run (group {pgid}: {command})")
    if folder.is_dir():
        for path in folder.glob("*.json"):
            path.unlink(missing_ok=True)
    return ended

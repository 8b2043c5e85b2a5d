"""What an ACP run keeps beyond log lines: events of its own (through the reporter, when it records
them), content blobs and the agent's stderr stream, both in the orchestration's folder beside the log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ... import events as ev
from ..base import Reporter

BLOB_INLINE_MAX_CHARS = 4096
"""Characters of a tool call's content kept inline in its event; more goes to `blobs/<sha256>`."""

STDERR_FILE_MAX_BYTES = 2 * 1024 * 1024
"""Bytes of one stderr stream file; past it the file is rotated to `<name>.1` (one old file kept),
so an agent's stderr takes at most twice this on disk, whatever it writes."""


def safe_name(key: str) -> str:
    """An agent key (`builder:T2`) as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key) or "agent"


class Records:
    """The reporter's optional `record` and `files_dir`, used when it has them: a RecordingReporter in
    a test, or any reporter without a log, simply gets the log lines."""

    def __init__(self, reporter: Reporter) -> None:
        self._record = getattr(reporter, "record", None)
        files_dir = getattr(reporter, "files_dir", None)
        self.folder: Path | None = files_dir() if callable(files_dir) else None

    async def emit(self, event: type[ev._Event], **fields: Any) -> None:
        if self._record is not None:
            await self._record(event, **fields)

    def blob(self, payload: dict[str, Any]) -> str | None:
        """Store `payload` (JSON) as `blobs/<sha256>`; its hash, or None when there is nowhere to keep it."""
        if self.folder is None:
            return None
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8", "replace")
        digest = hashlib.sha256(data).hexdigest()
        target = self.folder / "blobs" / digest
        if target.exists():
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{digest}.{os.getpid()}.part")
            partial.write_bytes(data)
            os.replace(partial, target)
        except OSError:
            return None
        return digest


def read_blob(folder: Path, digest: str) -> dict[str, Any]:
    """A blob written by `Records.blob` (the fields moved out of a ToolContent), checked against its hash."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a blob hash: {digest!r}")
    data = (folder / "blobs" / digest).read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"blob {digest} does not match its hash")
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"blob {digest} is not a JSON object")
    return value


class StderrStream:
    """An agent's stderr, line by line, into `stderr/<agent>.log` in the orchestration's folder:
    bounded (rotated once past STDERR_FILE_MAX_BYTES), and announced by `AgentStderr` events (when
    the first line arrives, and with the totals at the end), never copied into the event log."""

    def __init__(self, records: Records, agent_key: str, *, header: str, max_bytes: int | None = None) -> None:
        self._records = records
        self._max_bytes = max_bytes if max_bytes is not None else STDERR_FILE_MAX_BYTES
        self.relative = f"stderr/{safe_name(agent_key)}.log"
        self.path = records.folder / self.relative if records.folder is not None else None
        self._header = header
        self._handle: Any = None
        self._size = 0
        self.lines = 0
        self.dropped = 0
        """Lines no longer on disk (rotated away twice)."""
        self._in_old = 0
        self._in_current = 0
        self._announced = False
        self._broken = False

    def _open(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - held open across writes, closed by close()
        self._size = self.path.stat().st_size
        self._write(f"--- {self._header} ---")

    def _write(self, line: str) -> None:
        data = line + "\n"
        size = len(data.encode("utf-8", "replace"))
        if self._size + size > self._max_bytes and self._size:
            self._handle.close()
            assert self.path is not None
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self.dropped += self._in_old
            self._in_old, self._in_current = self._in_current, 0
            self._handle = open(self.path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115 - held open across writes, closed by close()
            self._size = 0
        self._handle.write(data)
        self._size += size

    async def add(self, line: str) -> None:
        self.lines += 1
        if self.path is None or self._broken:
            return
        try:
            if self._handle is None:
                self._open()
            self._write(line)
            self._in_current += 1
        except OSError:
            self._broken = True
            return
        if not self._announced:
            self._announced = True
            self._handle.flush()
            await self._records.emit(ev.AgentStderr, path=self.relative, lines=self.lines, dropped=self.dropped)

    async def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
            await self._records.emit(ev.AgentStderr, path=self.relative, lines=self.lines, dropped=self.dropped)

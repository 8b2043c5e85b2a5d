"""Child processes for agents: own process group, bounded line reading, a clock, and a group kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import groups
from .base import Reporter

MAX_LINE_BYTES = 256 * 1024
"""Longest output line kept whole (the StreamReader limit): room for a large JSON result, while one
runaway line without a newline is truncated instead of growing memory."""

LOG_LINE_MAX_CHARS = 2000
"""Characters of one output line shown in a log entry; a log pane is for reading, not for payloads."""

TAIL_MAX_LINES = 50
"""Output lines kept for a failure's details: enough to see an error and its traceback."""

TAIL_MAX_CHARS = 8 * 1024
"""Characters kept for a failure's details, so a tail of long lines stays small in the event log."""

KILL_GRACE_SECONDS = 2.0
"""Time a process group gets between SIGTERM and SIGKILL: long enough to flush and clean up,
short enough that an abort or a timeout feels immediate."""

DRAIN_SECONDS = 2.0
"""Time to finish reading buffered output once the process group is gone; only a process that left
the group (a daemon) can keep the pipes open longer, and it is not waited for."""

LOG_BURST_LINES = 200
"""Output lines forwarded to the reporter at once before the rate limit applies."""

LOG_LINES_PER_SECOND = 50.0
"""Sustained output lines forwarded per second: a live view stays readable and a flood of output
can't turn into a flood of events; the rest are counted and reported as a number."""

StreamName = Literal["stdout", "stderr"]


def argv_for(command: list[str] | str) -> list[str]:
    """The argv that runs `command`: a list is exec'd as is, a string goes to `/bin/sh -c`."""
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    return list(command)


def describe_command(command: list[str] | str) -> str:
    """A short, readable form of `command` for messages."""
    text = command if isinstance(command, str) else " ".join(command)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_exit(code: int) -> str:
    """A process's end in words: `exit 3`, or `killed by signal 9 (SIGKILL)`."""
    if code >= 0:
        return f"exit {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    return f"killed by signal {-code}{name}"


@dataclass(frozen=True)
class OutputLine:
    """One line a child process wrote, decoded, without its newline, cut at MAX_LINE_BYTES."""

    text: str
    size: int
    """Bytes the line had on the pipe, newline included, even when truncated."""
    truncated: bool = False

    def shown(self, max_chars: int = LOG_LINE_MAX_CHARS) -> str:
        """The line as a log shows it: cut to `max_chars`, with a marker when anything is missing."""
        if not self.truncated and len(self.text) <= max_chars:
            return self.text
        return f"{self.text[:max_chars]} … [truncated, {self.size} bytes]"


def clip(text: str, max_chars: int = LOG_LINE_MAX_CHARS) -> str:
    """`text` cut to `max_chars` for a log, with a marker saying how long it was."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]} … [truncated, {len(text)} characters]"


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")


async def _read_overlong(stream: asyncio.StreamReader, available: int) -> OutputLine:
    """Consume a line longer than the stream limit, keeping its first MAX_LINE_BYTES."""
    head = await stream.read(available)
    size = len(head)
    while True:
        try:
            size += len(await stream.readuntil(b"\n"))
            break
        except asyncio.IncompleteReadError as exc:
            size += len(exc.partial)
            break
        except asyncio.LimitOverrunError as exc:
            size += len(await stream.read(exc.consumed))
    return OutputLine(_decode(head[:MAX_LINE_BYTES]), size, truncated=True)


async def read_lines(stream: asyncio.StreamReader) -> AsyncIterator[OutputLine]:
    """Lines from `stream` until EOF; memory stays bounded by the stream's limit whatever arrives."""
    while True:
        try:
            raw = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                yield OutputLine(_decode(exc.partial), len(exc.partial))
            return
        except asyncio.LimitOverrunError as exc:
            yield await _read_overlong(stream, exc.consumed)
            continue
        yield OutputLine(_decode(raw), len(raw))


class OutputTail:
    """The last lines of some output, bounded in lines and characters, for a failure's details."""

    def __init__(self, max_lines: int = TAIL_MAX_LINES, max_chars: int = TAIL_MAX_CHARS) -> None:
        self._lines: deque[str] = deque()
        self._chars = 0
        self._max_lines = max_lines
        self._max_chars = max_chars

    def add(self, line: str) -> None:
        line = line[-self._max_chars :]
        self._lines.append(line)
        self._chars += len(line) + 1
        while len(self._lines) > self._max_lines or self._chars > self._max_chars:
            self._chars -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)

    def __len__(self) -> int:
        return len(self._lines)


class LogThrottle:
    """Forwards output lines to a reporter at a bounded rate and says how many it held back."""

    def __init__(
        self,
        reporter: Reporter,
        *,
        burst: int = LOG_BURST_LINES,
        per_second: float = LOG_LINES_PER_SECOND,
        what: str = "output lines",
    ) -> None:
        self._reporter = reporter
        self._what = what
        self._burst = burst
        self._per_second = per_second
        self._allowance = float(burst)
        self._last = time.monotonic()
        self._held_back = 0

    async def log(self, message: str, level: str = "info") -> None:
        now = time.monotonic()
        self._allowance = min(self._burst, self._allowance + (now - self._last) * self._per_second)
        self._last = now
        if self._allowance < 1:
            self._held_back += 1
            return
        self._allowance -= 1
        await self.flush()
        await self._reporter.log(message, level)

    async def flush(self) -> None:
        """Report the lines held back since the last report, if any."""
        if self._held_back:
            count, self._held_back = self._held_back, 0
            await self._reporter.log(f"… {count} {self._what} not shown (more than {self._per_second:g} lines a second)", "warning")


class RunClock:
    """Counts a run's time against its limit, except while the run waits on a person."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._used = 0.0
        self._running_since: float | None = time.monotonic()
        self._pauses = 0
        self._changed = asyncio.Event()

    def remaining(self) -> float | None:
        """Seconds left, or None while paused."""
        if self._running_since is None:
            return None
        return self.limit - self._used - (time.monotonic() - self._running_since)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock for the duration of the block (a question to a person)."""
        if self._pauses == 0 and self._running_since is not None:
            self._used += time.monotonic() - self._running_since
            self._running_since = None
            self._changed.set()
        self._pauses += 1
        try:
            yield
        finally:
            self._pauses -= 1
            if self._pauses == 0:
                self._running_since = time.monotonic()
                self._changed.set()

    async def guard(self, task: asyncio.Future[Any]) -> bool:
        """Wait for `task`; False when the clock ran out first (the task is left running)."""
        while not task.done():
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                return False
            self._changed.clear()
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({task, changed}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
        return True


LineHandler = Callable[[StreamName, OutputLine], Awaitable[None]]


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # macOS answers EPERM for a group left with only zombies: nothing to signal either.
        return False
    return True


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol of `create_subprocess_exec`, plus a future resolved when the process exits.

    On Python 3.11 `Process.wait()` only returns once every pipe is closed, so a background child
    holding stdout would hide the exit; this future does not wait for the pipes.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


class ChildProcess:
    """A child process in its own process group, read line by line, never left behind."""

    def __init__(
        self,
        command: list[str] | str,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        with_stdin: bool = False,
    ) -> None:
        self.command = command
        self._cwd = cwd
        self._env = dict(env) if env is not None else None
        self._with_stdin = with_stdin
        self._proc: asyncio.subprocess.Process | None = None
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: _ExitAwareProtocol | None = None
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode() if self._transport else None

    async def start(self) -> None:
        """Start the process; OSError (missing program, bad cwd) propagates."""
        argv = argv_for(self.command)
        if not argv:
            raise FileNotFoundError(2, "empty command")
        loop = asyncio.get_running_loop()
        # What create_subprocess_exec does, with a protocol that reports the exit itself.
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitAwareProtocol(MAX_LINE_BYTES, loop),
            *argv,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.PIPE if self._with_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=groups.preexec(),  # dies with the orchestrator, even on kill -9
        )
        self._transport, self._protocol = transport, protocol
        self._proc = asyncio.subprocess.Process(transport, protocol, loop)
        groups.record(transport.get_pid(), describe_command(self.command))

    async def send_line(self, text: str) -> bool:
        """Write one line to the process's stdin; False when it no longer reads it."""
        stdin = self._proc.stdin if self._proc else None
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write(text.encode("utf-8") + b"\n")
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    async def run(self, on_line: LineHandler, clock: RunClock, *, first_line: str | None = None) -> int | None:
        """Feed every output line to `on_line` until the process exits; its exit code, or None when
        the clock ran out (the group is killed). Cancellation kills the group and propagates."""
        assert self._proc is not None and self._proc.stdout and self._proc.stderr, "start() first"
        readers = [
            asyncio.ensure_future(self._read("stdout", self._proc.stdout, on_line)),
            asyncio.ensure_future(self._read("stderr", self._proc.stderr, on_line)),
        ]
        helpers: list[asyncio.Future[Any]] = []
        if first_line is not None:
            helpers.append(asyncio.ensure_future(self.send_line(first_line)))
        exited = asyncio.ensure_future(self._until_exit(readers))
        try:
            in_time = await clock.guard(exited)
            if in_time:
                exited.result()  # a failing line handler raises here
                await self._end_leftovers(readers)
            else:
                await self._terminate()
            await asyncio.wait(readers, timeout=DRAIN_SECONDS)
            for reader in readers:
                if reader.done():
                    reader.result()
            return self.returncode if in_time else None
        finally:
            for task in (exited, *readers, *helpers):
                task.cancel()
            await asyncio.gather(exited, *readers, *helpers, return_exceptions=True)
            if self.returncode is None:
                await self.close()

    async def close(self) -> None:
        """Kill the group if the process still runs, then release the pipes; safe to call twice."""
        if self._transport is None:
            return
        if self.returncode is None:
            if self._stopping is None:
                self._stopping = asyncio.ensure_future(self._terminate())
            # Shielded: a second cancellation must not leave the process running.
            await asyncio.shield(self._stopping)
        self._transport.close()
        groups.forget(self._transport.get_pid())

    async def _until_exit(self, readers: Sequence[asyncio.Future[None]]) -> None:
        """Finish when the process exits; raise at once if a line handler fails."""
        assert self._protocol is not None
        exited = self._protocol.exited
        pending: set[asyncio.Future[Any]] = {exited, *readers}
        while exited in pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not exited:
                    task.result()

    async def _read(self, name: StreamName, stream: asyncio.StreamReader, on_line: LineHandler) -> None:
        async for line in read_lines(stream):
            await on_line(name, line)

    async def _terminate(self) -> None:
        """SIGTERM the group, SIGKILL it after a grace, and wait until the process is reaped."""
        assert self._proc is not None and self._protocol is not None
        pgid = self._proc.pid
        exited = self._protocol.exited
        if _signal_group(pgid, signal.SIGTERM):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), KILL_GRACE_SECONDS)
            _signal_group(pgid, signal.SIGKILL)
        await exited

    async def _end_leftovers(self, readers: Sequence[asyncio.Future[None]]) -> None:
        """End what the exited process left running in its group, so no orphan outlives the run."""
        assert self._proc is not None
        pgid = self._proc.pid
        if _signal_group(pgid, signal.SIGTERM):
            await asyncio.wait(readers, timeout=KILL_GRACE_SECONDS)
            _signal_group(pgid, signal.SIGKILL)

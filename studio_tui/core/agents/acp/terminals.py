"""The client side of ACP's `terminal/*`: commands an agent asks studio-tui to run.

Each terminal is a real subprocess in the project root (or a `cwd` inside it), in its own process
group, stdout and stderr merged. Its output is kept up to the request's `outputByteLimit` (cut from
the beginning, at a character boundary, as the spec says) and streamed as `TerminalOutput` events.
Every terminal still running when the run ends (end of turn, abort, timeout) is killed with its group.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from acp import RequestError
from acp.schema import EnvVariable, TerminalExitStatus

from ... import events as ev
from ..process import KILL_GRACE_SECONDS, argv_for, clip
from .files import FS_REFUSED, confine
from .records import Records

DEFAULT_OUTPUT_LIMIT = 1024 * 1024
"""Bytes of output kept for a terminal whose request names no `outputByteLimit`."""

STREAM_MAX_BYTES = 1024 * 1024
"""Bytes of one terminal's output streamed as events; past it the events stop (the last says
`truncated`), while the agent still gets the output it asked to keep."""

READ_CHUNK = 64 * 1024

MAX_TERMINALS = 32
"""Terminals one run may hold at once (not released): a runaway agent cannot fork without bound."""


def _at_char_boundary(data: bytearray) -> None:
    """Drop leading UTF-8 continuation bytes, so what is kept starts on a character."""
    cut = 0
    while cut < len(data) and cut < 4 and (data[cut] & 0xC0) == 0x80:
        cut += 1
    if cut:
        del data[:cut]


class Terminal:
    """One command the agent runs through the client."""

    def __init__(
        self,
        terminal_id: str,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        limit: int,
        emit: Callable[..., Awaitable[None]],
        *,
        shell: bool = False,
    ) -> None:
        self.id = terminal_id
        self.argv = argv
        self.command = clip(argv[2] if shell else " ".join(argv), 2000)
        self.cwd = cwd
        self.env = env
        self.limit = limit
        self._emit = emit
        self.output = bytearray()
        self.truncated = False
        self.streamed = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        self.exit_code: int | None = None
        self.signal: str | None = None
        self.done = asyncio.Event()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                chunk = await self.proc.stdout.read(READ_CHUNK)
                if not chunk:
                    break
                self._keep(chunk)
                await self._stream(decoder.decode(chunk))
            await self._stream(decoder.decode(b"", final=True))
            code = await self.proc.wait()
            if code < 0:
                try:
                    self.signal = signal.Signals(-code).name
                except ValueError:
                    self.signal = str(-code)
            else:
                self.exit_code = code
        finally:
            self.done.set()
            await self._emit(
                ev.TerminalOutput,
                terminal_id=self.id,
                command=self.command,
                output="",
                exit_code=self.exit_code,
                signal=self.signal,
                truncated=self.streamed > STREAM_MAX_BYTES,
                done=True,
            )

    def _keep(self, chunk: bytes) -> None:
        self.output.extend(chunk)
        if len(self.output) > self.limit:
            del self.output[: len(self.output) - self.limit]
            _at_char_boundary(self.output)
            self.truncated = True

    async def _stream(self, text: str) -> None:
        if not text:
            return
        size = len(text.encode("utf-8", "replace"))
        before = self.streamed
        self.streamed += size
        if before >= STREAM_MAX_BYTES:
            return
        await self._emit(
            ev.TerminalOutput, terminal_id=self.id, command=self.command, output=text, truncated=self.streamed > STREAM_MAX_BYTES
        )

    def exit_status(self) -> TerminalExitStatus | None:
        if not self.done.is_set():
            return None
        return TerminalExitStatus(exit_code=self.exit_code, signal=self.signal)

    def text(self) -> str:
        return bytes(self.output).decode("utf-8", errors="replace")

    async def kill(self) -> None:
        """SIGTERM the group, SIGKILL after a grace; wait until the command is reaped."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE_SECONDS)
                break
            except TimeoutError:
                continue
        # Whatever the leader left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        await self.kill()
        if self.reader is not None:
            await asyncio.wait({self.reader}, timeout=KILL_GRACE_SECONDS)
            if not self.reader.done():
                self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


class Terminals:
    """The terminals of one run, by id."""

    def __init__(self, root: Path, records: Records, log: Callable[[str, str], Awaitable[None]]) -> None:
        self.root = root.resolve()
        self.records = records
        self._log = log
        self._terminals: dict[str, Terminal] = {}
        self._count = 0
        self.closed = False

    async def create(self, command: str, args: list[str] | None, env: list[EnvVariable] | None, cwd: str | None, limit: int | None) -> str:
        if self.closed:
            raise RequestError(-32603, "the run is ending: no new terminals", {"command": command})
        if len(self._terminals) >= MAX_TERMINALS:
            raise RequestError(-32603, f"too many terminals ({MAX_TERMINALS}): release some first", {"command": command})
        workdir = self.root
        if cwd:
            try:
                inside = confine(self.root, cwd)
            except (ValueError, OSError, RuntimeError):
                inside = None
            if inside is None:
                await self._log(f"refused terminal/create outside the project root: cwd {cwd}", "warning")
                raise RequestError(FS_REFUSED, f"refused: cwd {cwd} is outside the project root {self.root}", {"cwd": cwd})
            workdir = inside
        # A command without args may be a shell line ("ls -la | head"): a shell runs it. With args, it is exec'd.
        argv = [command, *args] if args else argv_for(command)
        environment = dict(os.environ)
        environment.update({variable.name: variable.value for variable in env or []})
        self._count += 1
        terminal_id = f"term-{self._count}"
        terminal = Terminal(
            terminal_id, argv, workdir, environment, DEFAULT_OUTPUT_LIMIT if limit is None else limit, self._emit, shell=not args
        )
        try:
            await terminal.start()
        except OSError as exc:
            raise RequestError(-32603, f"cannot run {command!r}: {exc.strerror or exc}", {"command": command}) from None
        self._terminals[terminal_id] = terminal
        await self._log(f"terminal {terminal_id}: {terminal.command}", "info")
        return terminal_id

    async def _emit(self, event: type[ev._Event], **fields: Any) -> None:
        await self.records.emit(event, **fields)

    def get(self, terminal_id: str) -> Terminal:
        terminal = self._terminals.get(terminal_id)
        if terminal is None:
            raise RequestError.invalid_params({"terminalId": terminal_id, "details": "unknown or released terminal"})
        return terminal

    async def release(self, terminal_id: str) -> None:
        terminal = self.get(terminal_id)
        del self._terminals[terminal_id]
        await terminal.close()

    async def close(self) -> None:
        """Kill every terminal still held (the run ends)."""
        self.closed = True
        terminals, self._terminals = list(self._terminals.values()), {}
        await asyncio.gather(*(terminal.close() for terminal in terminals), return_exceptions=True)

"""The ACP `Client` the package's connection dispatches to: session updates, permission requests and
file requests, each handed to the module that does that job."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from acp import RequestError
from acp.schema import (
    ClientCapabilities,
    CreateTerminalResponse,
    EnvVariable,
    FileSystemCapabilities,
    Implementation,
    KillTerminalResponse,
    ReadTextFileResponse,
    ReleaseTerminalResponse,
    RequestPermissionResponse,
    TerminalOutputResponse,
    ToolCallUpdate,
    WaitForTerminalExitResponse,
    WriteTextFileResponse,
)
from acp.schema import (
    PermissionOption as AcpPermissionOption,
)

from .... import __version__
from ..base import AgentTask, Reporter
from ..process import RunClock
from .files import ProjectFiles
from .permissions import SEND_TIMEOUT_SECONDS, Permissions
from .records import Records
from .terminals import Terminals
from .toolcalls import RawExtras
from .updates import UpdateMapper

CLIENT_CAPABILITIES = ClientCapabilities(
    fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
    terminal=True,
)
"""What studio-tui offers an agent: text file reads and writes inside the project root, and terminals
(`terminal/*`: commands run in the project root, their output streamed to the dashboard)."""

CLIENT_INFO = Implementation(name="studio-tui", title="studio-tui", version=__version__)


class StudioClient:
    """The ACP `Client` for one run. Updates are applied one at a time, in the order they arrived."""

    def __init__(self, reporter: Reporter, task: AgentTask, clock: RunClock, *, allow_outside: list[Path] | None = None) -> None:
        self.reporter = reporter
        self.task = task
        self.root = task.project_root.resolve()
        self.clock = clock
        self.allow_outside = list(allow_outside or [])
        """Folders outside the root a fixed `allow` policy may still allow (permissions.allow_outside)."""
        self.records = Records(reporter)
        self.extras = RawExtras()
        self.conn: Any = None
        self.session_id: str | None = None
        self.closing = False
        """Set once the run is being stopped: later updates are dropped, permissions answered cancelled."""
        self.person_cancelled = False
        """A permission request was answered `cancelled` by the person (or a policy)."""
        self.replaying = False
        """The agent is replaying a loaded session's history (session/load): already shown, dropped."""
        self.error: BaseException | None = None
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Resolved when handling something the agent sent raised: the run stops with that error."""
        self.lock = asyncio.Lock()
        self.updates = UpdateMapper(reporter, root=self.root, records=self.records, extras=self.extras)
        self.permissions = Permissions(self)
        self.files = ProjectFiles(self.root, self.log)
        self.terminals = Terminals(self.root, self.records, self.log)

    # ── what the run reads back ──

    def summary(self) -> str:
        return self.updates.summary()

    async def finish(self) -> None:
        """Flush the half lines still buffered, and say how many log lines were held back."""
        async with self.lock:
            await self.updates.flush()

    async def begin_closing(self) -> None:
        """Stop mapping updates (the run is being stopped); what was buffered is still logged."""
        async with self.lock:
            self.closing = True
            await self.updates.flush()

    async def cancel_permissions(self) -> None:
        """Answer every pending permission request `cancelled`, and wait (briefly) until it is sent."""
        await self.permissions.cancel_pending()

    def begin_turn(self) -> None:
        """A new prompt: its reply is counted afresh, and a permission cancelled earlier is history."""
        self.person_cancelled = False
        self.updates.begin_turn()

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self.failed.done():
            self.failed.set_result(None)

    async def send_cancel(self) -> None:
        if self.conn is not None and self.session_id is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.cancel(session_id=self.session_id), SEND_TIMEOUT_SECONDS)

    async def log(self, message: str, level: str) -> None:
        async with self.lock:
            await self.updates.log(message, level)

    # ── session/update ──

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if self.replaying or (self.session_id is not None and session_id != self.session_id):
            self.updates.discard(update)
            return
        try:
            async with self.lock:
                if self.closing:
                    self.updates.discard(update)
                else:
                    await self.updates.apply(update)
        except Exception as exc:  # a failing reporter: stop the run with it rather than lose it
            self.fail(exc)

    # ── session/request_permission ──

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[AcpPermissionOption], **kwargs: Any
    ) -> RequestPermissionResponse:
        return await self.permissions.request(session_id, tool_call, options)

    # ── fs/read_text_file, fs/write_text_file ──

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> ReadTextFileResponse:
        self._known_session(session_id)
        return ReadTextFileResponse(content=await self.files.read(path, line, limit))

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> WriteTextFileResponse:
        self._known_session(session_id)
        await self.files.write(path, content)
        return WriteTextFileResponse()

    def _known_session(self, session_id: str) -> None:
        if session_id != self.session_id:
            raise RequestError.invalid_params({"sessionId": session_id, "details": "unknown session"})

    # ── terminal/* ──

    async def create_terminal(
        self,
        command: str,
        session_id: str,
        args: list[str] | None = None,
        cwd: str | None = None,
        env: list[EnvVariable] | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> CreateTerminalResponse:
        self._known_session(session_id)
        terminal_id = await self.terminals.create(command, args, env, cwd, output_byte_limit)
        return CreateTerminalResponse(terminal_id=terminal_id)

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> TerminalOutputResponse:
        self._known_session(session_id)
        terminal = self.terminals.get(terminal_id)
        return TerminalOutputResponse(output=terminal.text(), truncated=terminal.truncated, exit_status=terminal.exit_status())

    async def release_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> ReleaseTerminalResponse:
        self._known_session(session_id)
        await self.terminals.release(terminal_id)
        return ReleaseTerminalResponse()

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str, **kwargs: Any) -> WaitForTerminalExitResponse:
        self._known_session(session_id)
        terminal = self.terminals.get(terminal_id)
        await terminal.done.wait()
        return WaitForTerminalExitResponse(exit_code=terminal.exit_code, signal=terminal.signal)

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> KillTerminalResponse:
        self._known_session(session_id)
        await self.terminals.get(terminal_id).kill()
        return KillTerminalResponse()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

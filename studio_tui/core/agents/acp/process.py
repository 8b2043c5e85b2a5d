"""The agent process and one ACP run over its stdio: initialize, session/new, session/prompt, the
clock, and the way the run ends (stop reason, error answer, exit, timeout, cancellation)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from acp import PROTOCOL_VERSION, RequestError, connect_to_agent, text_block
from acp.schema import InitializeResponse, PromptResponse
from pydantic import ValidationError

from ...budget import estimate_tokens
from ...config import AcpAgentConfig
from ..base import AgentTask, Outcome, Reporter
from ..process import (
    DRAIN_SECONDS,
    ChildProcess,
    LogThrottle,
    OutputTail,
    RunClock,
    clip,
    describe_exit,
    read_lines,
)
from .client import CLIENT_CAPABILITIES, CLIENT_INFO, StudioClient
from .updates import WORKING_POOL

T = TypeVar("T")

CANCEL_GRACE_SECONDS = 2.0
"""Time the agent gets to end its turn after session/cancel before its process group is terminated:
a well-behaved agent answers at once; one that does not is killed without much delay."""

EXIT_GRACE_SECONDS = 2.0
"""Time a responsive agent gets to exit by itself once its input is closed at the end of a run."""


def agent_argv(config: AcpAgentConfig) -> list[str]:
    """The argv that starts the agent: `command` (a string is split like a shell would) + `args`."""
    base = shlex.split(config.command) if isinstance(config.command, str) else list(config.command)
    return base + list(config.args)


def agent_cwd(config: AcpAgentConfig, project_root: Path) -> Path:
    """The process's working directory: `cwd` relative to the project root, or the project root."""
    return project_root / config.cwd if config.cwd else project_root


class AgentProcess(ChildProcess):
    """A ChildProcess whose stdin/stdout carry ACP, read and written by the package's connection."""

    def pipes(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamReader]:
        proc = self._proc
        assert proc is not None and proc.stdin and proc.stdout and proc.stderr, "start() first"
        return proc.stdin, proc.stdout, proc.stderr

    @property
    def exited(self) -> asyncio.Future[None]:
        assert self._protocol is not None, "start() first"
        return self._protocol.exited

    async def end_leftovers(self, readers: list[asyncio.Future[None]]) -> None:
        """The leader exited: end whatever it left running in its group."""
        await self._end_leftovers(readers)


class _TimedOut(Exception):
    def __init__(self, limit: float) -> None:
        super().__init__(limit)
        self.limit = limit


class _Ended(Exception):
    """The process exited before answering."""


class _ClientFailed(Exception):
    """Handling something the agent sent raised (a failing reporter): the run stops with that error."""


def _describe_auth(method: Any) -> str:
    name = getattr(method, "name", "") or ""
    method_id = getattr(method, "id", "") or ""
    return f"{name} ({method_id})" if name and method_id and name != method_id else name or method_id


async def _report_session(reporter: Reporter, session_id: str | None, **info: Any) -> None:
    """Reporter.session where the reporter has it (an older reporter does not)."""
    report = getattr(reporter, "session", None)
    if report is not None:
        await report(session_id, **info)


class Session:
    """One ACP run: connection, clock, stderr tail, and the way it ends."""

    def __init__(self, config: AcpAgentConfig, task: AgentTask, reporter: Reporter, child: AgentProcess) -> None:
        self.config = config
        self.task = task
        self.reporter = reporter
        self.child = child
        self.what = "initialize"
        """The request under way, named in a failure."""
        self.resumed = False
        """The agent loaded its own session from an earlier attempt (AgentTask.session_id)."""
        self.can_load = False
        self.auth_methods: list[str] = []
        self.turns = 0
        self.estimated_tokens = 0
        self.clock = RunClock(config.timeout)
        self.client = StudioClient(reporter, task, self.clock)
        self.stdin, stdout, stderr = child.pipes()
        self.stderr_tail = OutputTail()
        self._stderr_logs = LogThrottle(reporter)
        self.stderr_reader: asyncio.Future[None] = asyncio.ensure_future(self._read_stderr(stderr))
        self.conn = connect_to_agent(self.client, self.stdin, stdout)
        self.prompt_task: asyncio.Future[PromptResponse] | None = None
        self.agent_name = ""
        self._unresponsive = False
        self._stopped = False
        self._closed = False

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for line in read_lines(stream):
            shown = line.shown()
            self.stderr_tail.add(shown)
            await self._stderr_logs.log(f"stderr: {shown}", "debug")

    async def drive(self, conversation: Callable[[Session], Awaitable[Outcome]]) -> Outcome:
        """initialize, session/new (or session/load), then the role's conversation (one or more
        session/prompt turns); the outcome the last stop reason (or the failure) says."""
        try:
            failed = await self._open()
            if failed is not None:
                return failed
            outcome = await conversation(self)
        except _ClientFailed:
            await self.stop()
            assert self.client.error is not None
            raise self.client.error from None
        except _TimedOut as exc:
            await self.stop()
            what = self.what
            if what == "initialize":
                return Outcome.failed(
                    "transient",
                    f"the agent did not answer initialize within {exc.limit:g}s (is the command an ACP agent?)",
                    details=await self._stderr_details(),
                )
            return Outcome.failed("transient", f"timed out after {exc.limit:g}s", details=f"during {what}; {await self._stderr_details()}")
        except (_Ended, ConnectionError):
            return await self._died(self.what)
        except RequestError as exc:
            return await self._answered_with_error(self.what, exc)
        except ValidationError as exc:
            return Outcome.failed("code_error", f"the agent's answer to {self.what} is not valid ACP", details=clip(str(exc)))
        await self.client.finish()
        if self.client.error is not None:
            raise self.client.error
        return outcome

    async def _open(self) -> Outcome | None:
        """initialize and a session: the agent's own one when it can load it, else a new one."""
        self.what = "initialize"
        init: InitializeResponse = await self._call(
            self.conn.initialize(protocol_version=PROTOCOL_VERSION, client_capabilities=CLIENT_CAPABILITIES, client_info=CLIENT_INFO),
            clock=RunClock(self.config.init_timeout),
        )
        if init.protocol_version != PROTOCOL_VERSION:
            return Outcome.failed(
                "blocker",
                f"the agent speaks ACP version {init.protocol_version}; studio-tui speaks version {PROTOCOL_VERSION}",
            )
        if init.agent_info is not None:
            self.agent_name = f"{init.agent_info.name} {init.agent_info.version}"
            await self.reporter.log(f"connected to {self.agent_name}", "debug")
        self.auth_methods = [_describe_auth(method) for method in init.auth_methods or []]
        capabilities = init.agent_capabilities
        self.can_load = bool(capabilities is not None and capabilities.load_session)
        cwd = str(self.task.project_root)
        if self.task.session_id and self.can_load:
            self.what = "session/load"
            self.client.session_id = self.task.session_id
            self.client.replaying = True
            try:
                await self._call(self.conn.load_session(cwd=cwd, mcp_servers=[], session_id=self.task.session_id))
                self.resumed = True
            except RequestError as exc:
                await self.reporter.log(f"the agent could not load its session {self.task.session_id} ({exc}): starting a new one", "warning")
            finally:
                self.client.replaying = False
        if self.resumed:
            await self.reporter.log(f"continuing the agent's own session {self.task.session_id}", "info")
        else:
            self.what = "session/new"
            session = await self._call(self.conn.new_session(cwd=cwd, mcp_servers=[]))
            self.client.session_id = session.session_id
        await _report_session(
            self.reporter,
            self.client.session_id,
            protocol_version=init.protocol_version,
            auth_methods=self.auth_methods,
            capabilities=capabilities.model_dump(mode="json", by_alias=True, exclude_none=True) if capabilities else {},
        )
        return None

    async def turn(self, text: str) -> Outcome:
        """One session/prompt; the outcome its stop reason means (ok for end_turn). The usage the
        agent reports is charged; when it reports none, an estimate from the prompt and reply sizes."""
        self.what = "session/prompt"
        self.turns += 1
        self.client.begin_turn()
        session_id = self.client.session_id
        assert session_id is not None
        response: PromptResponse = await self._call(self.conn.prompt(session_id=session_id, prompt=[text_block(text)]), keep=True)
        await self.client.finish()
        if self.client.error is not None:
            raise _ClientFailed
        await self._charge_turn_usage(response, text)
        return self._stopped_outcome(response)

    def summary(self) -> str:
        """The agent's last message (of the last turn)."""
        return self.client.summary().strip()

    async def _call(self, request: Coroutine[Any, Any, T], *, keep: bool = False, clock: RunClock | None = None) -> T:
        """Await one ACP request against the clock, the process's exit and the client's health."""
        clock = clock or self.clock
        call: asyncio.Future[T] = asyncio.ensure_future(request)
        if keep:
            self.prompt_task = call  # type: ignore[assignment]
        watch = asyncio.ensure_future(
            asyncio.wait({call, self.child.exited, self.client.failed}, return_when=asyncio.FIRST_COMPLETED)
        )
        try:
            in_time = await clock.guard(watch)
        except BaseException:
            self._unresponsive = not call.done()
            if not keep:
                call.cancel()
            raise
        finally:
            watch.cancel()
        if self.client.error is not None:
            if not keep:
                call.cancel()
            raise _ClientFailed
        if not in_time:
            self._unresponsive = True
            if not keep:
                call.cancel()
            raise _TimedOut(clock.limit)
        if not call.done():
            # The process exited first; its last answer may still be in the pipe.
            await asyncio.wait({call}, timeout=DRAIN_SECONDS)
        if not call.done():
            call.cancel()
            raise _Ended
        return call.result()

    def _stopped_outcome(self, response: PromptResponse) -> Outcome:
        """The outcome a stop reason means.

        - end_turn: the agent finished; its last message is the summary.
        - refusal: the agent will not do this; retrying the same prompt gets the same answer, so a
          person must decide (`blocker`).
        - max_tokens, max_turn_requests: the turn ran out of room (output tokens, model requests)
          before the work was done. Retrying the same prompt hits the same limit, so the task is
          too big for one turn: `design_flaw`, which asks for a replan (smaller steps) rather than
          a retry. It is not `transient`: nothing about it is likely to change by itself.
        - cancelled without us asking: a permission answered `cancelled`, or the agent gave up on
          its own; a person decides (`blocker`).
        """
        reason = response.stop_reason
        summary = self.summary()
        output: dict[str, Any] = {"stop_reason": reason, "summary": summary, "tool_calls": self.client.updates.tool_calls}
        if self.agent_name:
            output["agent"] = self.agent_name
        if self.client.session_id:
            output["session_id"] = self.client.session_id
        usage = self._usage(response)
        if usage:
            output["usage"] = usage
        if reason == "end_turn":
            return Outcome(output=output)
        details = f"last message: {summary}" if summary else ""
        if reason == "refusal":
            return Outcome.failed("blocker", "the agent refused to continue (stop reason: refusal)", details=details)
        if reason == "max_tokens":
            return Outcome.failed("design_flaw", "the agent ran out of tokens before finishing (stop reason: max_tokens)", details=details)
        if reason == "max_turn_requests":
            return Outcome.failed(
                "design_flaw", "the agent hit its limit of model requests in one turn (stop reason: max_turn_requests)", details=details
            )
        if reason == "cancelled":
            if self.client.person_cancelled:
                return Outcome.failed("blocker", "the agent's turn was cancelled: a permission request was answered cancelled", details=details)
            return Outcome.failed("blocker", "the agent cancelled its turn (stop reason: cancelled)", details=details)
        return Outcome.failed("code_error", f"the agent ended its turn with an unknown stop reason {reason!r}", details=details)

    def _usage(self, response: PromptResponse) -> dict[str, Any]:
        usage: dict[str, Any] = {}
        updates = self.client.updates
        if updates.usage_seen:
            usage["context_used"] = updates.context_used
            if updates.context_size is not None:
                usage["context_size"] = updates.context_size
        if updates.cost is not None:
            usage["cost"] = updates.cost
        if response.usage is not None:
            usage["turn"] = response.usage.model_dump(exclude_none=True, exclude={"field_meta"})
        if self.estimated_tokens:
            usage["estimated_tokens"] = self.estimated_tokens
        return usage

    async def _charge_turn_usage(self, response: PromptResponse, prompt: str) -> None:
        """No usage_update came: charge the turn's total tokens when the agent reports them, else an
        estimate from the prompt's and the reply's sizes (labelled as an estimate)."""
        if self.client.updates.usage_seen:
            return
        if response.usage is not None and response.usage.total_tokens:
            await self.reporter.tokens(WORKING_POOL, response.usage.total_tokens)
            return
        size = len(prompt.encode("utf-8", "replace")) + self.client.updates.turn_reply_bytes
        tokens = estimate_tokens(size)
        if tokens:
            self.estimated_tokens += tokens
            await self.reporter.tokens(WORKING_POOL, tokens, estimated=True)

    async def _answered_with_error(self, what: str, exc: RequestError) -> Outcome:
        data = f"; data: {clip(json.dumps(exc.data, default=str))}" if exc.data is not None else ""
        details = f"error {exc.code}: {exc}{data}\n{await self._stderr_details()}"
        if exc.code == RequestError.auth_required().code:
            methods = ", ".join(self.auth_methods) if self.auth_methods else "none advertised"
            return Outcome.failed(
                "blocker",
                clip(f"the agent needs authentication before {what}: {exc}; its auth methods: {methods}. Sign it in first (see docs/acp.md)", 500),
                details=details,
            )
        return Outcome.failed("code_error", f"the agent answered {what} with an error: {exc}", details=details)

    async def _died(self, what: str) -> Outcome:
        await asyncio.wait({self.child.exited}, timeout=DRAIN_SECONDS)
        code = self.child.returncode
        details = await self._stderr_details()
        if code is None:
            return Outcome.failed("code_error", f"the agent closed the connection during {what}", details=details)
        return Outcome.failed("code_error", f"the agent process ended during {what}: {describe_exit(code)}", details=details)

    async def _stderr_details(self) -> str:
        if self.child.returncode is not None:
            await asyncio.wait({self.stderr_reader}, timeout=DRAIN_SECONDS)
        tail = self.stderr_tail.text()
        return f"stderr tail:\n{tail}" if tail else "no stderr output"

    async def stop(self) -> None:
        """Cancel the session: session/cancel, pending permission requests answered `cancelled`, and a
        grace for the agent to end its turn. The process is ended by `close`."""
        if self._stopped:
            return
        self._stopped = True
        await self.client.begin_closing()
        await self.client.send_cancel()
        await self.client.cancel_permissions()
        if self.prompt_task is not None and not self.prompt_task.done():
            await asyncio.wait(
                {self.prompt_task, self.child.exited}, timeout=CANCEL_GRACE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )

    async def close(self) -> None:
        """End the connection and the process group, whatever happened before; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.client.closing = True
        graceful = not self._unresponsive and (self.prompt_task is None or self.prompt_task.done())
        if self.prompt_task is not None and not self.prompt_task.done():
            self.prompt_task.cancel()
        closing = asyncio.ensure_future(self.conn.close())
        if graceful:
            # A responsive agent exits by itself once its input ends.
            await asyncio.wait({closing}, timeout=EXIT_GRACE_SECONDS)
            self.stdin.close()
            if self.child.returncode is None:
                await asyncio.wait({self.child.exited}, timeout=EXIT_GRACE_SECONDS)
        if self.child.returncode is None:
            await self.child.close()  # SIGTERM the group, SIGKILL after a grace
        else:
            await self.child.end_leftovers([self.stderr_reader])
        self.stdin.close()
        with contextlib.suppress(Exception):
            await closing
        await asyncio.wait({self.stderr_reader}, timeout=DRAIN_SECONDS)
        self.stderr_reader.cancel()
        await asyncio.gather(self.stderr_reader, return_exceptions=True)
        await self._stderr_logs.flush()
        await self.child.close()

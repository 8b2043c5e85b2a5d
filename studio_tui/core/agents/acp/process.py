"""The agent process and one ACP run over its stdio: initialize, session/new, session/prompt, the
clock, and the way the run ends (stop reason, error answer, exit, timeout, cancellation)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from acp import PROTOCOL_VERSION, Client, RequestError, connect_to_agent, text_block
from acp.schema import InitializeResponse, NewSessionResponse, PromptResponse
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
from .records import StderrStream
from .signin import Refusal, auth_methods_of, auth_required_outcome, mcp_servers_of, recognise_refusal
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

    async def end_leftovers(self, readers: Sequence[asyncio.Future[None]]) -> None:
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


class Session:
    """One ACP run: connection, clock, stderr tail, and the way it ends."""

    def __init__(
        self, config: AcpAgentConfig, task: AgentTask, reporter: Reporter, child: AgentProcess, *, allow_outside: list[Path] | None = None
    ) -> None:
        self.config = config
        self.task = task
        self.reporter = reporter
        self.child = child
        self.what = "initialize"
        """The request under way, named in a failure."""
        self.resumed = False
        """The agent loaded its own session from an earlier attempt (AgentTask.session_id)."""
        self.can_load = False
        self.auth_methods: list[tuple[str, str]] = []
        """(id, name) of each auth method the agent advertised."""
        self.turns = 0
        self.estimated_tokens = 0
        self.clock = RunClock(config.timeout)
        self.client = StudioClient(reporter, task, self.clock, allow_outside=allow_outside)
        self.stdin, stdout, stderr = child.pipes()
        self.stderr_tail = OutputTail()
        self.stderr_stream = StderrStream(self.client.records, task.key, header=f"{task.key} attempt {task.attempt}, pid {child.pid}")
        self._stderr_logs = LogThrottle(reporter, what="lines of the agent's stderr")
        self.stderr_reader: asyncio.Future[None] = asyncio.ensure_future(self._read_stderr(stderr))
        # acp's router calls each handler by keyword and treats terminal/* and elicitation/* as optional,
        # which its Client protocol (every method, positional order) cannot say.
        self.conn = connect_to_agent(cast(Client, self.client), self.stdin, stdout, observers=[self.client.extras.observe])
        self.prompt_task: asyncio.Future[PromptResponse] | None = None
        self.agent_name = ""
        self._unresponsive = False
        self._stopped = False
        self._closed = False

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        """stderr goes to its own stream file beside the log (and a tail for failure details); only
        without an orchestration folder (a bare run) does it go to the log, as throttled debug lines."""
        async for line in read_lines(stream):
            shown = line.shown()
            self.stderr_tail.add(shown)
            if self.stderr_stream.path is not None:
                await self.stderr_stream.add(shown)
            else:
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
            return await self._refused_or(await self._died(self.what))
        except RequestError as exc:
            return await self._refused_or(await self._answered_with_error(self.what, exc), str(exc))
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
        self.auth_methods = auth_methods_of(init)
        capabilities = init.agent_capabilities
        info = self.client.updates.session
        info.protocol_version = init.protocol_version
        info.auth_methods = [method_id for method_id, _ in self.auth_methods]
        info.capabilities = capabilities.model_dump(mode="json", by_alias=True, exclude_none=True) if capabilities else {}
        if self.config.auth_method:
            self.what = "authenticate"
            if self.config.auth_method not in info.auth_methods:
                return Outcome.failed(
                    "blocker",
                    f"auth_method {self.config.auth_method!r} is not one the agent offers; it offers: {self._methods_text() or 'none'}",
                )
            await self._call(self.conn.authenticate(method_id=self.config.auth_method))
            await self.reporter.log(f"authenticated with {self.config.auth_method}", "info")
        mcp_servers = mcp_servers_of(self.config)
        self.can_load = bool(capabilities is not None and capabilities.load_session)
        cwd = str(self.task.project_root)
        modes = None
        if self.task.session_id and self.can_load:
            self.what = "session/load"
            self.client.session_id = self.task.session_id
            self.client.replaying = True
            try:
                loaded = await self._call(self.conn.load_session(cwd=cwd, mcp_servers=mcp_servers, session_id=self.task.session_id))
                self.resumed = True
                modes = loaded.modes if loaded is not None else None
            except RequestError as exc:
                await self.reporter.log(
                    f"the agent could not load its session {self.task.session_id} ({exc}): starting a new one", "warning"
                )
            finally:
                self.client.replaying = False
        if self.resumed:
            await self.reporter.log(f"continuing the agent's own session {self.task.session_id}", "info")
        else:
            self.what = "session/new"
            session: NewSessionResponse = await self._call(self.conn.new_session(cwd=cwd, mcp_servers=mcp_servers))
            self.client.session_id = session.session_id
            modes = session.modes
        info.session_id = self.client.session_id
        if modes is not None:
            info.modes = [mode.id for mode in modes.available_modes]
            info.current_mode = modes.current_mode_id
        await self.client.updates.record_session()
        if self.config.mode and self.config.mode != info.current_mode:
            self.what = "session/set_mode"
            if self.config.mode not in info.modes:
                offered = ", ".join(info.modes) or "none (the agent offers no session modes)"
                return Outcome.failed("blocker", f"mode {self.config.mode!r} is not a session mode the agent offers; it offers: {offered}")
            assert self.client.session_id is not None
            await self._call(self.conn.set_session_mode(session_id=self.client.session_id, mode_id=self.config.mode))
            info.current_mode = self.config.mode
            await self.reporter.log(f"session mode set to {self.config.mode}", "info")
            await self.client.updates.record_session()
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

    def _methods_text(self) -> str:
        return ", ".join(f"{name} ({method_id})" if name and name != method_id else method_id for method_id, name in self.auth_methods)

    async def _refused_or(self, outcome: Outcome, message: str = "") -> Outcome:
        """A failure the agent's own words explain better (Claude Code refusing to run as root) becomes
        that blocker; anything else stays as it is."""
        if outcome.failure is None:
            return outcome
        refusal: Refusal | None = recognise_refusal(f"{message}\n{self.stderr_tail.text()}\n{outcome.failure.details}")
        if refusal is None:
            return outcome
        return Outcome.failed("blocker", refusal.headline, details=f"{refusal.remedy}\n{outcome.failure.details}")

    def summary(self) -> str:
        """The agent's last message (of the last turn)."""
        return self.client.summary().strip()

    async def _call(self, request: Coroutine[Any, Any, T], *, keep: bool = False, clock: RunClock | None = None) -> T:
        """Await one ACP request against the clock, the process's exit and the client's health."""
        clock = clock or self.clock
        call: asyncio.Future[T] = asyncio.ensure_future(request)
        if keep:
            self.prompt_task = call  # type: ignore[assignment]
        ends: set[asyncio.Future[Any]] = {call, self.child.exited, self.client.failed}
        watch = asyncio.ensure_future(asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED))
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
        details = f"last message: {summary}" if summary else ""
        if self.client.person_cancelled:
            # Cancelled by the person (or a policy): that is the outcome, whatever the agent then said.
            return Outcome.failed(
                "blocker",
                f"the agent's turn was cancelled: a permission request was answered cancelled (the agent then said {reason})",
                details=details,
            )
        if reason == "end_turn":
            return Outcome(output=output)
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
                return Outcome.failed(
                    "blocker", "the agent's turn was cancelled: a permission request was answered cancelled", details=details
                )
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
            return auth_required_outcome(what, exc, self.auth_methods, self.task.role, details)
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
        if not tail:
            return "no stderr output"
        stream = self.stderr_stream
        where = f" (all {stream.lines} lines: {stream.relative} in the orchestration folder)" if stream.path is not None else ""
        return f"stderr tail{where}:\n{tail}"

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
            turn_or_exit: set[asyncio.Future[Any]] = {self.prompt_task, self.child.exited}
            await asyncio.wait(turn_or_exit, timeout=CANCEL_GRACE_SECONDS, return_when=asyncio.FIRST_COMPLETED)

    async def close(self) -> None:
        """End the connection and the process group, whatever happened before; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.client.closing = True
        await self.client.terminals.close()
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
        await self.stderr_stream.close()
        await self.child.close()

"""`studio-tui doctor`: can each configured role's agent run here, and if not, what fixes it.

For each role: a scripted agent's scenario loads; a command agent's program is found; the plan
builder's quality gates (its own, and those of every pending plan in tasks/) name programs found on
PATH; an ACP agent's program is found, starts, answers `initialize` (protocol version, agent,
capabilities, auth methods) and, unless it says authentication is required, `session/new` (session
modes). Every probe has a timeout and ends with the agent's whole process group killed, so doctor
never hangs and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import __version__
from . import budget as budget_mod
from .agents import check_agents
from .agents.builtin import SELF_PROGRAM
from .agents.process import ChildProcess, OutputTail, clip, describe_command, describe_exit, read_lines
from .config import AcpAgentConfig, CommandAgentConfig, PlanBuilderConfig, ScriptedAgentConfig, StudioConfig
from .errors import StudioError
from .plan import load_plan
from .presets import preset_for
from .store import Workspace

PROBE_TIMEOUT = 60.0
"""Seconds an ACP agent gets to answer `initialize`, and again `session/new`, when its config names
no `init_timeout`: `npx` may first fetch the package (30 s here for the Claude and Codex adapters)."""

ROLES = ("planner", "builder", "architect")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

Status = Literal["ok", "not found", "no answer", "exited", "auth required", "error", "invalid"]


@dataclass
class Check:
    """One thing doctor looked at."""

    role: str
    """planner | builder | architect."""
    subject: str
    """What was checked: the agent's kind and command, or a quality gate."""
    status: Status
    detail: str = ""
    fix: str = ""
    """What to do, in words, when the status is not ok."""
    acp: dict[str, Any] = field(default_factory=dict)
    """For an ACP agent that answered: protocol_version, agent, capabilities, auth_methods, modes."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Report:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [{**asdict(check), "ok": check.ok} for check in self.checks]}


# ── programs ─────────────────────────────────────────────────────────────


def _argv(command: list[str] | str, args: list[str] | None = None) -> list[str]:
    base = shlex.split(command) if isinstance(command, str) else list(command)
    return base + list(args or [])


def find_program(program: str, env: Mapping[str, str], cwd: Path) -> str | None:
    """The path `program` runs as (PATH search, or a path relative to `cwd`); None when not found."""
    if program == SELF_PROGRAM:
        return SELF_PROGRAM
    if "/" in program:
        path = Path(program) if Path(program).is_absolute() else cwd / program
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=env.get("PATH", os.defpath))


def _gate_program(command: list[str] | str) -> str | None:
    """The program a gate runs: a list's first item; a shell string's first word (None if unparsable)."""
    if isinstance(command, list):
        return command[0] if command else None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    # Leading VAR=value assignments are the shell's, not the program.
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    return words[0] if words else None


def _not_found_fix(program: str, argv: list[str], role: str) -> str:
    preset = preset_for(argv)
    if preset is not None:
        return preset.install
    return f"install `{program}`, or fix agents.{role}.command in config.yaml"


# ── the ACP probe ────────────────────────────────────────────────────────


class _ProbeProcess(ChildProcess):
    """A ChildProcess whose pipes carry ACP."""

    def pipes(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamReader]:
        proc = self._proc
        assert proc is not None and proc.stdin and proc.stdout and proc.stderr, "start() first"
        return proc.stdin, proc.stdout, proc.stderr

    @property
    def exited(self) -> asyncio.Future[None]:
        assert self._protocol is not None, "start() first"
        return self._protocol.exited


class _ProbeClient:
    """The client side during a probe: nothing is prompted, so anything the agent asks is declined.
    (The `acp` package is imported only when an ACP agent is probed: its schema takes seconds to load.)"""

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        return None

    async def request_permission(self, *args: Any, **kwargs: Any) -> Any:
        from acp.schema import DeniedOutcome, RequestPermissionResponse

        return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))

    async def read_text_file(self, *args: Any, **kwargs: Any) -> Any:
        from acp import RequestError

        raise RequestError(-32602, "studio-tui doctor serves no files")

    async def write_text_file(self, *args: Any, **kwargs: Any) -> Any:
        from acp import RequestError

        raise RequestError(-32602, "studio-tui doctor serves no files")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from acp import RequestError

        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None


class _NoAnswer(Exception):
    pass


class _Exited(Exception):
    pass


def _capabilities(init: Any) -> list[str]:
    """The agent's capabilities that are on, as dotted names (`loadSession`, `prompt.image`, `mcp.http`)."""
    caps = init.agent_capabilities
    if caps is None:
        return []
    found: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "_meta":
                    walk(f"{prefix}.{key}" if prefix else key, item)
        elif value is True or value not in (None, False, [], {}):
            found.append(prefix)

    data = caps.model_dump(by_alias=True, exclude_none=True)
    renamed = {"promptCapabilities": "prompt", "mcpCapabilities": "mcp"}
    walk("", {renamed.get(k, k): v for k, v in data.items()})
    return found


def _auth_methods(init: Any) -> list[dict[str, Any]]:
    methods = []
    for method in init.auth_methods or []:
        entry: dict[str, Any] = {"id": getattr(method, "id", ""), "name": getattr(method, "name", "")}
        if getattr(method, "description", None):
            entry["description"] = method.description
        variables = [v.name for v in getattr(method, "vars", None) or []]
        if variables:
            entry["env"] = variables
        methods.append(entry)
    return methods


def _auth_fix(argv: list[str], methods: list[dict[str, Any]]) -> str:
    preset = preset_for(argv)
    if preset is not None:
        return preset.sign_in
    variables = [name for method in methods for name in method.get("env", [])]
    if variables:
        return "set " + " or ".join(variables)
    if methods:
        named = "; ".join(m["name"] + (f" ({m['description']})" if m.get("description") else "") for m in methods)
        return f"sign the agent in with one of its methods: {named}"
    return "sign the agent in (it offers no auth method: see its documentation)"


async def probe_acp(
    argv: list[str], *, cwd: Path, session_cwd: Path, env: Mapping[str, str], timeout: float
) -> tuple[Status, str, dict[str, Any], str]:
    """Start the agent, `initialize`, then `session/new`; (status, detail, acp info, stderr tail).

    Each request gets `timeout` seconds; the process group is killed at the end, whatever happened."""
    from acp import PROTOCOL_VERSION, RequestError, connect_to_agent
    from acp.schema import ClientCapabilities, FileSystemCapabilities, Implementation

    child = _ProbeProcess(argv, cwd=cwd, env=env, with_stdin=True)
    try:
        await child.start()
    except OSError as exc:
        return "not found", f"cannot start {describe_command(argv)!r}: {exc.strerror or exc}", {}, ""
    stdin, stdout, stderr = child.pipes()
    tail = OutputTail(max_lines=10, max_chars=2000)

    async def read_stderr() -> None:
        async for line in read_lines(stderr):
            tail.add(line.shown())

    reader = asyncio.ensure_future(read_stderr())
    conn = connect_to_agent(_ProbeClient(), stdin, stdout)  # type: ignore[arg-type]
    info: dict[str, Any] = {}

    async def call(request: Any) -> Any:
        task = asyncio.ensure_future(request)
        done, _ = await asyncio.wait({task, child.exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        if child.exited in done:
            await asyncio.wait({task}, timeout=1.0)  # its last answer may still be in the pipe
            if task.done():
                return task.result()
            task.cancel()
            raise _Exited
        task.cancel()
        raise _NoAnswer

    what = "initialize"
    try:
        init = await call(
            conn.initialize(
                protocol_version=PROTOCOL_VERSION,
                client_capabilities=ClientCapabilities(
                    fs=FileSystemCapabilities(read_text_file=True, write_text_file=True), terminal=False
                ),
                client_info=Implementation(name="studio-tui", title="studio-tui doctor", version=__version__),
            )
        )
        info["protocol_version"] = init.protocol_version
        if init.agent_info is not None:
            info["agent"] = f"{init.agent_info.name} {init.agent_info.version}".strip()
        info["capabilities"] = _capabilities(init)
        info["auth_methods"] = _auth_methods(init)
        if init.protocol_version != PROTOCOL_VERSION:
            return "error", f"speaks ACP version {init.protocol_version}; studio-tui speaks version {PROTOCOL_VERSION}", info, tail.text()
        what = "session/new"
        session = await call(conn.new_session(cwd=str(session_cwd), mcp_servers=[]))
        modes = session.modes
        info["modes"] = [m.id for m in modes.available_modes] if modes is not None else []
        if modes is not None:
            info["current_mode"] = modes.current_mode_id
        return "ok", f"answered initialize and session/new (ACP version {init.protocol_version})", info, tail.text()
    except _NoAnswer:
        return "no answer", f"did not answer {what} within {timeout:g}s", info, tail.text()
    except (_Exited, ConnectionError):
        await asyncio.wait({child.exited}, timeout=1.0)
        await asyncio.wait({reader}, timeout=1.0)
        code = child.returncode
        ended = describe_exit(code) if code is not None else "closed the connection"
        return "exited", f"ended during {what}: {ended}", info, tail.text()
    except RequestError as exc:
        if exc.code == RequestError.auth_required().code:
            data = f" ({clip(json.dumps(exc.data, default=str), 300)})" if exc.data is not None else ""
            return "auth required", f"{what}: {exc}{data}", info, tail.text()
        data = f" ({clip(json.dumps(exc.data, default=str), 300)})" if exc.data is not None else ""
        return "error", f"answered {what} with error {exc.code}: {exc}{data}", info, tail.text()
    except Exception as exc:  # a malformed answer: the package's validation error, a bad JSON line
        return (
            "error",
            f"its answer to {what} is not valid ACP: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            info,
            tail.text(),
        )
    finally:
        with contextlib.suppress(Exception):
            stdin.close()
        await child.close()  # SIGTERM the group, SIGKILL after a grace
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 1.0)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


# ── the checks ───────────────────────────────────────────────────────────


def _check_acp_fix(status: Status, argv: list[str], role: str, info: dict[str, Any], timeout: float) -> str:
    if status == "auth required":
        return _auth_fix(argv, info.get("auth_methods", []))
    if status == "no answer":
        return (
            f"check that `{' '.join(argv)}` starts an ACP agent (the flag that turns ACP on), run it by hand to see "
            f"what it prints, or give it longer with --timeout (now {timeout:g}s)"
        )
    if status == "exited":
        return f"run `{' '.join(argv)}` by hand to see why it stops; fix agents.{role} in config.yaml"
    if status == "error":
        from acp import PROTOCOL_VERSION

        preset = preset_for(argv)
        if preset is not None and info.get("protocol_version") == PROTOCOL_VERSION:
            # It speaks ACP but cannot open a session: most often it is not signed in.
            return f"check it is signed in ({preset.sign_in}); run `{' '.join(argv)}` by hand to see its errors"
        return f"run `{' '.join(argv)}` by hand to see its errors; update it, or fix agents.{role} in config.yaml"
    return ""


async def _check_acp(
    role: str, config: AcpAgentConfig, root: Path, timeout: float, cache: dict[Any, tuple[Status, str, dict[str, Any]]]
) -> Check:
    argv = _argv(config.command, config.args)
    env = {**os.environ, **config.env}
    cwd = root / config.cwd if config.cwd else root
    subject = f"acp: {describe_command(argv)}"
    key = (tuple(argv), tuple(sorted(config.env.items())), str(cwd))
    if key not in cache:
        if find_program(argv[0], env, cwd) is None:
            cache[key] = ("not found", f"`{argv[0]}` is not on PATH", {})
        else:
            status, detail, info, tail = await probe_acp(argv, cwd=cwd, session_cwd=root, env=env, timeout=timeout)
            if tail and status != "ok":
                detail = f"{detail}; stderr: {tail.splitlines()[-1]}"
            cache[key] = (status, detail, info)
    status, detail, info = cache[key]
    fix = _not_found_fix(argv[0], argv, role) if status == "not found" else _check_acp_fix(status, argv, role, info, timeout)
    return Check(role, subject, status, detail, fix, dict(info))


def _check_command(role: str, config: CommandAgentConfig, root: Path) -> Check:
    subject = f"command: {describe_command(config.command)}"
    program = _gate_program(config.command)  # a list's program, or a shell string's first word
    if program is None:
        return Check(role, subject, "invalid", "the command does not parse", f"fix agents.{role}.command in config.yaml")
    if program == SELF_PROGRAM and isinstance(config.command, list):
        return Check(role, subject, "ok", "the built-in agent of this studio-tui")
    if find_program(program, {**os.environ, **config.env}, root) is None:
        return Check(
            role, subject, "not found", f"`{program}` is not on PATH", f"install `{program}`, or fix agents.{role}.command in config.yaml"
        )
    return Check(role, subject, "ok", f"`{program}` found")


def _gates(workspace: Workspace, config: PlanBuilderConfig) -> list[tuple[str, list[str] | str]]:
    """(where, command) of every gate the builder may run: its own, and those of pending plans."""
    gates: list[tuple[str, list[str] | str]] = [(f"agents.builder gate {g.name}", g.command) for g in config.quality_gates]
    for path in budget_mod.plan_files(workspace.tasks_dir):
        try:
            plan = load_plan(path)
        except StudioError:
            continue  # the plan's own problem is reported when it is built; doctor checks programs
        if plan.status in ("pending", "in_progress"):
            gates += [(f"plan {plan.task_id} gate {g.name}", g.command) for g in plan.quality_gates]
    return gates


def _check_gates(role: str, workspace: Workspace, config: PlanBuilderConfig) -> list[Check]:
    checks = [Check(role, "plan_builder", "ok", "built in: runs plan steps and quality gates")]
    env = dict(os.environ)
    for where, command in _gates(workspace, config):
        program = _gate_program(command)
        subject = f"{where}: {describe_command(command)}"
        if program is None:
            checks.append(Check(role, subject, "invalid", "the command does not parse", f"fix the command of {where}"))
        elif find_program(program, env, workspace.project_root) is None:
            checks.append(Check(role, subject, "not found", f"`{program}` is not on PATH", f"install `{program}` (or fix {where})"))
        else:
            checks.append(Check(role, subject, "ok", f"`{program}` found"))
    return checks


async def diagnose(workspace: Workspace, config: StudioConfig, *, timeout: float | None = None) -> Report:
    """Every check for every role, ACP probes run one after another, each request bounded by
    `timeout`, or by the agent's own `init_timeout` (what a build would wait) when None."""
    checks: list[Check] = []
    cache: dict[Any, tuple[Status, str, dict[str, Any]]] = {}
    root = workspace.project_root
    for role in ROLES:
        agent = config.agent(role)
        if isinstance(agent, ScriptedAgentConfig):
            subject = f"scripted: {agent.scenario}"
            try:
                check_agents(workspace, config.model_copy(update={"agents": {role: agent}}))
                checks.append(Check(role, subject, "ok", "the scenario loads"))
            except StudioError as exc:
                checks.append(Check(role, subject, "invalid", str(exc), "write the scenario, or choose another kind for this role"))
        elif isinstance(agent, CommandAgentConfig):
            checks.append(_check_command(role, agent, root))
        elif isinstance(agent, PlanBuilderConfig):
            checks += _check_gates(role, workspace, agent)
        elif isinstance(agent, AcpAgentConfig):
            limit = timeout if timeout is not None else float(getattr(agent, "init_timeout", PROBE_TIMEOUT))
            checks.append(await _check_acp(role, agent, root, limit, cache))
    return Report(checks)

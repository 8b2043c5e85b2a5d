"""Signing an agent in, and the failures only the person can fix: ACP's "authentication required"
(headline: the agent's own message and its auth methods), Claude Code refusing to run as root. Also
the MCP servers passed through at `session/new`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acp import RequestError
from acp.schema import EnvVariable, HttpHeader, HttpMcpServer, InitializeResponse, McpServerStdio, SseMcpServer

from ...config import AcpAgentConfig, McpRemoteServer
from ..base import Outcome
from ..process import clip

ROOT_REFUSAL = "cannot be used with root/sudo privileges"
"""What Claude Code prints (stderr) when it is asked to bypass permissions as root: the adapter then
fails every request with "Internal error"."""


@dataclass(frozen=True)
class Refusal:
    headline: str
    remedy: str


def recognise_refusal(text: str) -> Refusal | None:
    """A known refusal in an agent's error text or stderr, with the documented way out."""
    if ROOT_REFUSAL in text:
        return Refusal(
            'Claude Code refuses to run as root ("--dangerously-skip-permissions cannot be used with root/sudo '
            'privileges"): run studio-tui as a normal user, or, inside a throwaway container or VM only, set '
            "IS_SANDBOX=1 in the agent's env (see docs/acp.md)",
            'In .studio/config.yaml: agents.<role>.env: {IS_SANDBOX: "1"}. Claude Code then treats the machine as a sandbox.',
        )
    return None


def auth_methods_of(init: InitializeResponse) -> list[tuple[str, str]]:
    """(id, name) of each auth method the agent advertised at initialize."""
    methods: list[tuple[str, str]] = []
    for method in init.auth_methods or []:
        method_id = getattr(method, "id", None)
        if isinstance(method_id, str):
            methods.append((method_id, str(getattr(method, "name", "") or "")))
    return methods


def _agent_words(exc: RequestError) -> str:
    """The agent's own explanation: its error message, and a message/details in the error's data."""
    words = [str(exc)]
    data = exc.data
    if isinstance(data, dict):
        for key in ("message", "details", "detail", "reason"):
            value = data.get(key)
            if isinstance(value, str) and value and value not in words:
                words.append(value)
    elif isinstance(data, str) and data and data not in words:
        words.append(data)
    return clip(": ".join(words), 400)


def auth_required_outcome(what: str, exc: RequestError, methods: list[tuple[str, str]], role: str, details: str) -> Outcome:
    """The blocker for ACP's "authentication required": the agent's message plus the methods it offers."""
    offered = ", ".join(f"{name} ({method_id})" if name and name != method_id else method_id for method_id, name in methods)
    how = (
        f"; its auth methods: {offered} (set agents.{role}.auth_method to one, or sign in beforehand)"
        if offered
        else "; it advertised no auth methods (sign it in beforehand, e.g. an API key in agents." + role + ".env)"
    )
    return Outcome.failed("blocker", f"the agent needs sign-in before {what}: {_agent_words(exc)}{how}", details=details)


def mcp_servers_of(config: AcpAgentConfig) -> list[Any]:
    """`agents.<role>.mcp_servers` as ACP's session/new parameters."""
    servers: list[Any] = []
    for server in config.mcp_servers:
        if isinstance(server, McpRemoteServer):
            headers = [HttpHeader(name=k, value=v) for k, v in server.headers.items()]
            if server.type == "http":
                servers.append(HttpMcpServer(type="http", name=server.name, url=server.url, headers=headers))
            else:
                servers.append(SseMcpServer(type="sse", name=server.name, url=server.url, headers=headers))
        else:
            env = [EnvVariable(name=k, value=v) for k, v in server.env.items()]
            servers.append(McpServerStdio(name=server.name, command=server.command, args=list(server.args), env=env))
    return servers

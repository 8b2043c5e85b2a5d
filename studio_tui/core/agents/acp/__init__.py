"""The `acp` agent package: a coding agent speaking the Agent Client Protocol (see docs/acp.md).

studio-tui is the ACP *client*, built on the client side of the `agent-client-protocol` package
(`connect_to_agent` -> `ClientSideConnection`, and a `Client` implementation here); the JSON-RPC
framing and the schema are the package's. One run:

1. start the configured command in its own process group (`process.ChildProcess`, so a timeout or
   an abort ends the agent and everything it started);
2. `initialize` (advertising fs read/write, confined to the project root, and terminals), then
   `authenticate` when `auth_method` is set;
3. `session/new` with the project root as the working directory and the configured MCP servers
   (or `session/load`), then `session/set_mode` when `mode` is set;
4. `session/prompt` with the role prompt template filled in with the handoff context;
5. map what streams back onto the Reporter, and the stop reason onto the Outcome:

   ====================================  =====================================================
   agent_message_chunk                   `log` (info), chunks coalesced into lines
   agent_thought_chunk                   `log` (debug), `thinking: ...`, coalesced into lines
   plan                                  the steps: entry i is step i, the entries are the
                                         total; in_progress -> `step`, completed -> `step_done`
   tool_call / tool_call_update          without a plan, each tool call is a step (`step`, then
                                         `step_done` when completed); with a plan, a log line;
                                         a failed tool call is a warning either way
   usage_update                          `tokens("working", used - previously used)`
   tool call content, locations, input   `record(ToolCallRecorded)`, large content in blobs
   available_commands / current_mode     `session(...)`: an AgentSession snapshot
   session/request_permission            `permission(title, options, details)`: the exact options
                                         offered, the tool call (command, locations, diff)
   fs/read_text_file, fs/write_text_file served inside the project root only
   terminal/*                            real subprocesses in the project root, TerminalOutput
   stderr                                its own stream file beside the log (AgentStderr)
   stop reason end_turn                  Outcome(output={stop_reason, summary, ...})
   refusal                               failure `blocker`
   max_tokens, max_turn_requests         failure `design_flaw` (see `Session._stopped_outcome`)
   cancelled (not asked by us)           failure `blocker`
   any, after a permission cancelled     failure `blocker` (cancel means cancelled)
   process exit / connection lost        failure `code_error` with the stderr tail
   timeout                               session/cancel, then kill: failure `transient`
   ====================================  =====================================================

Cancellation (abort, skip, Ctrl-C) arrives as CancelledError: the session is cancelled
(`session/cancel`), every pending permission request is answered `cancelled`, the agent gets a short
grace to end its turn, then its process group is terminated, and the CancelledError propagates.

Modules, one job each: `process` (the agent process, the connection, the run and how it ends),
`prompts` (the role prompt), `updates` (session updates -> reporter), `permissions`
(session/request_permission -> the person), `files` (fs/* inside the project root), `terminals`
(terminal/*), `toolcalls` (tool call content, locations, ACP v2 draft fields), `records` (events,
blobs and the stderr stream beside the log), `signin` (auth, MCP servers, known refusals), `client`
(the ACP Client wiring those together), `agent` (AcpAgent, the entry point).
"""

from __future__ import annotations

from .agent import AcpAgent
from .client import CLIENT_CAPABILITIES, CLIENT_INFO, StudioClient
from .files import FS_REFUSED, MAX_READ_CHARS, confine
from .permissions import SEND_TIMEOUT_SECONDS
from .process import CANCEL_GRACE_SECONDS, EXIT_GRACE_SECONDS, agent_argv, agent_cwd
from .prompts import render_prompt
from .updates import SUMMARY_MAX_CHARS, WORKING_POOL

__all__ = [
    "CANCEL_GRACE_SECONDS",
    "CLIENT_CAPABILITIES",
    "CLIENT_INFO",
    "EXIT_GRACE_SECONDS",
    "FS_REFUSED",
    "MAX_READ_CHARS",
    "SEND_TIMEOUT_SECONDS",
    "SUMMARY_MAX_CHARS",
    "WORKING_POOL",
    "AcpAgent",
    "StudioClient",
    "agent_argv",
    "agent_cwd",
    "confine",
    "render_prompt",
]

"""`config.yaml`: pools and soft limits, recovery limits, checkpoints, agents, theme."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import safefile
from .loading import load_yaml_model

DEFAULT_POOLS: dict[str, int] = {
    "reserved": 30000,
    "learnings": 20000,
    "backlog": 15000,
    "plans": 30000,
    "context7": 25000,
    "working": 30000,
}
"""The seed's six pools and their soft limits, in the seed's table order."""


class _Strict(BaseModel):
    # Attribute docstrings are `studio-tui init`'s comments (init.attribute_docs reads them from the source
    # when it writes config.yaml); pydantic's use_attribute_docstrings would cost every start-up ~60 ms.
    model_config = ConfigDict(extra="forbid")


class BudgetConfig(_Strict):
    pools: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: dict(DEFAULT_POOLS))
    warning: float = Field(0.8, gt=0, lt=1)
    critical: float = Field(0.95, gt=0, le=1)
    reserved_tokens: int = Field(28000, ge=0)
    """Tokens the reserved pool holds from the start (system prompts, tool schemas)."""

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> BudgetConfig:
        if self.warning >= self.critical:
            raise ValueError(f"warning ({self.warning}) must be below critical ({self.critical})")
        return self


class BackoffConfig(_Strict):
    initial: float = Field(0.5, ge=0)
    factor: float = Field(2.0, ge=1)
    max: float = Field(10.0, ge=0)

    def delay(self, retry: int) -> float:
        """Seconds to wait before the `retry`-th retry (1-based)."""
        return min(self.max, self.initial * self.factor ** max(0, retry - 1))


class RecoveryConfig(_Strict):
    max_retries: int = Field(5, ge=0)
    max_replans: int = Field(1, ge=0)
    max_tries_per_step: int = Field(5, ge=1)
    loop_guard: int = Field(3, ge=2)
    """The same error this many times in a row escalates, even with retries left."""
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)


class CheckpointConfig(_Strict):
    every_steps: int = Field(3, ge=0)
    """A checkpoint every N completed steps inside an agent; 0 turns it off."""


class PlannerConfig(_Strict):
    max_question_rounds: int = Field(5, ge=0, le=5)
    confidence_threshold: float = Field(0.7, ge=0, le=1)
    """A plan whose confidence is below this asks the person before building."""
    plan_attempts: int = Field(3, ge=1)
    """Times an agent planner (or architect) may write its plan (backlog) before an invalid one is a
    design_flaw: each invalid or missing file goes back to it with the validation error."""


class ScriptedAgentConfig(_Strict):
    kind: Literal["scripted"]
    scenario: str = "scenario.yaml"


class CommandAgentConfig(_Strict):
    kind: Literal["command"]
    command: list[str] | str
    env: dict[str, str] = {}
    timeout: float = Field(600.0, gt=0)


class GateConfig(_Strict):
    """A quality gate named in config.yaml (the same fields as a plan's `quality_gates` entry)."""

    name: str = Field(min_length=1)
    command: list[Annotated[str, Field(min_length=1)]] | Annotated[str, Field(min_length=1)]
    """A list is exec'd as is; a string goes to `sh -c`."""
    timeout: float | None = Field(None, gt=0)


class PlanBuilderConfig(_Strict):
    kind: Literal["plan_builder"]
    step_timeout: float = Field(600.0, gt=0)
    """Default timeout of a plan step or quality gate that names none."""
    quality_gates: list[GateConfig] = []
    """The checks run when the builder is given no plan (a build_only goal with no pending plan):
    there is nothing to execute, so it runs these, and fails honestly when one fails. Without them a
    builder with no plan is a blocker. A plan's own `quality_gates` are used whenever there is a plan."""


ACP_PROMPT_PLACEHOLDERS: dict[str, str] = {
    "goal": "the goal (or the backlog task's title)",
    "role": "planner | builder | architect",
    "mode": "plan | replan | build | decompose",
    "task_id": "the task id, or an empty string",
    "attempt": "1 on the first run, 2 on the first retry, ...",
    "context": "the handoff context this agent receives, as indented JSON",
    "project_root": "the project root (also the session's working directory)",
    "plan_path": "the plan.json a builder executes, or an empty string",
    "plan": "the text of that plan.json, or an empty string",
    "output_path": "the file a planner (plan.json) or an architect (backlog.yaml) must write, or an empty string",
    "answers": "the person's answers to this agent's questions so far, or an empty string",
    "failure": "on a retry or a replan: the attempt, the failure (category, message, details) and the steps already done; else empty",
    "completed_steps": "the plan steps already completed, comma-separated, or an empty string",
}
"""Names an `acp` agent's prompt template may use as `{name}`; `{{` and `}}` are literal braces."""

DEFAULT_ACP_PROMPT = """\
You are the {role} in a multi-agent software build run by studio-tui (mode: {mode}, attempt {attempt}).

Goal: {goal}

Handoff context from the previous agent (JSON):
{context}
{answers}{failure}
Work inside the project root {project_root}. When you are done, end your turn with a short summary
of what you changed and anything that is left to do.
"""


class McpStdioServer(_Strict):
    """An MCP server the agent starts itself (stdio transport), passed through at `session/new`."""

    name: str
    type: Literal["stdio"] = "stdio"
    command: str
    """The server's program; ACP asks for an absolute path."""
    args: list[str] = []
    env: dict[str, str] = {}


class McpRemoteServer(_Strict):
    """An MCP server reached over HTTP or SSE, passed through at `session/new` (when the agent
    advertises that transport in its `mcpCapabilities`)."""

    name: str
    type: Literal["http", "sse"]
    url: str
    headers: dict[str, str] = {}


McpServerConfig = McpStdioServer | McpRemoteServer


class PermissionsConfig(_Strict):
    """How fixed permission policies treat paths (see docs/acp.md)."""

    allow_outside: list[str] = []
    """Folders outside the project root an `allow` policy may still allow (absolute, or `~/...`);
    any other location outside the root is refused even under `--permissions allow`."""


class AcpAgentConfig(_Strict):
    """A coding agent speaking the Agent Client Protocol over stdio (see docs/acp.md)."""

    kind: Literal["acp"]
    command: list[str] | str
    """The program that starts the agent: a list is the argv; a string is split like a shell would
    (no shell runs it)."""
    args: list[str] = []
    """Extra arguments appended to `command`."""
    env: dict[str, str] = {}
    """Added to (and overriding) the environment studio-tui runs in."""
    cwd: str | None = None
    """The process's working directory, relative to the project root; the project root by default.
    The ACP session's working directory is always the project root."""
    prompt: str = DEFAULT_ACP_PROMPT
    """The role prompt template; see ACP_PROMPT_PLACEHOLDERS."""
    instructions: str | None = None
    """What studio-tui needs from the role, appended to the prompt (a planner: the plan.json path
    and format; an architect: backlog.yaml; a builder: how steps arrive); None for the built-in
    text for the role (docs/acp.md). Same placeholders as `prompt`."""
    init_timeout: float = Field(60.0, gt=0)
    """Seconds the agent gets to answer `initialize` (a program that does not speak ACP never does)."""
    gate_timeout: float = Field(600.0, gt=0)
    """Default timeout of a plan's quality gate that names none, when this agent is the builder."""
    timeout: float = Field(1800.0, gt=0)
    """Seconds for the whole run, not counting time spent waiting for a person's permission."""
    mode: str | None = None
    """A session mode the agent offers (`session/set_mode`), e.g. Claude Code's `acceptEdits`; an
    unknown mode fails the run with the list the agent offers."""
    mcp_servers: list[McpServerConfig] = []
    """MCP servers passed through to the agent at `session/new`."""
    auth_method: str | None = None
    """An auth method id the agent advertises at `initialize`; studio-tui calls `authenticate` with it."""

    @model_validator(mode="after")
    def _checked(self) -> AcpAgentConfig:
        import shlex
        import string

        argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        if not argv or not argv[0]:
            raise ValueError("command is empty: name the program that starts the ACP agent")
        for name, template in (("prompt", self.prompt), ("instructions", self.instructions or "")):
            try:
                fields = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
            except ValueError as exc:
                raise ValueError(f"{name}: {exc} (write {{{{ and }}}} for literal braces)") from None
            known = ", ".join("{" + name + "}" for name in ACP_PROMPT_PLACEHOLDERS)
            for field in fields:
                if field not in ACP_PROMPT_PLACEHOLDERS:
                    raise ValueError(f"{name}: unknown placeholder {{{field}}}; known: {known} (write {{{{ and }}}} for literal braces)")
        return self


AgentConfig = Annotated[ScriptedAgentConfig | CommandAgentConfig | PlanBuilderConfig | AcpAgentConfig, Field(discriminator="kind")]


BUILTIN_AGENT_COMMAND = ["studio-tui", "agent"]
"""The built-in command-protocol Planner/Architect (core/agents/builtin.py). A command whose program
is `studio-tui` runs this very installation (`python -m studio_tui`), whatever PATH says."""


AgentRole = Literal["planner", "builder", "architect"]


def _default_agents() -> dict[AgentRole, AgentConfig]:
    """What a role is when config.yaml does not name it: no role needs a scenario.yaml unless the
    config itself says `kind: scripted`."""
    return {
        "planner": CommandAgentConfig(kind="command", command=list(BUILTIN_AGENT_COMMAND)),
        "builder": PlanBuilderConfig(kind="plan_builder"),
        "architect": CommandAgentConfig(kind="command", command=list(BUILTIN_AGENT_COMMAND)),
    }


class ExecutionConfig(_Strict):
    """How Builder tasks of multi_task / decompose_first run: one at a time here, N in parallel, or on Dask."""

    parallel: int = Field(1, ge=1, le=64)
    """Builder tasks running at once, each in its own git worktree (1: one after another in the project)."""
    engine: Literal["local", "dask"] = "local"
    address: str | None = None
    """Dask scheduler address (tcp://host:8786); none starts a LocalCluster for the run."""
    dask_workers: int = Field(2, ge=1, le=64)
    """Worker processes of the LocalCluster started when no address is given."""
    repo_url: str | None = None
    """Where Dask workers clone the project from and push task branches to (default: the project's path,
    for workers that share its file system)."""
    merge: Literal["ff", "merge"] = "ff"
    """ff: each task branch is rebased onto the project's branch and fast-forwarded; merge: a merge commit."""

    @property
    def distributed(self) -> bool:
        """True when tasks run in worktrees / on workers rather than one after another in the project."""
        return self.parallel > 1 or self.engine == "dask"


class StudioConfig(_Strict):
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)
    checkpoints: CheckpointConfig = Field(default_factory=CheckpointConfig)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    permissions: PermissionsConfig = Field(default_factory=PermissionsConfig)
    agents: dict[AgentRole, AgentConfig] = Field(default_factory=_default_agents)
    theme: str = "studio-dark"
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)

    def agent(self, role: str) -> AgentConfig:
        wanted = cast(AgentRole, role)  # another role is a KeyError below, as it always was
        return self.agents.get(wanted) or _default_agents()[wanted]


def load_config(path: Path, *, root: Path | None = None) -> StudioConfig:
    """The workspace's config, or the defaults when there is no file (a dangling link is an error)."""
    if not safefile.exists(path):
        return StudioConfig()
    return load_yaml_model(path, StudioConfig, empty_ok=True, kind=safefile.CONFIG, root=root)

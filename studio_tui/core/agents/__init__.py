"""Agent kinds, and the factory that builds one per role from `config.yaml`."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..config import AcpAgentConfig, CommandAgentConfig, PlanBuilderConfig, ScriptedAgentConfig, StudioConfig
from ..errors import InputError
from ..store import Workspace
from .base import Agent, AgentTask, Failure, Outcome, Reporter
from .scripted import Scenario, ScriptedAgent, load_scenario

__all__ = ["Agent", "AgentTask", "Failure", "Outcome", "Reporter", "agent_factory", "check_agents"]


def check_agents(workspace: Workspace, config: StudioConfig) -> dict[str, Scenario]:
    """Load every scenario the config names, so bad input fails before anything is written.

    Only a role the config sets to `kind: scripted` needs one (no default is scripted); a missing
    scenario is named together with the roles that play it."""
    players: dict[str, list[str]] = {}
    for role in ("planner", "builder", "architect"):
        agent_config = config.agent(role)
        if isinstance(agent_config, ScriptedAgentConfig):
            players.setdefault(agent_config.scenario, []).append(role)
    scenarios: dict[str, Scenario] = {}
    for name, roles in players.items():
        path = workspace.root / name
        if not os.path.lexists(path):
            who = ", ".join(f"agents.{role}" for role in roles)
            verb = "is" if len(roles) == 1 else "are"
            raise InputError(
                f"{path}: file not found; {who} in {workspace.config_path} {verb} kind: scripted and play{'s' if len(roles) == 1 else ''} it "
                "(write the scenario, or choose other agents: studio-tui init --force --agents command)"
            )
        scenarios[name] = load_scenario(path, root=workspace.root)
    return scenarios


def agent_factory(workspace: Workspace, config: StudioConfig, *, speed: float = 1.0) -> Callable[[str], Agent]:
    """role -> Agent, as config.yaml says; scripted agents share their loaded scenario."""
    scenarios = check_agents(workspace, config)

    def build(role: str) -> Agent:
        agent_config = config.agent(role)
        if isinstance(agent_config, ScriptedAgentConfig):
            return ScriptedAgent(scenarios[agent_config.scenario], speed=speed)
        if isinstance(agent_config, CommandAgentConfig):
            from .command import CommandAgent

            return CommandAgent(agent_config)
        if isinstance(agent_config, PlanBuilderConfig):
            from .plan_builder import PlanBuilderAgent

            return PlanBuilderAgent(agent_config)
        if isinstance(agent_config, AcpAgentConfig):
            from .acp import AcpAgent

            return AcpAgent(agent_config, planner=config.planner, allow_outside=config.permissions.allow_outside)
        raise TypeError(f"unknown agent config {agent_config!r}")

    return build

"""Agent kinds, and the factory that builds one per role from `config.yaml`."""

from __future__ import annotations

from ..config import AcpAgentConfig, CommandAgentConfig, PlanBuilderConfig, ScriptedAgentConfig, StudioConfig
from ..store import Workspace
from .base import Agent, AgentTask, Failure, Outcome, Reporter
from .scripted import Scenario, ScriptedAgent, load_scenario

__all__ = ["Agent", "AgentTask", "Failure", "Outcome", "Reporter", "agent_factory", "check_agents"]


def check_agents(workspace: Workspace, config: StudioConfig) -> dict[str, Scenario]:
    """Load every scenario the config names, so bad input fails before anything is written."""
    scenarios: dict[str, Scenario] = {}
    for role in ("planner", "builder", "architect"):
        agent_config = config.agent(role)
        if isinstance(agent_config, ScriptedAgentConfig) and agent_config.scenario not in scenarios:
            scenarios[agent_config.scenario] = load_scenario(workspace.root / agent_config.scenario, root=workspace.root)
    return scenarios


def agent_factory(workspace: Workspace, config: StudioConfig, *, speed: float = 1.0):
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

            return AcpAgent(agent_config)
        raise TypeError(f"unknown agent config {agent_config!r}")

    return build

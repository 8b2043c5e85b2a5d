"""studio-tui against the example agents shipped in the `agent-client-protocol` source distribution
(the pinned version, fetched with pip; skipped cleanly when PyPI cannot be reached): agents we did not
write, speaking the protocol as the SDK's authors do."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

import pytest
from agent_helpers import RecordingReporter, make_task

from studio_tui.core.agents.acp import AcpAgent
from studio_tui.core.config import AcpAgentConfig, PlannerConfig

PIP_TIMEOUT = 120.0
"""Longest wait for pip to fetch the sdist before the tests are skipped (a slow or absent network)."""


@pytest.fixture(scope="module")
def sdk_examples(tmp_path_factory) -> Path:
    pinned = version("agent-client-protocol")
    target = tmp_path_factory.mktemp("acp-sdist")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-binary",
        ":all:",
        "--no-deps",
        f"agent-client-protocol=={pinned}",
        "-d",
        str(target),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot fetch the agent-client-protocol sdist: {exc}")
    archives = list(target.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        pytest.skip(f"cannot fetch the agent-client-protocol {pinned} sdist: {done.stderr.strip()[-300:]}")
    with tarfile.open(archives[0]) as archive:
        members = [m for m in archive.getmembers() if "/examples/" in m.name and m.name.endswith(".py")]
        archive.extractall(target, members=members, filter="data")
    [examples] = list(target.glob("*/examples"))
    return examples


def config(script: Path) -> AcpAgentConfig:
    return AcpAgentConfig(kind="acp", command=[sys.executable, str(script)], timeout=60.0)


async def test_sdk_example_agents_as_builder_and_as_planner(sdk_examples, tmp_path):
    root = tmp_path / "project"
    (root / ".studio").mkdir(parents=True)
    builder_task = make_task(root)
    planner_task = make_task(root, key="planner", role="planner", mode="plan", task_id=None)
    reporter, planner_reporter = RecordingReporter(), RecordingReporter()

    built, planned = await asyncio.gather(
        AcpAgent(config(sdk_examples / "agent.py")).run(builder_task, reporter),
        AcpAgent(config(sdk_examples / "echo_agent.py"), planner=PlannerConfig(plan_attempts=2)).run(planner_task, planner_reporter),
    )

    # The example agent echoes the prompt back: a builder's turn that ends well.
    assert built.ok, built.failure
    assert built.output["stop_reason"] == "end_turn"
    assert "Goal: build the thing" in built.output["summary"]
    assert built.output["agent"] == "example-agent 0.1.0"
    # The echo agent never writes a plan: after plan_attempts follow-ups, a design flaw.
    assert not planned.ok
    assert planned.failure.category == "design_flaw"
    assert "was not written" in planned.failure.message
    # Neither reports usage: both were charged estimates.
    assert any(e[0] == "tokens" and e[-1] == "estimated" for e in reporter.events)

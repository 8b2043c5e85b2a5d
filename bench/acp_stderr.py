"""How an ACP agent's stderr flood lands: N lines from a real agent process (tests/acp_agents/
client_agent.py --scenario stderr) go to the bounded stream file, not the event log.

    .venv/bin/python bench/acp_stderr.py [LINES ...]

Prints, per run: the wall time, the reporter's log calls and recorded events, and the stream file's
size on disk (plus the rotated `.1` file)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio_tui.core.agents.acp import AcpAgent  # noqa: E402
from studio_tui.core.agents.base import AgentTask  # noqa: E402
from studio_tui.core.config import AcpAgentConfig  # noqa: E402


class CountingReporter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.logs = 0
        self.events: list[str] = []

    async def step(self, *a: Any, **k: Any) -> None: ...
    async def step_done(self, *a: Any) -> None: ...
    async def step_skipped(self, *a: Any) -> None: ...
    async def tokens(self, *a: Any, **k: Any) -> None: ...
    async def session(self, *a: Any, **k: Any) -> None:
        self.events.append("agent_session")

    async def log(self, message: str, level: str = "info") -> None:
        self.logs += 1

    async def record(self, event: type, **fields: Any) -> None:
        self.events.append(event.model_fields["type"].default)

    def files_dir(self) -> Path:
        return self.folder

    async def permission(self, *a: Any, **k: Any) -> None:
        return None

    async def ask(self, question: str, *, default: str = "") -> str:
        return default


async def run(lines: int) -> str:
    with tempfile.TemporaryDirectory(prefix="acp-stderr-") as folder:
        return await _run(lines, Path(folder))


async def _run(lines: int, tmp: Path) -> str:
    (tmp / "project").mkdir()
    reporter = CountingReporter(tmp / "orch")
    config = AcpAgentConfig(
        kind="acp",
        command=[sys.executable, str(ROOT / "tests/acp_agents/client_agent.py"), "--scenario", "stderr", "--lines", str(lines)],
    )
    task = AgentTask(key="builder", role="builder", mode="build", goal="flood", project_root=tmp / "project", workspace_root=tmp)
    started = time.monotonic()
    outcome = await AcpAgent(config).run(task, reporter)
    took = time.monotonic() - started
    stream = tmp / "orch" / "stderr" / "builder.log"
    rotated = stream.with_name("builder.log.1")
    size = stream.stat().st_size + (rotated.stat().st_size if rotated.exists() else 0)
    return (
        f"{lines:>8} stderr lines: ok={outcome.ok} {took:.2f}s, {reporter.logs} log calls, "
        f"events {reporter.events}, stream files {size:,} bytes"
    )


def main() -> None:
    for lines in [int(a) for a in sys.argv[1:]] or [10_000, 200_000]:
        print(asyncio.run(run(lines)))


if __name__ == "__main__":
    main()

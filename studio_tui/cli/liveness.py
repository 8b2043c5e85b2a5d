"""Liveness for `watch` and `status`: a run whose writer is gone is shown STOPPED, with the resume command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..core.liveness import resume_hint, stopped_label
from ..core.state import OrchestrationState
from ..core.store import Workspace

LIVENESS_POLL_SECONDS = 1.0
"""How often `watch` checks that someone still writes the run it follows."""


@dataclass(frozen=True)
class Stopped:
    """What `watch` yields when the run it follows lost its writer."""

    label: str
    resume: str


class LivenessWatch:
    """Wraps `watch`'s stream of log items: adds a `Stopped` item when the writer is gone and the run unfinished."""

    def __init__(self, workspace: Workspace, state: Callable[[], OrchestrationState]) -> None:
        self.workspace = workspace
        self.state = state

    async def guard(self, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        async def pump() -> None:
            try:
                async for item in items:
                    await queue.put(item)
            finally:
                await queue.put(done)

        pumping = asyncio.ensure_future(pump())
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), LIVENESS_POLL_SECONDS)
                except TimeoutError:
                    state = self.state()
                    if queue.empty() and (label := stopped_label(self.workspace, state)) is not None:
                        yield Stopped(label, resume_hint(self.workspace, state))
                    continue
                if item is done:
                    return
                yield item
        finally:
            pumping.cancel()


def liveness_lines(workspace: Workspace, state: OrchestrationState) -> list[str]:
    """For `status`: the STOPPED label and the command that continues the run, when its writer is gone."""
    label = stopped_label(workspace, state)
    if label is None:
        return []
    return [label, f"resume with: {resume_hint(workspace, state)}"]

"""Checkpoints: saved as an event plus a snapshot on disk, on schedule or when asked from outside."""

from __future__ import annotations

import json

from .. import events as ev
from ..store import CheckpointMeta
from .base import OrchestratorBase


class Checkpointing(OrchestratorBase):
    def checkpoint(self, name: str, *, after_agent: str | None = None, reason: str = "manual") -> str:
        """Save a checkpoint now: an event, then the state snapshot on disk, both durable."""
        cp_id = self.workspace.free_checkpoint_id(max(self.clock(), self._last_checkpoint_epoch + 1))
        self._last_checkpoint_epoch = int(cp_id[3:])
        event = self.emit(ev.CheckpointSaved, checkpoint_id=cp_id, name=name, after_agent=after_agent, reason=reason)
        meta = CheckpointMeta(id=cp_id, orch_id=self.state.id, name=name, after_agent=after_agent, seq=event.seq, ts=event.ts, reason=reason)
        self.workspace.write_checkpoint(meta, self.state)
        return cp_id

    def _take_requests(self) -> None:
        """Checkpoints asked for by `studio-tui checkpoint NAME` from another process."""
        folder = self.workspace.orch_dir(self.state.id) / "requests"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("checkpoint-*.json")):
            try:
                name = str(json.loads(path.read_text(encoding="utf-8")).get("name", "on_demand"))[:80]
            except (OSError, ValueError):
                name = "on_demand"
            path.unlink(missing_ok=True)
            self.checkpoint(name, reason="on_demand")


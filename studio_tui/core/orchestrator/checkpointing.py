"""Checkpoints: saved as an event plus a snapshot on disk, on schedule or when asked from outside."""

from __future__ import annotations

import os
import subprocess

from .. import events as ev
from .. import safefile
from ..errors import StudioError
from ..store import CheckpointMeta, CheckpointRecord, snapshots
from .base import OrchestratorBase

_SIDE_REASONS = ("interrupt", "error", "on_demand")
"""Checkpoints saved whenever the run stops or someone asks: they do not make a step's checkpoint new."""


class Checkpointing(OrchestratorBase):
    def checkpoint(self, name: str, *, after_agent: str | None = None, reason: str = "manual", again: bool = False) -> str:
        """Save a checkpoint now: an event, the run's files and code, then the state snapshot on disk, all durable.

        Names stay unique in a run (a repeat gets `_2`, `_3`); with `again`, a checkpoint of the same
        name that is still the latest one (a risky step entered again) is reused, not repeated.
        """
        if again:
            latest = [c for c in self.state.checkpoints if c.reason not in _SIDE_REASONS]
            if latest and latest[-1].name == name:
                return latest[-1].id
        name = self._unique_checkpoint_name(name)
        cp_id = self._new_checkpoint_id()
        files, code_ref, code_commit = self._snapshot(cp_id)
        meta = CheckpointMeta(
            id=cp_id,
            orch_id=self.state.id,
            name=name,
            after_agent=after_agent,
            seq=self.state.seq + 1,
            ts=round(self.clock(), 3),
            reason=reason,
            files=files,
            code_ref=code_ref,
            code_commit=code_commit,
        )
        # the file first, durable and checksummed: `checkpoint_saved` never names a file that is not there
        self.workspace.write_checkpoint(meta, self.state.model_copy(update={"seq": meta.seq, "updated_ts": meta.ts}))
        self.emit(ev.CheckpointSaved, ts=meta.ts, checkpoint_id=cp_id, name=name, after_agent=after_agent, reason=reason)
        return cp_id

    def _new_checkpoint_id(self) -> str:
        """`cp_<n>` from a counter: one more than any id in the workspace or this run (never the clock)."""
        if not self._next_checkpoint:
            self._next_checkpoint = int(self.workspace.next_checkpoint_id()[3:])
        taken = [int(c.id[3:]) for c in self.state.checkpoints if c.id[3:].isdigit()]
        number = max([self._next_checkpoint, *(t + 1 for t in taken[-1:])])
        self._next_checkpoint = number + 1
        return f"cp_{number}"

    def _unique_checkpoint_name(self, name: str) -> str:
        used = {c.name for c in self.state.checkpoints}
        if name not in used:
            return name
        n = 2
        while f"{name}_{n}" in used:
            n += 1
        return f"{name}_{n}"

    def _snapshot(self, cp_id: str) -> tuple[dict[str, str], str | None, str | None]:
        """Store the run's files (content-addressed) and, in a git project, the working tree on a private ref."""
        root = self.workspace.root
        orch_dir = self.workspace.orch_dir(self.state.id)
        files = snapshots.store_files(root, orch_dir / "objects", snapshots.run_files(root, self._scenario_names()))
        if self._git_project is None:
            self._git_project = snapshots.is_git_project(self.workspace.project_root)
        if not self._git_project:
            return files, None, None
        ref = f"refs/studio/{self.state.id}/{cp_id}"
        try:
            commit = snapshots.git_snapshot(self.workspace.project_root, root, ref, f"studio-tui checkpoint {cp_id} of {self.state.id}")
        except (OSError, subprocess.SubprocessError) as exc:
            self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"no code snapshot for {cp_id}: {exc}")
            return files, None, None
        return files, ref, commit

    def _scenario_names(self) -> list[str]:
        names: list[str] = []
        for role in ("planner", "builder", "architect"):
            scenario = getattr(self.config.agent(role), "scenario", None)
            if isinstance(scenario, str) and scenario not in names:
                names.append(scenario)
        return names

    def _restore_files(self, record: CheckpointRecord) -> list[str]:
        """Put the run's files back as `record` saw them (plans, backlog, learnings, scenario)."""
        objects = self.workspace.orch_dir(record.meta.orch_id) / "objects"
        return snapshots.restore_files(self.workspace.root, objects, record.meta.files)

    def _take_requests(self) -> None:
        """Checkpoints asked for by `studio-tui checkpoint NAME` from another process (for this one)."""
        if not self.state.id or self._log is None:
            return
        folder = self.workspace.orch_dir(self.state.id) / "requests"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("checkpoint-*.json")):
            try:
                request = safefile.load_json(path, safefile.REQUEST, root=self.workspace.root)
            except StudioError:
                request = {}
            if not isinstance(request, dict):
                request = {}
            name = str(request.get("name", "on_demand"))[:80] or "on_demand"
            path.unlink(missing_ok=True)
            pid = request.get("pid")
            if pid is not None and pid != os.getpid():
                # asked of another process (one that ended before taking it): never saved by this one
                self.emit(
                    ev.AgentLog,
                    agent="orchestrator",
                    level="warning",
                    message=f"checkpoint request {name!r} was for pid {pid}, which ended before saving it; not saved",
                )
                continue
            self.checkpoint(name, reason="on_demand")

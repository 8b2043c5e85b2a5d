"""The `.studio` workspace on disk: layout, validated names, state files and checkpoints."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from .. import safefile
from ..errors import InputError, NotFound, StudioError
from ..loading import describe_validation
from ..state import OrchestrationState
from ..text import command_hint
from . import checkpoints
from .checkpoints import CheckpointFile, CheckpointMeta, CheckpointRecord, ListedCheckpoint
from .lock import WorkspaceLock

if TYPE_CHECKING:
    from ..config import StudioConfig

__all__ = ["CheckpointFile", "CheckpointMeta", "CheckpointRecord", "ListedCheckpoint", "Workspace", "check_name"]

ORCH_ID_RE = re.compile(r"^orch_\d{8}_\d{6}_[0-9a-f]{4}$")
CHECKPOINT_ID_RE = re.compile(r"^cp_\d{1,15}$")
TASK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
"""Names that become paths: letters, digits, `_` and `-` only, so none can climb out of the workspace."""


def check_name(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = repr(value)[:80]
        raise InputError(f"invalid {what} {shown}: expected {pattern.pattern}")
    return value


_FIRST_TS = re.compile(rb'"ts"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')
"""The `ts` field of a log line (every event line carries one)."""


class Workspace:
    """Paths and file access for one `.studio` folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()

    @property
    def project_root(self) -> Path:
        return self.root.parent

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def tasks_dir(self) -> Path:
        return self.root / "tasks"

    @property
    def backlog_path(self) -> Path:
        return self.root / "backlog.yaml"

    @property
    def learnings_dir(self) -> Path:
        return self.root / "learnings"

    @property
    def orchestration_dir(self) -> Path:
        return self.root / "orchestration"

    @property
    def sessions_dir(self) -> Path:
        return self.root / "sessions"

    def lock(self) -> WorkspaceLock:
        return WorkspaceLock(self.root / "lock", root=self.root)

    def config(self) -> StudioConfig:
        from ..config import load_config  # the config models cost ~75 ms to build: only when asked for

        return load_config(self.config_path, root=self.root)

    def orch_dir(self, orch_id: str) -> Path:
        return self.orchestration_dir / check_name(orch_id, ORCH_ID_RE, "orchestration id")

    def task_dir(self, task_id: str) -> Path:
        return self.tasks_dir / check_name(task_id, TASK_ID_RE, "task id")

    def events_path(self, orch_id: str) -> Path:
        return self.orch_dir(orch_id) / "events.jsonl"

    def state_path(self, orch_id: str) -> Path:
        return self.orch_dir(orch_id) / "state.yaml"

    def checkpoints_dir(self, orch_id: str) -> Path:
        return self.orch_dir(orch_id) / "checkpoints"

    def orchestrations(self) -> list[str]:
        """Orchestration ids, oldest first. Ids start with their start time to the second; runs started
        within the same second (a fork right after a short run) are ordered by their first event's time."""
        if not self.orchestration_dir.is_dir():
            return []
        names = sorted(p.name for p in self.orchestration_dir.iterdir() if ORCH_ID_RE.fullmatch(p.name))
        seconds = [name[: -len("_xxxx")] for name in names]
        if len(set(seconds)) == len(seconds):
            return names
        return sorted(names, key=lambda name: (name[: -len("_xxxx")], self._started_ts(name), name))

    def _started_ts(self, orch_id: str) -> float:
        """The time on the first line of an orchestration's log (0.0 if it cannot be read)."""
        try:
            fd = safefile.open_read(self.events_path(orch_id), safefile.LOG)
        except (OSError, StudioError):
            return 0.0
        try:
            head = os.pread(fd, 4096, 0)
        finally:
            os.close(fd)
        found = _FIRST_TS.search(head.split(b"\n", 1)[0])
        return float(found.group(1)) if found else 0.0

    def latest(self) -> str | None:
        found = self.orchestrations()
        return found[-1] if found else None

    def resolve_orch(self, orch_id: str | None) -> str:
        """The given orchestration (checked to exist) or the latest one."""
        if orch_id is None:
            latest = self.latest()
            if latest is None:
                raise NotFound(f"{self.root}: no orchestration yet; start one with `studio-tui build GOAL`")
            return latest
        if not self.orch_dir(orch_id).is_dir():
            known = ", ".join(self.orchestrations()[-5:]) or "none"
            raise NotFound(f"unknown orchestration {orch_id!r}; recent ones: {known}")
        return orch_id

    def set_aside_damaged_state(self, orch_id: str) -> Path | None:
        """If state.yaml exists but does not load, move it aside (content untouched) and return where."""
        path = self.state_path(orch_id)
        if not os.path.lexists(path):
            return None
        try:
            self.load_state(orch_id)
            return None
        except InputError:
            if not os.path.isfile(path) or os.path.islink(path):
                return None  # not a file we wrote (a link, a FIFO, a folder): refused when written
            kept = path.with_name(f"state.yaml.damaged-{int(time.time())}")
            os.replace(path, kept)
            return kept

    def write_state(self, state: OrchestrationState, *, durable: bool = True) -> None:
        safefile.write_atomic(self.state_path(state.id), state.to_yaml(), safefile.STATE, root=self.root, durable=durable)

    def load_state(self, orch_id: str) -> OrchestrationState:
        path = self.state_path(orch_id)
        data, node = safefile.load_yaml(path, safefile.STATE, root=self.root)
        if not isinstance(data, dict) or "orchestration_state" not in data:
            raise InputError(f"{path}: not a state file (no 'orchestration_state' at the top)")
        try:
            return OrchestrationState.from_dict(data)
        except ValidationError as exc:
            raise InputError(describe_validation(path, exc, node)) from None

    # checkpoints

    def write_checkpoint(self, meta: CheckpointMeta, state: OrchestrationState) -> Path:
        """The checkpoint file, durable, then its index line (see store.checkpoints)."""
        check_name(meta.id, CHECKPOINT_ID_RE, "checkpoint id")
        return checkpoints.write(self.checkpoints_dir(meta.orch_id), meta, state, root=self.root)

    def next_checkpoint_id(self, at_least: int = 1) -> str:
        """`cp_<n>`: one more than the highest id in this workspace (a counter, never the clock)."""
        highest = at_least - 1
        for cp_id, _ in self.checkpoint_paths():
            highest = max(highest, int(cp_id[3:]))
        return f"cp_{highest + 1}"

    def checkpoint_paths(self) -> list[tuple[str, Path]]:
        """(checkpoint id, path) for every checkpoint of every orchestration (names only: nothing opened)."""
        found: list[tuple[str, Path]] = []
        for orch_id in self.orchestrations():
            folder = self.checkpoints_dir(orch_id)
            for cp_id in sorted(checkpoints.ids_in(folder), key=lambda i: int(i[3:])):
                found.append((cp_id, folder / f"{cp_id}.yaml"))
        return found

    def list_checkpoints(self) -> tuple[list[ListedCheckpoint], list[str]]:
        """Every checkpoint of every orchestration from the indexes (digests checked), and problems."""
        listed: list[ListedCheckpoint] = []
        problems: list[str] = []
        for orch_id in self.orchestrations():
            found, bad = checkpoints.listing(self.checkpoints_dir(orch_id), orch_id, root=self.root)
            listed += found
            problems += bad
        return listed, problems

    def load_checkpoint(self, path: Path) -> CheckpointRecord:
        return checkpoints.load(path, root=self.root)

    def last_good_checkpoint(self, orch_id: str | None = None, *, exclude: Path | None = None) -> CheckpointRecord | None:
        """The newest checkpoint that loads cleanly (of one orchestration, or of any)."""
        candidates = [
            path for _, path in self.checkpoint_paths() if path != exclude and (orch_id is None or path.parent.parent.name == orch_id)
        ]
        candidates.sort(key=lambda p: int(p.stem[3:]), reverse=True)
        for path in candidates:
            try:
                return self.load_checkpoint(path)
            except InputError:
                continue
        return None

    def damaged_checkpoint_message(self, path: Path, problem: str) -> str:
        """The problem, that the file is kept, and the last good checkpoint to resume from instead."""
        good = self.last_good_checkpoint(path.parent.parent.name, exclude=path)
        if good is None:
            good = self.last_good_checkpoint(exclude=path)
        offer = (
            f"last good checkpoint: {good.meta.id} ({good.meta.name}, {good.meta.orch_id}): "
            f"{command_hint('--workspace', str(self.root), 'resume', good.meta.id)}"
            if good
            else "no good checkpoint to offer in this workspace"
        )
        return f"{problem}\nthe damaged file is kept as it is; {offer}"

    def find_checkpoint(self, cp_id: str) -> CheckpointRecord:
        check_name(cp_id, CHECKPOINT_ID_RE, "checkpoint id")
        known = self.checkpoint_paths()
        for found_id, path in known:
            if found_id == cp_id:
                try:
                    return self.load_checkpoint(path)
                except InputError as exc:
                    raise InputError(self.damaged_checkpoint_message(path, str(exc))) from None
        listing = ", ".join(i for i, _ in known[-10:]) or "none in this workspace"
        raise NotFound(f"unknown checkpoint {cp_id!r}; checkpoints: {listing}")

"""Checkpoint files: O(1) size, a closing checksum, an index per orchestration, monotonic ids.

A checkpoint file (`checkpoints/cp_N.yaml`) holds one `CheckpointMeta` and the orchestration state
*without* its list of earlier checkpoints (those are in the event log and in this folder), so each
file stays the size of the state however long the run. Its last line is `# end sha256=<hex>`, the
digest of every byte before it: a file cut short or altered is reported as damaged and never
resumed from. After the file is durable a line is appended to `checkpoints/index.jsonl`, so
listing every checkpoint reads one small file per orchestration instead of parsing each YAML file.

The index is a cache, never the truth: a checkpoint missing from it (an older workspace, a crash
between the file and its index line) is read from its file; an index line whose file is gone or
whose digest differs is ignored.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .. import safefile
from ..errors import InputError
from ..loading import describe_validation
from ..state import OrchestrationState

CHECKPOINT_FORMAT = 2
INDEX_NAME = "index.jsonl"
_TRAILER = re.compile(rb"# end sha256=([0-9a-f]{64})\n\Z")


class CheckpointMeta(BaseModel):
    """What a checkpoint is. New fields must come with defaults, so older files still load."""

    model_config = ConfigDict(extra="forbid")

    id: str
    orch_id: str
    name: str
    after_agent: str | None = None
    seq: int
    ts: float
    reason: str = "manual"
    format: int = CHECKPOINT_FORMAT
    files: dict[str, str] = {}
    """The run's files at this checkpoint: path under `.studio` -> sha256 of the copy in the objects store."""
    code_ref: str | None = None
    """In a git project: `refs/studio/<orch_id>/<cp_id>`, a commit of the working tree at this checkpoint."""
    code_commit: str | None = None


class CheckpointFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: CheckpointMeta
    state: dict[str, Any]


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint found on disk, with the state it holds."""

    meta: CheckpointMeta
    state: OrchestrationState
    path: Path


@dataclass(frozen=True)
class ListedCheckpoint:
    """A checkpoint as `checkpoints` lists it: from the index (digest checked) or its file."""

    meta: CheckpointMeta
    path: Path
    digest: str


# ── compact integer lists ────────────────────────────────────────────────
# A state holds lists of step numbers (steps completed, and copies in agents' output) that grow with
# the run: 3,000 steps are 6,000 YAML lines in every checkpoint. In a checkpoint file a long list of
# integers made of consecutive runs is written `!runs [[1, 3000]]` and read back as the same list.

_RUNS_TAG = "!runs"
_RUNS_MIN = 8


def _runs(values: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return runs


class _CompactDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    if len(data) >= _RUNS_MIN and all(type(v) is int for v in data):
        runs = _runs(data)
        if len(runs) * 4 <= len(data):
            return dumper.represent_sequence(_RUNS_TAG, runs, flow_style=True)
    return dumper.represent_list(data)


_CompactDumper.add_representer(list, _represent_list)


class CheckpointLoader(safefile.BoundedLoader):
    """The bounded loader, reading `!runs` lists back (their expanded length bounded too)."""

    def construct_runs(self, node: yaml.Node) -> list[int]:
        pairs = self.construct_sequence(node, deep=True)  # type: ignore[arg-type]
        out: list[int] = []
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and all(type(v) is int for v in pair) and pair[0] <= pair[1]):
                raise yaml.constructor.ConstructorError(None, None, "a !runs entry must be [first, last]", node.start_mark)
            if len(out) + pair[1] - pair[0] + 1 > safefile.MAX_NODES:
                raise yaml.constructor.ConstructorError(None, None, f"a !runs list longer than {safefile.MAX_NODES:,}", node.start_mark)
            out.extend(range(pair[0], pair[1] + 1))
        return out


CheckpointLoader.add_constructor(_RUNS_TAG, CheckpointLoader.construct_runs)


# ── one file ─────────────────────────────────────────────────────────────


def encode(meta: CheckpointMeta, state: OrchestrationState) -> tuple[bytes, str]:
    """The file's bytes and their digest: the state without its checkpoint list, then the trailer."""
    snapshot = state.to_dict()
    snapshot["checkpoints"] = []
    body = {"checkpoint": meta.model_dump(mode="json"), "state": snapshot}
    dumped = yaml.dump(body, Dumper=_CompactDumper, sort_keys=False, allow_unicode=True, width=100)
    text = f"# studio-tui checkpoint (format {CHECKPOINT_FORMAT})\n" + dumped
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    return data + f"# end sha256={digest}\n".encode(), digest


def verify(data: bytes, path: Path) -> tuple[bytes, str]:
    """The body and digest of a checkpoint file's bytes; InputError if the trailer is missing or wrong."""
    start = data.rfind(b"\n", 0, max(0, len(data) - 1)) + 1
    found = _TRAILER.match(data, start)
    if found is None:
        raise InputError(f"{path}: damaged checkpoint: no closing checksum line (cut short, or written by an older studio-tui)")
    body = data[:start]
    digest = hashlib.sha256(body).hexdigest()
    if digest != found.group(1).decode():
        raise InputError(f"{path}: damaged checkpoint: its checksum does not match its content")
    return body, digest


def load(path: Path, *, root: Path | None = None) -> CheckpointRecord:
    """A checkpoint read, verified, parsed within limits and validated; InputError names what is wrong."""
    data = safefile.read_bytes(path, safefile.CHECKPOINT, root=root)
    body, _ = verify(data, path)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    parsed, node = safefile.parse_yaml(text, path, loader_class=CheckpointLoader)
    if not isinstance(parsed, dict):
        raise InputError(f"{path}: not a checkpoint file (expected a mapping with 'checkpoint' and 'state')")
    try:
        content = CheckpointFile.model_validate(parsed)
        state = OrchestrationState.from_dict(content.state)
    except ValidationError as exc:
        raise InputError(describe_validation(path, exc, node)) from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    meta = content.checkpoint
    if meta.id != path.stem or meta.orch_id != path.parent.parent.name or state.id != meta.orch_id:
        raise InputError(
            f"{path}: checkpoint says it is {meta.id} of {meta.orch_id} (state of {state.id or 'nothing'}), "
            f"but it is stored as {path.stem} of {path.parent.parent.name}"
        )
    return CheckpointRecord(meta=meta, state=state, path=path)


def write(folder: Path, meta: CheckpointMeta, state: OrchestrationState, *, root: Path | None = None) -> Path:
    """Write the checkpoint file durably, then its index line; returns the file's path.

    Only after this returns may `checkpoint_saved` be logged: the file is on disk, complete."""
    path = folder / f"{meta.id}.yaml"
    data, digest = encode(meta, state)
    safefile.write_atomic(path, data, safefile.CHECKPOINT, root=root, durable=True)
    line = meta.model_dump_json()[:-1] + f',"sha256":"{digest}"}}\n'
    fd = safefile.open_append(folder / INDEX_NAME, safefile.CHECKPOINT_INDEX, root=root)
    try:
        safefile.write_all(fd, line.encode("utf-8"))
    except OSError:
        pass  # the index is a cache: a checkpoint missing from it is read from its file
    finally:
        os.close(fd)
    return path


# ── a folder ─────────────────────────────────────────────────────────────


def ids_in(folder: Path) -> list[str]:
    """Checkpoint ids with a file in `folder` (names only: nothing is opened)."""
    from .workspace import CHECKPOINT_ID_RE

    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [name[:-5] for name in names if name.endswith(".yaml") and CHECKPOINT_ID_RE.fullmatch(name[:-5])]


def read_index(folder: Path, *, root: Path | None = None) -> dict[str, tuple[CheckpointMeta, str]]:
    """id -> (meta, digest) from the folder's index; unreadable lines are skipped (the files decide)."""
    found: dict[str, tuple[CheckpointMeta, str]] = {}
    path = folder / INDEX_NAME
    if not os.path.lexists(path):
        return found
    try:
        data = safefile.read_bytes(path, safefile.CHECKPOINT_INDEX, root=root)
    except InputError:
        return found
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            entry = safefile.parse_json(raw, path)
            digest = entry.pop("sha256")
            meta = CheckpointMeta.model_validate(entry)
        except (InputError, ValidationError, AttributeError, KeyError, TypeError, RecursionError):
            continue
        if isinstance(digest, str):
            found[meta.id] = (meta, digest)
    return found


def listing(folder: Path, orch_id: str, *, root: Path | None = None) -> tuple[list[ListedCheckpoint], list[str]]:
    """Every checkpoint in `folder`, and one problem line per damaged one.

    Indexed checkpoints are checked by digest only (no YAML parsing); the others are loaded in full."""
    listed: list[ListedCheckpoint] = []
    problems: list[str] = []
    index = read_index(folder, root=root)
    for cp_id in sorted(ids_in(folder), key=lambda i: int(i[3:])):
        path = folder / f"{cp_id}.yaml"
        entry = index.get(cp_id)
        try:
            if entry is not None and entry[0].orch_id == orch_id:
                _, digest = verify(safefile.read_bytes(path, safefile.CHECKPOINT, root=root), path)
                if digest == entry[1]:
                    listed.append(ListedCheckpoint(entry[0], path, digest))
                    continue
            record = load(path, root=root)
            listed.append(ListedCheckpoint(record.meta, path, ""))
        except InputError as exc:
            problems.append(str(exc))
    return listed, problems

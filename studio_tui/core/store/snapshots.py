"""What a checkpoint carries besides the state: the run's files, content-addressed, and the project's code on a git ref.

Files (plans, backlog, learnings, scenario) are stored once per content under
`orchestration/<orch_id>/objects/<sha256[:2]>/<sha256>`; a checkpoint keeps only `path -> sha256`.
In a git project, the working tree is committed onto `refs/studio/<orch_id>/<cp_id>` through a
temporary index: the person's branch, index, stash and files are never touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError
from .atomic import fsync_dir

MAX_FILE_BYTES = 4 * 1024 * 1024
"""A run file larger than this is not snapshotted (a plan or backlog is kilobytes; this is a runaway)."""

GIT_TIMEOUT = 60.0
"""Seconds any one git command may take before the snapshot is given up (the run goes on)."""

_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "studio-tui",
    "GIT_AUTHOR_EMAIL": "studio-tui@localhost",
    "GIT_COMMITTER_NAME": "studio-tui",
    "GIT_COMMITTER_EMAIL": "studio-tui@localhost",
}


def _write_bytes(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all, durably (a checkpoint names it right after)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def run_files(root: Path, scenario_names: list[str]) -> list[str]:
    """The workspace files a run reads, relative to the `.studio` folder, sorted."""
    found: set[str] = set()
    for folder in ("tasks", "learnings"):
        base = root / folder
        if base.is_dir():
            for path in base.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    found.add(path.relative_to(root).as_posix())
    for name in ("backlog.yaml", *scenario_names):
        path = root / name
        if path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(root.resolve()):
            found.add(path.relative_to(root).as_posix())
    return sorted(found)


def store_files(root: Path, objects: Path, names: list[str]) -> dict[str, str]:
    """Copy each file's content into `objects` (once per content); `name -> sha256`."""
    manifest: dict[str, str] = {}
    for name in names:
        path = root / name
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        digest = hashlib.sha256(data).hexdigest()
        target = objects / digest[:2] / digest
        if not target.exists():
            _write_bytes(target, data)
        manifest[name] = digest
    return manifest


def restore_files(root: Path, objects: Path, manifest: dict[str, str]) -> list[str]:
    """Put each file of `manifest` back as it was; the names whose content changed (missing objects are an error)."""
    changed: list[str] = []
    resolved_root = root.resolve()
    for name, digest in sorted(manifest.items()):
        source = objects / digest[:2] / digest
        target = root / name
        if not target.resolve().is_relative_to(resolved_root) or ".." in Path(name).parts:
            raise InputError(f"checkpoint names a file outside the workspace: {name!r}")
        try:
            data = source.read_bytes()
        except OSError:
            raise InputError(f"{source}: the stored copy of {name} is missing; the checkpoint cannot restore it") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise InputError(f"{source}: the stored copy of {name} is damaged (checksum differs)")
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass
        _write_bytes(target, data)
        changed.append(name)
    return changed


# ── git ──────────────────────────────────────────────────────────────────


def _git(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args],
        cwd=project,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )


def is_git_project(project: Path) -> bool:
    if shutil.which("git") is None:
        return False
    try:
        done = _git(project, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def _studio_path(project: Path, workspace_root: Path) -> str | None:
    """The `.studio` folder relative to the project, when it lives inside it."""
    try:
        rel = workspace_root.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return None
    return rel if rel and rel != "." else None


def _exclude(project: Path, workspace_root: Path) -> list[str]:
    """Pathspec leaving the `.studio` folder out of `git status`."""
    rel = _studio_path(project, workspace_root)
    return [f":(exclude){rel}"] if rel else []


def _tree_of_worktree(project: Path, workspace_root: Path, index_file: Path) -> str:
    """The tree object of the working tree as it is now (untracked files included, ignored ones not)."""
    env = {"GIT_INDEX_FILE": str(index_file)}
    real_index = _git(project, "rev-parse", "--git-path", "index").stdout.strip()
    real = (project / real_index) if real_index else None
    if real is not None and real.is_file():
        shutil.copyfile(real, index_file)  # a copy: its stat cache makes `add -A` fast; the real index is untouched
    added = _git(project, "add", "-A", "--", ".", env=env)
    if added.returncode != 0:
        raise OSError(f"git add: {added.stderr.strip()}")
    studio_dir = _studio_path(project, workspace_root)
    if studio_dir:  # the run's own folder is not code (an exclude pathspec fails when it is ignored)
        _git(project, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", studio_dir, env=env)
    tree = _git(project, "write-tree", env=env)
    if tree.returncode != 0:
        raise OSError(f"git write-tree: {tree.stderr.strip()}")
    return tree.stdout.strip()


def git_snapshot(project: Path, workspace_root: Path, ref: str, message: str) -> str:
    """Commit the working tree onto `ref` without touching branch, index, stash or files; the commit id."""
    with tempfile.TemporaryDirectory(prefix="studio-index-") as tmp:
        tree = _tree_of_worktree(project, workspace_root, Path(tmp) / "index")
    head = _git(project, "rev-parse", "--verify", "-q", "HEAD")
    parents = ["-p", head.stdout.strip()] if head.returncode == 0 and head.stdout.strip() else []
    commit = _git(project, "commit-tree", tree, *parents, "-m", message, env=_GIT_IDENTITY)
    if commit.returncode != 0:
        raise OSError(f"git commit-tree: {commit.stderr.strip()}")
    sha = commit.stdout.strip()
    updated = _git(project, "update-ref", ref, sha)
    if updated.returncode != 0:
        raise OSError(f"git update-ref: {updated.stderr.strip()}")
    return sha


def uncommitted_changes(project: Path, workspace_root: Path) -> list[str]:
    """Paths with changes not in HEAD (untracked included, the `.studio` folder left out)."""
    done = _git(project, "status", "--porcelain", "--untracked-files=all", "--", ".", *_exclude(project, workspace_root))
    return [line[3:] for line in done.stdout.splitlines() if line.strip()]


def _saved(project: Path, workspace_root: Path) -> bool:
    """Whether the working tree as it is now is held by HEAD or by a studio snapshot (so nothing is lost)."""
    with tempfile.TemporaryDirectory(prefix="studio-index-") as tmp:
        now_tree = _tree_of_worktree(project, workspace_root, Path(tmp) / "index")
    listed = _git(project, "for-each-ref", "--format=%(objectname)", "refs/studio/")
    commits = ["HEAD", *listed.stdout.split()]
    for commit in commits:
        tree = _git(project, "rev-parse", "-q", "--verify", f"{commit}^{{tree}}")
        if tree.returncode == 0 and tree.stdout.strip() == now_tree:
            return True
    return False


def restore_code(project: Path, workspace_root: Path, commit: str) -> list[str]:
    """Make the working tree what `commit` holds (files it lacks are removed); the paths changed.

    Refused (InputError) when the working tree has changes not in HEAD: they would be lost.
    HEAD, the branch, the index and the stash stay as they are.
    """
    if _git(project, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise InputError(f"the code snapshot {commit[:12]} is not in {project} any more (its ref was deleted?)")
    dirty = uncommitted_changes(project, workspace_root)
    if dirty and not _saved(project, workspace_root):
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise InputError(
            f"{project}: the working tree has uncommitted changes that restoring the code would lose ({shown}); "
            "commit or stash them first, or resume without --restore-code"
        )
    with tempfile.TemporaryDirectory(prefix="studio-index-") as tmp:
        index_file = Path(tmp) / "index"
        now_tree = _tree_of_worktree(project, workspace_root, index_file)
        diff = _git(project, "diff-tree", "-r", "--name-status", "--no-renames", now_tree, f"{commit}^{{tree}}")
        changed: list[str] = []
        for line in diff.stdout.splitlines():
            status, _, path = line.partition("\t")
            if status == "D":
                (project / path).unlink(missing_ok=True)
            changed.append(path)
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "restore-index")}
        if _git(project, "read-tree", f"{commit}^{{tree}}", env=env).returncode != 0:
            raise OSError("git read-tree failed")
        out = _git(project, "checkout-index", "-a", "-f", env=env)
        if out.returncode != 0:
            raise OSError(f"git checkout-index: {out.stderr.strip()}")
    return changed

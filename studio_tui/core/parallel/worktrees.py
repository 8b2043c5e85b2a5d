"""Git worktrees for parallel Builders: one worktree and branch per task, merged back in task order."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputError, StudioError

MergeStrategy = Literal["ff", "merge"]
"""ff: the task branch is rebased onto HEAD and fast-forwarded (linear history); merge: a merge commit."""

GIT_TIMEOUT = 120.0
"""Seconds one git command may take: generous for a big repository, finite so a hung git cannot hang a run."""

_BRANCH_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": "true",
    "GIT_MERGE_AUTOEDIT": "no",
    # The project's identity if it has one; this one only when none is configured anywhere.
    "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "studio-tui"),
    "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "studio-tui@localhost"),
    "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "studio-tui"),
    "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "studio-tui@localhost"),
}


class GitError(StudioError):
    """A git command failed; the message names the command and git's own words."""


def git(cwd: Path, *args: str, check: bool = True, timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `git args...` in `cwd` without a prompt or an editor; raise GitError naming it when `check` fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env={**os.environ, **_GIT_ENV},
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (needed for parallel Builders)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} in {cwd}: no answer after {timeout:.0f}s") from None
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {' '.join(args)} in {cwd} failed: {said[-1] if said else f'exit {done.returncode}'}")
    return done


def repo_root(path: Path) -> Path | None:
    """The top of the git working tree holding `path`, or None when it is not in one (or git is missing)."""
    try:
        done = git(path, "rev-parse", "--show-toplevel", check=False)
    except GitError:
        return None
    if done.returncode != 0:
        return None
    return Path(done.stdout.strip())


def require_repo(project_root: Path) -> Path:
    """The project's git top folder, or an InputError saying why --parallel cannot run without one."""
    if shutil.which("git") is None:
        raise InputError("--parallel needs git (each parallel Builder works in its own git worktree), and git is not installed")
    top = repo_root(project_root)
    if top is None:
        raise InputError(
            f"--parallel needs a git repository: {project_root} is not in one "
            "(each parallel Builder works in its own git worktree); run `git init` and commit, or drop --parallel"
        )
    if git(top, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode != 0:
        raise InputError(f"--parallel needs a commit to branch from: {top} has none yet; commit once, or drop --parallel")
    return top


@dataclass(frozen=True)
class MergeResult:
    """What merging one task branch back did."""

    merged: bool
    how: str = ""
    """fast-forward, merge, rebase+fast-forward, already merged, or nothing to merge."""
    commit: str = ""
    """HEAD after the merge."""
    conflicts: list[str] = field(default_factory=list)
    """Files in conflict when `merged` is False."""


class Worktrees:
    """The worktrees and branches of one orchestration's parallel tasks, in a repository."""

    def __init__(self, repo: Path, orch_id: str, folder: Path) -> None:
        self.repo = repo
        self.orch_id = orch_id
        self.folder = folder
        """Where the worktrees live: `<folder>/<task_id>`."""

    def branch(self, task_id: str) -> str:
        for part in (self.orch_id, task_id):
            if not _BRANCH_PART_RE.fullmatch(part):
                raise InputError(f"cannot name a git branch after {part!r}: letters, digits, '_' and '-' only")
        return f"studio/{self.orch_id}/{task_id}"

    def path(self, task_id: str) -> Path:
        self.branch(task_id)
        return self.folder / task_id

    def head(self) -> str:
        return git(self.repo, "rev-parse", "HEAD").stdout.strip()

    def branch_exists(self, task_id: str) -> bool:
        ref = f"refs/heads/{self.branch(task_id)}"
        return git(self.repo, "rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def tip(self, task_id: str) -> str:
        return git(self.repo, "rev-parse", self.branch(task_id)).stdout.strip()

    def create(self, task_id: str, base: str | None = None) -> Path:
        """A worktree on branch `studio/<orch>/<task>` from `base` (HEAD); an existing one is reused (resume)."""
        branch, path = self.branch(task_id), self.path(task_id)
        git(self.repo, "worktree", "prune")
        if path.is_dir() and (path / ".git").exists() and self.branch_exists(task_id):
            return path
        if path.exists():
            shutil.rmtree(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.branch_exists(task_id):
            git(self.repo, "worktree", "add", str(path), branch)
        else:
            git(self.repo, "worktree", "add", "-b", branch, str(path), base or self.head())
        return path

    def commit_all(self, task_id: str, message: str) -> str | None:
        """Commit everything the agent changed in the task's worktree; None when it changed nothing."""
        path = self.path(task_id)
        git(path, "add", "-A")
        if git(path, "diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        git(path, "commit", "-q", "--no-verify", "-m", message)
        return git(path, "rev-parse", "HEAD").stdout.strip()

    def is_merged(self, task_id: str) -> bool:
        """True when the task branch's tip is already in HEAD (merged before a crash, or nothing to merge)."""
        tip = self.tip(task_id)
        return git(self.repo, "merge-base", "--is-ancestor", tip, "HEAD", check=False).returncode == 0

    def merge(self, task_id: str, strategy: MergeStrategy = "ff", message: str = "") -> MergeResult:
        """Merge the task branch into the repository's checked-out branch; a conflict changes nothing."""
        branch = self.branch(task_id)
        if self.is_merged(task_id):
            return MergeResult(True, "already merged", self.head())
        if strategy == "merge":
            done = git(self.repo, "merge", "--no-ff", "--no-edit", "-m", message or f"Merge {branch}", branch, check=False)
            if done.returncode != 0:
                conflicts = self._conflicts(self.repo)
                git(self.repo, "merge", "--abort", check=False)
                if not conflicts:
                    raise GitError(f"git merge {branch} failed: {_last_line(done)}")
                return MergeResult(False, conflicts=conflicts)
            return MergeResult(True, "merge", self.head())
        if git(self.repo, "merge", "--ff-only", "-q", branch, check=False).returncode == 0:
            return MergeResult(True, "fast-forward", self.head())
        rebased = self.rebase(task_id)
        if not rebased.merged:
            return rebased
        done = git(self.repo, "merge", "--ff-only", "-q", branch, check=False)
        if done.returncode != 0:
            raise GitError(f"git merge --ff-only {branch} after a rebase failed: {_last_line(done)}")
        return MergeResult(True, "rebase+fast-forward", self.head())

    def rebase(self, task_id: str) -> MergeResult:
        """Rebase the task branch onto HEAD in its worktree; a conflict is aborted and reported."""
        path = self.path(task_id)
        if not (path / ".git").exists():
            self.create(task_id)  # the branch came from elsewhere (a Dask worker pushed it): check it out here
        onto = self.head()
        done = git(path, "rebase", onto, check=False)
        if done.returncode != 0:
            conflicts = self._conflicts(path)
            git(path, "rebase", "--abort", check=False)
            if not conflicts:
                raise GitError(f"git rebase of {self.branch(task_id)} failed: {_last_line(done)}")
            return MergeResult(False, conflicts=conflicts)
        return MergeResult(True, "rebase", git(path, "rev-parse", "HEAD").stdout.strip())

    def reset_to_head(self, task_id: str) -> None:
        """Start the task over from the current HEAD (a retry after a conflict that a rebase cannot solve)."""
        git(self.path(task_id), "reset", "-q", "--hard", self.head())

    def remove(self, task_id: str, *, delete_branch: bool = False) -> None:
        """Remove the task's worktree (and its branch when asked); missing ones are fine."""
        path = self.path(task_id)
        if path.exists():
            git(self.repo, "worktree", "remove", "--force", str(path), check=False)
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
        git(self.repo, "worktree", "prune", check=False)
        if delete_branch and self.branch_exists(task_id):
            git(self.repo, "branch", "-D", self.branch(task_id), check=False)

    @staticmethod
    def _conflicts(cwd: Path) -> list[str]:
        done = git(cwd, "diff", "--name-only", "--diff-filter=U", check=False)
        return sorted({line for line in done.stdout.splitlines() if line})


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    said = (done.stderr or done.stdout).strip().splitlines()
    return said[-1] if said else f"exit {done.returncode}"

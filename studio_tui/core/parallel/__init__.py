"""Parallel Builders: git worktrees per task, a dependency-aware scheduler, merges in task order."""

from .scheduler import Scheduler, TaskRunner, TaskSpec, merge_order
from .worktrees import GitError, MergeResult, MergeStrategy, Worktrees, git, repo_root, require_repo

__all__ = [
    "GitError",
    "MergeResult",
    "MergeStrategy",
    "Scheduler",
    "TaskRunner",
    "TaskSpec",
    "Worktrees",
    "git",
    "merge_order",
    "repo_root",
    "require_repo",
]

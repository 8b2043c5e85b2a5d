"""Context budget: the seed's pools, OK/WARNING/CRITICAL, workspace measurement and optimisation steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import safefile
from .errors import StudioError
from .events import PoolSpec
from .state import OrchestrationState

if TYPE_CHECKING:
    from .config import BudgetConfig

BYTES_PER_TOKEN = 4
"""The usual estimate for English text and code under BPE tokenizers; good enough to steer a budget."""

RECENT_LEARNINGS_KEPT = 2
"""Learnings files (newest by name) that optimisation never summarises or archives: the freshest lessons."""


def estimate_tokens(n_bytes: int) -> int:
    """Tokens for a file of `n_bytes`, by the 4-bytes-a-token estimate (rounded up)."""
    return -(-n_bytes // BYTES_PER_TOKEN)


def _file_tokens(path: Path) -> int:
    try:
        return estimate_tokens(path.stat().st_size)
    except OSError:
        return 0


def learnings_files(learnings_dir: Path) -> list[Path]:
    """Loaded learnings files, oldest first (names start with a date or an orchestration id)."""
    if not learnings_dir.is_dir():
        return []
    return sorted(p for p in learnings_dir.glob("*.md") if p.is_file())


def plan_files(tasks_dir: Path) -> list[Path]:
    if not tasks_dir.is_dir():
        return []
    return sorted(tasks_dir.glob("*/plan.json"))


def measure_workspace(root: Path, config: BudgetConfig) -> dict[str, PoolSpec]:
    """Pools at allocation: file-fed pools measured from the workspace, agent-fed ones empty."""
    measured = {
        "reserved": config.reserved_tokens,
        "learnings": sum(_file_tokens(p) for p in learnings_files(root / "learnings")),
        "backlog": _file_tokens(root / "backlog.yaml"),
        "plans": sum(_file_tokens(p) for p in plan_files(root / "tasks")),
    }
    return {name: PoolSpec(used=measured.get(name, 0), soft=soft) for name, soft in config.pools.items()}


def summarize(text: str) -> str:
    """Tier 2 summary of a learnings entry: its headings and the first line under each."""
    kept: list[str] = []
    want_line = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            kept.append(stripped)
            want_line = True
        elif want_line and stripped:
            kept.append(stripped)
            want_line = False
    return "\n".join(kept)


@dataclass(frozen=True)
class OptimizationResult:
    pool: str
    after: int
    detail: str


@dataclass
class OptimizationInputs:
    """What the optimisation steps need besides the state."""

    root: Path
    context7_in_use: int = 0
    """context7 tokens held by the agent running now: those docs are in use and stay."""
    completed_tasks: frozenset[str] = frozenset()
    done_steps: frozenset[str] = frozenset()
    """Steps already applied in this orchestration; the learnings tiers run once each."""
    pruned_tasks: frozenset[str] = frozenset()


def _learnings_split(root: Path) -> tuple[int, int, int]:
    """(tokens of all entries, of the older entries, of the older entries' summaries), from the files."""
    files = learnings_files(root / "learnings")
    old = files[:-RECENT_LEARNINGS_KEPT]
    total = sum(_file_tokens(p) for p in files)
    full_old = summary_old = 0
    for path in old:
        try:
            text = safefile.read_bytes(path, safefile.LEARNINGS, root=root).decode("utf-8", "replace")
        except StudioError:
            continue  # not a regular file, too big, a link out of the workspace: not counted
        full_old += estimate_tokens(len(text.encode()))
        summary_old += estimate_tokens(len(summarize(text).encode()))
    return total, full_old, summary_old


def _summarize_learnings(state: OrchestrationState, inputs: OptimizationInputs) -> OptimizationResult | None:
    """Tier 2: older entries are loaded as summaries; the saving scales the pool by the files' ratios."""
    if "summarize_learnings" in inputs.done_steps:
        return None
    total, full_old, summary_old = _learnings_split(inputs.root)
    used = state.budget.pools["learnings"].used
    if not total or full_old <= summary_old or used <= 0:
        return None
    saved = round(used * (full_old - summary_old) / total)
    old_count = len(learnings_files(inputs.root / "learnings")) - RECENT_LEARNINGS_KEPT
    return OptimizationResult("learnings", used - saved, f"{old_count} older entries summarised (Tier 2)")


def _archive_learnings(state: OrchestrationState, inputs: OptimizationInputs) -> OptimizationResult | None:
    """Tier 3: older entries are no longer loaded at all; only the newest stay."""
    if "archive_learnings" in inputs.done_steps:
        return None
    total, full_old, summary_old = _learnings_split(inputs.root)
    used = state.budget.pools["learnings"].used
    if not total or not full_old or used <= 0:
        return None
    recent = total - full_old
    loaded_old = summary_old if "summarize_learnings" in inputs.done_steps else full_old
    share = loaded_old / (recent + loaded_old)
    saved = round(used * share)
    if saved <= 0:
        return None
    old_count = len(learnings_files(inputs.root / "learnings")) - RECENT_LEARNINGS_KEPT
    return OptimizationResult("learnings", used - saved, f"{old_count} very old entries archived, no longer loaded (Tier 3)")


def _clear_context7(state: OrchestrationState, inputs: OptimizationInputs) -> OptimizationResult | None:
    used = state.budget.pools["context7"].used
    if used <= inputs.context7_in_use:
        return None
    return OptimizationResult("context7", inputs.context7_in_use, f"{used - inputs.context7_in_use} tokens of unused Context7 docs cleared")


def _prune_plans(state: OrchestrationState, inputs: OptimizationInputs) -> OptimizationResult | None:
    done = [
        p for p in plan_files(inputs.root / "tasks") if p.parent.name in inputs.completed_tasks and p.parent.name not in inputs.pruned_tasks
    ]
    saved = sum(_file_tokens(p) for p in done)
    used = state.budget.pools["plans"].used
    if saved <= 0 or used <= 0:
        return None
    names = ", ".join(p.parent.name for p in done)
    return OptimizationResult("plans", max(0, used - saved), f"{len(done)} completed task plan(s) pruned: {names}")


OPTIMIZATION_STEPS: tuple[tuple[str, Callable[[OrchestrationState, OptimizationInputs], OptimizationResult | None]], ...] = (
    ("summarize_learnings", _summarize_learnings),
    ("archive_learnings", _archive_learnings),
    ("clear_context7", _clear_context7),
    ("prune_plans", _prune_plans),
)
"""The seed's optimisation triggers, in the seed's order."""


def pressure(state: OrchestrationState) -> str:
    """The worst level among the total and every pool."""
    budget = state.budget
    levels = {budget.total_level} | {budget.level(p.used, p.soft) for p in budget.pools.values()}
    for level in ("CRITICAL", "WARNING"):
        if level in levels:
            return level
    return "OK"


def budget_table(state: OrchestrationState) -> list[tuple[str, int, int, str]]:
    """Rows of the seed's pool table (name, used, soft, status), TOTAL last with its percentage. The
    status starts with the level; tokens charged by estimate (an agent that reports no usage) follow
    it as "(~N estimated)"."""
    budget = state.budget
    rows = [(name, p.used, p.soft, budget.level(p.used, p.soft) + _estimated(p.estimated)) for name, p in budget.pools.items()]
    used, soft = budget.used, budget.soft
    percent = round(100 * used / soft) if soft else 0
    estimated = sum(p.estimated for p in budget.pools.values())
    rows.append(("TOTAL", used, soft, f"{budget.total_level} ({percent}%)" + _estimated(estimated)))
    return rows


def _estimated(tokens: int) -> str:
    return f" (~{tokens:,} estimated)" if tokens else ""

"""`plan.json` (a Planner's output, a Builder's input) and `backlog.yaml` (epics > features > tasks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import safefile
from .events import FailureCategory
from .loading import load_json_model, load_yaml_model
from .store.workspace import TASK_ID_RE

TaskId = Annotated[str, Field(pattern=TASK_ID_RE.pattern)]
Command = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | Annotated[str, Field(min_length=1)]
"""A list is exec'd as is; a string goes to `sh -c`. Neither may be empty."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanStep(_Strict):
    id: int = Field(ge=1)
    description: str
    command: Command | None = None
    """Run by the plan builder (cwd = project root): a list is exec'd, a string goes to `sh -c`."""
    timeout: float | None = Field(None, gt=0)
    risky: bool = False
    """Checkpoint before this step."""
    critical: bool = False
    """The build cannot go on without it: an escalation offers no skip."""
    on_failure: FailureCategory = "code_error"
    """The category a non-zero exit of this step is reported as."""


class QualityGate(_Strict):
    name: str
    command: Command
    timeout: float | None = Field(None, gt=0)


class Plan(_Strict):
    id: str
    task_id: TaskId
    goal: str = ""
    summary: str = ""
    confidence: float = Field(0.85, ge=0, le=1)
    status: Literal["pending", "in_progress", "completed", "failed"] = "pending"
    requirements: dict[str, Any] = {}
    learnings: list[str] = []
    steps: list[PlanStep] = Field(min_length=1)
    quality_gates: list[QualityGate] = []

    @field_validator("steps")
    @classmethod
    def _ids_in_order(cls, steps: list[PlanStep]) -> list[PlanStep]:
        ids = [s.id for s in steps]
        if ids != list(range(1, len(steps) + 1)):
            raise ValueError(f"step ids must be 1..{len(steps)} in order, got {ids}")
        return steps

    def summary_text(self) -> str:
        """The seed's `plan_summary`: a count line and the numbered steps."""
        headline = self.summary or self.goal
        lines = [f"{len(self.steps)} steps: {headline}" if headline else f"{len(self.steps)} steps"]
        lines += [f"{s.id}. {s.description}" for s in self.steps]
        return "\n".join(lines)


def load_plan(path: Path, *, root: Path | None = None) -> Plan:
    return load_json_model(path, Plan, kind=safefile.PLAN, root=root)


class BacklogTask(_Strict):
    id: TaskId
    title: str
    status: Literal["pending", "in_progress", "completed", "failed", "skipped"] = "pending"
    depends_on: list[str] = []


class Feature(_Strict):
    id: str
    title: str
    tasks: list[BacklogTask] = []


class Epic(_Strict):
    id: str
    title: str
    features: list[Feature] = []


class Backlog(_Strict):
    epics: list[Epic] = []

    def tasks(self) -> list[BacklogTask]:
        return [t for e in self.epics for f in e.features for t in f.tasks]

    def pending(self) -> list[BacklogTask]:
        return [t for t in self.tasks() if t.status in ("pending", "in_progress", "failed")]

    def set_status(self, task_id: str, status: str) -> bool:
        for task in self.tasks():
            if task.id == task_id:
                task.status = status  # type: ignore[assignment]
                return True
        return False


def load_backlog(path: Path, *, root: Path | None = None) -> Backlog:
    if not safefile.exists(path):
        return Backlog()
    return load_yaml_model(path, Backlog, empty_ok=True, kind=safefile.BACKLOG, root=root)

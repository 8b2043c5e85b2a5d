"""`studio-tui init`: a workspace for the project in the current folder, ready to build.

Writes `.studio/config.yaml` (every key with its default, each explained in a comment, rendered from
the config models so no key is ever missing), the agents of the chosen preset, `tasks/`,
`learnings/`, an empty `backlog.yaml`, a small scenario for `--agents scripted`, and, in a git
repository, the per-machine folders in `.gitignore` (appended once).
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .agents.builtin import detect_test_command
from .config import (
    BUILTIN_AGENT_COMMAND,
    AcpAgentConfig,
    CommandAgentConfig,
    GateConfig,
    PlanBuilderConfig,
    ScriptedAgentConfig,
    StudioConfig,
    _Strict,
)
from .errors import InputError
from .presets import ACP_PRESETS, AGENT_CHOICES
from .store import Workspace
from .store.atomic import atomic_write

ROLES = ("planner", "builder", "architect")
WIDTH = 100
"""Comment lines are wrapped to this many columns."""

HEADER = """\
# studio-tui workspace configuration, written by `studio-tui init --agents {agents}`.
# Every key is shown with its default and may be left out; edit what you need.
# `studio-tui doctor` checks that each role's agent can start; docs/acp.md explains ACP agents."""

SECTION_NOTES: dict[str, str] = {
    "budget": "Context budget: the seed's six pools with their soft limits (tokens), and when a pool shows "
    "WARNING or CRITICAL (a fraction of its limit; at CRITICAL the orchestrator optimises first).",
    "recovery": "Recovery: how often a failing agent is retried and replanned before a person is asked.",
    "checkpoints": "Checkpoints: besides those after each agent and before a risky step.",
    "planner": "The Planner's limits: questions to the person, and the confidence below which a plan is "
    "shown to the person before building.",
    "agents": 'Who plays each role: kind scripted | command | plan_builder | acp (README, "Agents").',
    "theme": "Dashboard theme: studio-dark, studio-light or studio-high-contrast.",
}

FIELD_NOTES: dict[str, str] = {
    "budget.pools": "soft limit per pool, in tokens",
    "budget.warning": "a pool or the total at this fraction of its limit shows WARNING",
    "budget.critical": "at this fraction the orchestrator optimises before continuing",
    "recovery.max_retries": "retries of one agent before a replan",
    "recovery.max_replans": "replans before escalating to a person",
    "recovery.max_tries_per_step": "tries of one step, over every retry",
    "planner.max_question_rounds": "questions a Planner may ask the person in one run (at most 5)",
    "recovery.backoff": "seconds before retry n: initial * factor^(n-1), at most max",
    "env": "added to studio-tui's own environment",
    "timeout": "seconds for the whole run",
    "command": "a list is exec'd as is; a string runs through /bin/sh -c",
    "kind": "",
}
"""Comments for keys whose model field has no docstring (a key's own docstring wins)."""

SWAP_NOTE = """\
# To let a real coding agent do the work, give a role an ACP agent (docs/acp.md), for example:
#   builder:
#     kind: acp
#     command: [npx, -y, "@agentclientprotocol/claude-agent-acp"]   # or: [gemini, --acp], [goose, acp], [opencode, acp]
#     timeout: 1800
# `studio-tui init --force --agents claude-code` (codex, gemini, goose, opencode) writes every role that way."""

GITIGNORE_NOTE = "# studio-tui: per-machine run state (runs, logs, checkpoints, the lock)"

SCENARIO: dict[str, Any] = {
    "goal": "Fix the failing test",
    "planner": {
        "steps": [
            {"description": "Read the goal and the project", "duration": 0.2, "tokens": {"working": 1200}},
            {"description": "Write the plan", "duration": 0.2, "tokens": {"plans": 400}},
        ],
        "plan": {
            "id": "bp_scripted",
            "task_id": "scripted_task",
            "summary": "a scripted plan: nothing in the project changes",
            "confidence": 0.9,
            "steps": [
                {"id": 1, "description": "Look at the code"},
                {"id": 2, "description": "Make the change"},
                {"id": 3, "description": "Run the checks"},
            ],
        },
    },
    "builder": {
        "steps": {
            1: {"description": "Look at the code", "duration": 0.2, "tokens": {"working": 800}},
            2: {"description": "Make the change", "duration": 0.2, "tokens": {"working": 1500}},
            3: {"description": "Run the checks", "duration": 0.2, "tokens": {"working": 600}},
        }
    },
    "architect": {
        "steps": [{"description": "Split the goal into tasks", "duration": 0.2, "tokens": {"backlog": 500}}],
        "backlog": {
            "epics": [
                {
                    "id": "E1",
                    "title": "The goal",
                    "features": [{"id": "F1", "title": "The goal", "tasks": [{"id": "T1", "title": "The goal"}]}],
                }
            ]
        },
    },
}
"""What `--agents scripted` plays: every role, a few short steps, no failure; nothing in the project
changes. Edit it to rehearse failures (README, "Agents": outcomes per try)."""

SCENARIO_HEADER = """\
# A scripted rehearsal, written by `studio-tui init --agents scripted`: every role plays a few short
# steps and succeeds; nothing in the project changes. Give a builder step
# `outcomes: [{fail: transient, message: flaky}]` to rehearse a retry (README, "Agents").
"""

BACKLOG_TEXT = """\
# Epics > features > tasks, for run-backlog and decompose_first (README, "The workspace").
epics: []
"""


@dataclass
class InitResult:
    """What init wrote, kept and found."""

    workspace: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    gitignore: Path | None = None
    gitignore_added: list[str] = field(default_factory=list)
    test_command: str | None = None


# ── rendering the config ─────────────────────────────────────────────────


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _comment(text: str, indent: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        joined = " ".join(part.strip() for part in paragraph.splitlines())
        lines += textwrap.wrap(joined, WIDTH - len(indent) - 2, break_on_hyphens=False) or [""]
    return [f"{indent}# {line}".rstrip() for line in lines]


def _note(model: BaseModel, name: str, path: str) -> str:
    info = type(model).model_fields[name]
    if info.description:
        return info.description
    doc = attribute_docs(type(model)).get(name) if isinstance(model, _Strict) else None
    return doc or FIELD_NOTES.get(path, FIELD_NOTES.get(name, ""))


@functools.cache
def attribute_docs(model: type[BaseModel]) -> dict[str, str]:
    """Each field's attribute docstring (`name: T = ...` then a string), from the class that declares the field."""
    docs: dict[str, str] = {}
    for name in model.model_fields:
        owner = next((cls for cls in model.__mro__ if name in inspect.get_annotations(cls)), None)
        if owner is not None:
            doc = _class_docs(owner).get(name)
            if doc is not None:
                docs[name] = doc
    return docs


@functools.cache
def _class_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    statements = body.body if isinstance(body, ast.ClassDef) else []
    docs: dict[str, str] = {}
    for before, statement in itertools.pairwise(statements):
        if (
            isinstance(before, ast.AnnAssign)
            and isinstance(before.target, ast.Name)
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            docs[before.target.id] = inspect.cleandoc(statement.value.value)
    return docs


def _render_model(model: BaseModel, indent: str, path: str) -> list[str]:
    """Every field of `model` with its value, each preceded by its comment."""
    lines: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        note = _note(model, name, f"{path}{name}")
        lines += _render_value(name, value, note, indent, f"{path}{name}")
    return lines


def _render_value(name: str, value: Any, note: str, indent: str, path: str) -> list[str]:
    lines = _comment(note, indent) if note else []
    if isinstance(value, BaseModel):
        return [*lines, f"{indent}{name}:", *_render_model(value, indent + "  ", f"{path}.")]
    if isinstance(value, str) and "\n" in value:
        # A long text default (an ACP prompt): left to the code, so a newer default reaches this workspace.
        return [*lines, f"{indent}# {name}: (the built-in text; write your own to replace it)"]
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        lines.append(f"{indent}{name}:")
        for item in value:
            lines.append(f"{indent}  - {_scalar(item.model_dump(mode='json', exclude_defaults=True))}")
        return lines
    if isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values()) and len(value) > 3:
        lines.append(f"{indent}{name}:")
        lines += [f"{indent}  {_scalar(key)}: {_scalar(item)}" for key, item in value.items()]
        return lines
    return [*lines, f"{indent}{name}: {_scalar(value)}"]


def _agents(choice: str, test_command: str | None) -> dict[str, Any]:
    """The agent config of each role for a preset."""
    if choice in ACP_PRESETS:
        command = list(ACP_PRESETS[choice].command)
        return {role: AcpAgentConfig(kind="acp", command=command) for role in ROLES}
    if choice == "scripted":
        return {role: ScriptedAgentConfig(kind="scripted") for role in ROLES}
    planner_command = list(BUILTIN_AGENT_COMMAND) + (["--test-command", test_command] if test_command else [])
    gates = [GateConfig(name="tests", command=test_command)] if test_command else []
    return {
        "planner": CommandAgentConfig(kind="command", command=planner_command),
        "builder": PlanBuilderConfig(kind="plan_builder", quality_gates=gates),
        "architect": CommandAgentConfig(kind="command", command=list(BUILTIN_AGENT_COMMAND)),
    }


ROLE_NOTES: dict[str, dict[str, str]] = {
    "command": {
        "planner": "The built-in planner (`studio-tui agent`, the command agent protocol): writes a plan whose quality "
        "gate is the project's test command; it changes no code.",
        "builder": "The built-in plan builder: runs the plan's step commands, then its quality gates; with no plan "
        "(a fix goal routes straight to the builder) it runs the quality_gates below.",
        "architect": "The built-in architect: adds the goal to backlog.yaml as one task.",
    },
    "scripted": dict.fromkeys(ROLES, "Plays its part of scenario.yaml (a rehearsal: nothing in the project changes)."),
}


def render_config(choice: str, test_command: str | None = None) -> str:
    """config.yaml for an `--agents` choice: every key, its default (or the preset's value), comments."""
    if choice not in AGENT_CHOICES:
        raise InputError(f"--agents must be one of {', '.join(AGENT_CHOICES)}, got {choice!r}")
    config = StudioConfig(agents=_agents(choice, test_command))
    lines = HEADER.format(agents=choice).splitlines()
    for name in StudioConfig.model_fields:
        lines.append("")
        if name in SECTION_NOTES:
            lines += _comment(SECTION_NOTES[name], "")
        value = getattr(config, name)
        if name != "agents":
            if isinstance(value, BaseModel):
                lines.append(f"{name}:")
                lines += _render_model(value, "  ", f"{name}.")
            else:
                lines.append(f"{name}: {_scalar(value)}")
            continue
        if choice in ACP_PRESETS:
            preset = ACP_PRESETS[choice]
            lines += _comment(
                f"{preset.title}: `{' '.join(preset.command)}` (checked in {preset.source}). To install: "
                f"{preset.install}; to sign in: {preset.sign_in}.",
                "",
            )
        lines.append("agents:")
        for role in ROLES:
            note = ROLE_NOTES.get(choice, {}).get(role)
            if note:
                lines += _comment(note, "  ")
            lines.append(f"  {role}:")
            lines += _render_model(value[role], "    ", "")
        if choice == "command":
            lines += SWAP_NOTE.splitlines()
    return "\n".join(lines) + "\n"


# ── the rest of the workspace ────────────────────────────────────────────


def git_toplevel(folder: Path) -> Path | None:
    """The git work tree `folder` is in, or None (not a repository, or git is not installed)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return Path(done.stdout.strip())


def ignore_lines(workspace: Workspace) -> list[str]:
    """The per-machine paths of the workspace, anchored at the project root's .gitignore."""
    rel = workspace.root.relative_to(workspace.project_root).as_posix()
    return [f"/{rel}/orchestration/", f"/{rel}/sessions/", f"/{rel}/lock"]


def _ignored(existing: list[str], line: str) -> bool:
    stripped = {entry.strip() for entry in existing}
    bare = line.lstrip("/")
    return any(candidate in stripped for candidate in (line, bare, line.rstrip("/"), bare.rstrip("/")))


def update_gitignore(path: Path, lines: list[str]) -> list[str]:
    """Append the lines `path` lacks (once: a second run adds nothing); the lines added."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it to add studio-tui's entries: {exc}") from None
    existing = text.splitlines()
    missing = [line for line in lines if not _ignored(existing, line)]
    if not missing:
        return []
    prefix = "" if not text or text.endswith("\n") else "\n"
    block = ([GITIGNORE_NOTE] if GITIGNORE_NOTE not in existing else []) + missing
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(prefix + ("\n" if text.strip() else "") + "\n".join(block) + "\n")
    return missing


def init_workspace(workspace: Workspace, choice: str, *, force: bool = False) -> InitResult:
    """Write the workspace for `choice`; refuse (InputError naming the files) to overwrite without force."""
    if choice not in AGENT_CHOICES:
        raise InputError(f"--agents must be one of {', '.join(AGENT_CHOICES)}, got {choice!r}")
    root = workspace.root
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    project = workspace.project_root
    if not project.is_dir():
        raise InputError(f"{project}: no such folder (the project root is the workspace's parent)")
    scenario_path = root / "scenario.yaml"
    owned = [workspace.config_path] + ([scenario_path] if choice == "scripted" else [])
    taken = [path for path in owned if path.exists()]
    if taken and not force:
        names = ", ".join(str(path) for path in taken)
        raise InputError(f"{names} already exist{'s' if len(taken) == 1 else ''}: pass --force to overwrite")
    test_command = detect_test_command(project) if choice == "command" else None
    config_text = render_config(choice, test_command)
    result = InitResult(workspace=root, test_command=test_command)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(workspace.config_path, config_text)
    result.written.append(workspace.config_path)
    if choice == "scripted":
        atomic_write(scenario_path, SCENARIO_HEADER + yaml.safe_dump(SCENARIO, sort_keys=False, allow_unicode=True))
        result.written.append(scenario_path)
    for folder in (workspace.tasks_dir, workspace.learnings_dir):
        if folder.is_dir():
            result.kept.append(folder)
        else:
            folder.mkdir(parents=True)
            result.written.append(folder)
    if workspace.backlog_path.exists():
        result.kept.append(workspace.backlog_path)
    else:
        atomic_write(workspace.backlog_path, BACKLOG_TEXT)
        result.written.append(workspace.backlog_path)
    if git_toplevel(project) is not None:
        result.gitignore = project / ".gitignore"
        result.gitignore_added = update_gitignore(result.gitignore, ignore_lines(workspace))
    return result

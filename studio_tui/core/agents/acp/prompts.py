"""What an ACP agent is told: its role prompt, the role's instructions, and the follow-up prompts of
a session (a question answered, a file that did not validate, the next plan step, a failed gate)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ...plan import PlanStep, QualityGate
from ..base import AgentTask, Failure
from ..process import describe_command

DETAILS_MAX_CHARS = 4000
"""Characters of a failure's details (the end of them) put in a prompt: the tail is where the error is."""

PLANNER_INSTRUCTIONS = """\
Your job is a plan, not the code. Write it as JSON to this exact path:
{output_path}
(create the folders if needed). The format (docs/plan-format.md; unknown fields are an error):
{{
  "id": "a plan id, e.g. bp_1",
  "task_id": "{task_id}",
  "goal": "the goal, shown to the person",
  "summary": "one line",
  "confidence": 0.85,
  "steps": [
    {{"id": 1, "description": "what the step does", "command": "optional: a shell command, or an argv list",
     "risky": false, "critical": false}}
  ],
  "quality_gates": [{{"name": "tests", "command": "the command that proves the work (e.g. the test suite)"}}]
}}
`task_id` must be "{task_id}". Step ids are 1, 2, 3 ... in order, at least one step. `risky` takes a
checkpoint first; `critical` means the build cannot go on without the step. The quality gates are
run by studio-tui after the build, each must exit 0.
If you need an answer from the person before you can plan, ask ONE question as the last line of your
message, ending with "?", and end your turn without writing the plan: the answer comes back as the
next prompt. studio-tui checks the file when your turn ends and tells you what to fix.
"""

ARCHITECT_INSTRUCTIONS = """\
Your job is a backlog, not the code. Decompose the goal into epics, features and tasks, and write
them as YAML to this exact path:
{output_path}
The format (unknown fields are an error):
epics:
  - id: E1
    title: the epic
    features:
      - id: F1
        title: the feature
        tasks:
          - id: T1
            title: a task one builder can finish
            depends_on: []
Task ids are letters, digits, "_" and "-" (at most 64), each unique; at least one task. Each task is
then planned and built in order. If you need an answer from the person first, ask ONE question as
the last line of your message, ending with "?", and end your turn without writing the file.
studio-tui checks the file when your turn ends and tells you what to fix.
"""

RESUMED = "studio-tui continues this session after an interruption (attempt {attempt}): carry on.\n"

BUILDER_INSTRUCTIONS = """\
You are executing the plan {plan_path} one step at a time: each step arrives as its own prompt in
this session. Do that step only, then end your turn with a short summary. When every step is done,
studio-tui runs the plan's quality gates itself; a gate that fails comes back to you with its output
to fix.
"""


def render_prompt(template: str, task: AgentTask, *, output_path: Path | None = None) -> str:
    """The role prompt: `template` with its placeholders (config.ACP_PROMPT_PLACEHOLDERS) filled in."""
    plan = ""
    if task.plan_path is not None:
        with contextlib.suppress(OSError):
            plan = task.plan_path.read_text(encoding="utf-8", errors="replace")
    values = {
        "goal": task.goal,
        "role": task.role,
        "mode": task.mode,
        "task_id": task.task_id or "",
        "attempt": task.attempt,
        "context": json.dumps(task.context, indent=2, ensure_ascii=False, default=str),
        "project_root": str(task.project_root),
        "plan_path": str(task.plan_path) if task.plan_path is not None else "",
        "plan": plan,
        "output_path": str(output_path) if output_path is not None else "",
        "answers": answers_text(task),
        "failure": failure_text(task),
        "completed_steps": ", ".join(str(step) for step in sorted(task.completed_steps)),
    }
    return template.format_map(values)


def default_instructions(role: str, has_plan: bool) -> str:
    """The built-in instructions for a role ("" when the role needs none)."""
    if role == "planner":
        return PLANNER_INSTRUCTIONS
    if role == "architect":
        return ARCHITECT_INSTRUCTIONS
    if role == "builder" and has_plan:
        return BUILDER_INSTRUCTIONS
    return ""


def first_prompt(template: str, instructions: str, task: AgentTask, *, output_path: Path | None, resumed: bool) -> str:
    """The session's first prompt. A continued session (the agent loaded its own) already holds the
    goal and the context: it gets what changed (the failure) and the instructions again."""
    if resumed:
        template = "{failure}" if task.failure is not None else RESUMED
    prompt = render_prompt(template, task, output_path=output_path)
    if not instructions:
        return prompt
    return f"{prompt.rstrip()}\n\n{render_prompt(instructions, task, output_path=output_path).strip()}\n".lstrip()


def answers_text(task: AgentTask) -> str:
    if not task.answers:
        return ""
    lines = ["", "The person's answers to your questions so far:"]
    for question, answer in task.answers:
        lines += [f"Q: {question}", f"A: {answer or '(no answer)'}"]
    return "\n".join(lines) + "\n"


def failure_text(task: AgentTask) -> str:
    """On a retry or a replan: the attempt, the failure that led to it and the steps already done."""
    if task.failure is None:
        return ""
    failure = task.failure
    lines = [""]
    if task.mode == "replan":
        lines.append(f"This is a replan (attempt {task.attempt}): the build of the previous plan failed.")
    else:
        lines.append(f"This is attempt {task.attempt}: the previous attempt failed.")
    lines += [f"Failure category: {failure.category}", f"Failure: {failure.message}"]
    if failure.step is not None:
        lines.append(f"Failed step: {failure.step}")
    done = sorted(task.completed_steps) or task.context.get("completed_steps") or []
    lines.append(f"Steps already completed: {', '.join(str(s) for s in done) if done else 'none'}")
    if failure.details:
        lines += ["Details (the end):", _tail(failure.details)]
    if task.mode == "replan":
        lines.append(
            "Write a new plan that avoids the failure. The completed steps are not run again: keep them as "
            "the new plan's first steps, with the same ids, and change the steps after them."
        )
    else:
        lines.append("Fix the cause; do not redo the completed steps.")
    return "\n".join(lines) + "\n"


def answer_prompt(answer: str, role: str) -> str:
    """The person's answer to the agent's question, as the next prompt."""
    what = "backlog" if role == "architect" else "plan"
    if not answer.strip():
        return f"No answer: no more questions can be asked. Make reasonable assumptions, say which, and write the {what} now.\n"
    return f"The person answered:\n{answer}\n\nContinue; write the {what} when you have what you need.\n"


def fix_prompt(error: str, path: Path, attempt: int, attempts: int) -> str:
    """A file that did not validate, sent back in the same session."""
    return (
        f"{path} is not valid yet (check {attempt} of {attempts}):\n{_tail(error)}\n\n"
        f"Fix it: write the whole file again to {path}, then end your turn.\n"
    )


def step_prompt(step: PlanStep, total: int) -> str:
    lines = [f"Step {step.id} of {total}: {step.description}"]
    if step.command is not None:
        lines.append(f"The plan suggests running: {describe_command(step.command)}")
    lines.append("Do this step only, then end your turn with a short summary.")
    return "\n".join(lines) + "\n"


def gate_prompt(failure: Failure, gates: list[QualityGate]) -> str:
    """A failing quality gate, sent back to the builder in the same session ("retry with fix")."""
    names = ", ".join(gate.name for gate in gates)
    return (
        f"studio-tui ran the quality gates ({names}) and one failed: {failure.message}\n"
        f"Its output (the end):\n{_tail(failure.details) or '(no output)'}\n\n"
        "Fix the cause, then end your turn; the gates run again.\n"
    )


def _tail(text: str) -> str:
    return text if len(text) <= DETAILS_MAX_CHARS else "… " + text[-DETAILS_MAX_CHARS:]

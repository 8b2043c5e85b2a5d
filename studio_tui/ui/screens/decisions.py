"""Modal questions from the orchestrator: escalation, routing, the Planner's questions, anything with options.

Each dismisses with the answer string the orchestrator expects; none can be closed without one.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from studio_tui.core.decider import DecisionRequest
from studio_tui.ui import fmt

ESCALATION_LABELS = {
    "retry": ("r", "Retry with different approach"),
    "skip": ("s", "Skip this step"),
    "abort": ("a", "Abort and review plan"),
}
ROUTING_LABELS = {"proceed": ("p", "Proceed"), "cancel": ("c", "Cancel the build")}


def facts(rows: list[tuple[str, Any]], label_style: str = "bold") -> Text:
    """`Label  value` lines; values are literal text from the orchestrator or an agent."""
    width = max((len(label) for label, _ in rows), default=0) + 2
    text = Text()
    for index, (label, value) in enumerate(rows):
        if index:
            text.append("\n")
        text.append(label.ljust(width), label_style)
        text.append(fmt.literal(value, max_chars=1000))
    return text


class DecisionScreen(ModalScreen[str]):
    """Base for the orchestrator's questions: a titled box, facts, and one button per answer."""

    KIND_TITLE = "Decision"

    def __init__(self, request: DecisionRequest) -> None:
        super().__init__()
        self.request = request

    def title_text(self) -> str:
        return self.KIND_TITLE

    def body(self) -> ComposeResult:
        yield Static(Text(fmt.literal(self.request.prompt, max_chars=1000), "bold"), classes="prompt")

    def answers(self) -> list[tuple[str, str, str]]:
        """(answer, key, label) for each button."""
        return []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text()
            with VerticalScroll(classes="dialog-body"):
                yield from self.body()
            with Vertical(classes="choices"):
                for answer, key, label in self.answers():
                    yield Button(Text(f"[{key}] {label}"), id=f"answer-{answer}", classes="choice", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        buttons = self.query(Button)
        if buttons:
            buttons.first().focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """An answer the request does not offer (skip on a critical step) has no key and no footer entry."""
        return not (action == "answer" and parameters and parameters[0] not in self.request.options)

    def action_answer(self, answer: str) -> None:
        if answer in self.request.options:
            self.dismiss(answer)

    @on(Button.Pressed, ".choice")
    def _chosen(self, event: Button.Pressed) -> None:
        event.stop()
        assert event.button.id is not None
        self.dismiss(event.button.id.removeprefix("answer-"))


class EscalationScreen(DecisionScreen):
    """A build failure only a person can resolve: retry, skip (when the step is not critical) or abort."""

    KIND_TITLE = "⚠ Escalation: the build needs you"
    BINDINGS = [
        Binding("r", "answer('retry')", "Retry", id="escalation.retry", tooltip="Run the agent again with a different approach"),
        Binding("s", "answer('skip')", "Skip step", id="escalation.skip", tooltip="Skip the failed step (not offered for critical steps)"),
        Binding("a", "answer('abort')", "Abort", id="escalation.abort", tooltip="Stop the build and review the plan"),
    ]

    def answers(self) -> list[tuple[str, str, str]]:
        return [(o, *ESCALATION_LABELS[o]) for o in self.request.options if o in ESCALATION_LABELS]

    def body(self) -> ComposeResult:
        details = self.request.details
        step = details.get("step")
        critical = " (critical: cannot be skipped)" if details.get("critical_step") else ""
        yield Static(Text(fmt.literal(self.request.prompt), "bold"), classes="prompt")
        rows: list[tuple[str, Any]] = [
            ("Last error", details.get("last_error", "")),
            ("Agent", details.get("agent", self.request.agent or "")),
            ("Step", f"{step}{critical}" if step is not None else "-"),
            ("Category", details.get("category", "")),
        ]
        if details.get("conflicts"):
            rows.append(("Conflicts", ", ".join(str(path) for path in details["conflicts"])))
        if details.get("reason"):
            rows.append(("Why", details["reason"]))
        yield Static(facts(rows), classes="facts")


class RoutingScreen(DecisionScreen):
    """Explicit mode: the route the orchestrator picked, and the signals that decided it."""

    KIND_TITLE = "Routing: proceed with this plan of work?"
    BINDINGS = [
        Binding("p,y", "answer('proceed')", "Proceed", id="routing.proceed", tooltip="Run the routed workflow"),
        Binding("c,n", "answer('cancel')", "Cancel", id="routing.cancel", tooltip="Cancel the build before anything runs"),
    ]

    def answers(self) -> list[tuple[str, str, str]]:
        return [(o, *ROUTING_LABELS[o]) for o in self.request.options if o in ROUTING_LABELS]

    def body(self) -> ComposeResult:
        details = self.request.details
        yield Static(Text(fmt.literal(self.request.prompt), "bold"), classes="prompt")
        signals = details.get("signals") or []
        confidence = details.get("confidence")
        rows: list[tuple[str, Any]] = [
            ("Workflow", f"{details.get('workflow', '?')} ({details.get('complexity', '?')})"),
            ("Agents", " → ".join(str(a) for a in details.get("agents", [])) or "-"),
            ("Confidence", fmt.percent(float(confidence)) if isinstance(confidence, (int, float)) else "-"),
            ("Signals", "; ".join(str(s) for s in signals) or "none: no signal word matched"),
        ]
        yield Static(facts(rows), classes="facts")


class QuestionScreen(DecisionScreen):
    """A Planner's question: free text; an empty answer takes the stated default."""

    KIND_TITLE = "Question from the planner"
    BINDINGS = [
        Binding("escape", "use_default", "Use default", id="question.default", tooltip="Answer with the planner's default"),
    ]

    def title_text(self) -> str:
        details = self.request.details
        agent = fmt.literal(self.request.agent or "planner", max_chars=30)
        rounds = f" (round {details.get('round', '?')} of {details.get('max_rounds', '?')})" if details.get("round") else ""
        return f"{agent} asks{rounds}"

    def body(self) -> ComposeResult:
        yield Static(Text(fmt.literal(self.request.prompt, max_chars=1000), "bold"), classes="prompt")
        default = self.request.default
        hint = f"Enter sends · empty answer or Esc uses the default: {fmt.literal(default)}" if default else "Enter sends"
        yield Input(placeholder=fmt.literal(default) or "your answer", id="answer")
        yield Static(Text(hint), classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted, "#answer")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or self.request.default)

    def action_use_default(self) -> None:
        self.dismiss(self.request.default)


class ConfidenceScreen(DecisionScreen):
    """The plan's confidence is under the threshold: build it anyway, or stop."""

    KIND_TITLE = "Low plan confidence"
    BINDINGS = [
        Binding("p,y", "answer('proceed')", "Build anyway", id="confidence.proceed", tooltip="Build the plan despite its low confidence"),
        Binding("a,n", "answer('abort')", "Abort", id="confidence.abort", tooltip="Stop before building and review the plan"),
    ]

    def answers(self) -> list[tuple[str, str, str]]:
        labels = {"proceed": ("p", "Build it anyway"), "abort": ("a", "Abort and review the plan")}
        return [(o, *labels[o]) for o in self.request.options if o in labels]

    def body(self) -> ComposeResult:
        details = self.request.details

        def share(key: str) -> str:
            value = details.get(key)
            return fmt.percent(float(value)) if isinstance(value, (int, float)) else "-"

        yield Static(Text(fmt.literal(self.request.prompt), "bold"), classes="prompt")
        rows: list[tuple[str, Any]] = [
            ("Plan", details.get("plan_id", "-")),
            ("Confidence", share("confidence")),
            ("Threshold", share("threshold")),
        ]
        if details.get("summary"):
            rows.append(("Summary", details["summary"]))
        yield Static(facts(rows), classes="facts")


class ChoiceScreen(DecisionScreen):
    """Any other decision with options (permissions, kinds to come): number keys or the buttons."""

    BINDINGS = [
        Binding(str(n), f"pick({n})", f"Option {n}", show=False, id=f"choice.{n}", tooltip=f"Choose option {n}") for n in range(1, 10)
    ]

    def title_text(self) -> str:
        titles = {"permission": "Permission requested"}
        return titles.get(self.request.kind, f"Decision: {fmt.literal(self.request.kind, max_chars=30)}")

    def answers(self) -> list[tuple[str, str, str]]:
        """Options by the names the agent gave them (a permission's `details.options`), else by their ids."""
        offered = self.request.details.get("options", [])
        names = {str(o.get("id")): str(o.get("name") or o.get("id")) for o in offered if isinstance(o, dict)}
        names.setdefault("cancelled", "Cancel")
        return [
            (option, str(number), fmt.literal(names.get(option, option.replace("_", " ").capitalize()), max_chars=80))
            for number, option in enumerate(self.request.options[:9], start=1)
        ]

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.request.options):
            self.dismiss(self.request.options[number - 1])

    def body(self) -> ComposeResult:
        yield Static(Text(fmt.literal(self.request.prompt, max_chars=1000), "bold"), classes="prompt")
        rows = [(str(k).replace("_", " ").capitalize(), v) for k, v in self.request.details.items() if not isinstance(v, (dict, list))]
        if rows:
            yield Static(facts(rows), classes="facts")


def decision_screen(request: DecisionRequest) -> DecisionScreen:
    """The modal for a request, by its kind."""
    if request.kind == "escalation":
        return EscalationScreen(request)
    if request.kind == "routing":
        return RoutingScreen(request)
    if request.kind == "confidence" and set(request.options) <= {"proceed", "abort"}:
        return ConfidenceScreen(request)
    if request.kind == "question" or not request.options:
        return QuestionScreen(request)
    if request.kind == "permission":
        from .permission import PermissionScreen

        return PermissionScreen(request)
    return ChoiceScreen(request)

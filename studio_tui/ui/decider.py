"""The TUI's Decider: a question from the orchestrator becomes a message; the app answers it with a modal."""

from __future__ import annotations

import asyncio

from textual.message import Message
from textual.message_pump import MessagePump

from studio_tui.core.decider import Answer, DecisionRequest


class DecisionNeeded(Message):
    """Show a modal for `request` and resolve `answer` with the person's choice."""

    def __init__(self, request: DecisionRequest, answer: asyncio.Future[str]) -> None:
        super().__init__()
        self.request = request
        self.answer = answer


class DecisionWithdrawn(Message):
    """The run stopped while its question was open (quit, cancel): close the modal."""

    def __init__(self, decision_id: str) -> None:
        super().__init__()
        self.decision_id = decision_id


class TuiDecider:
    """Runs in the orchestrator's worker: posts the question to the app and waits for the answer."""

    def __init__(self, target: MessagePump) -> None:
        self.target = target

    async def decide(self, request: DecisionRequest) -> Answer:
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.target.post_message(DecisionNeeded(request, answer))
        try:
            value = await answer
        except asyncio.CancelledError:
            self.target.post_message(DecisionWithdrawn(request.id))
            raise
        return Answer(value, "person")

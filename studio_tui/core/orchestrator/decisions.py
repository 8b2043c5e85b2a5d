"""Asking the person (or the policy) a question, recorded in the log with who answered."""

from __future__ import annotations

import asyncio
from typing import Any

from .. import events as ev
from ..decider import PERMISSION_CANCELLED, DecisionRequest
from .base import OrchestratorBase


class Decisions(OrchestratorBase):
    async def _ask(
        self,
        kind: str,
        prompt: str,
        *,
        agent: str | None = None,
        options: tuple[str, ...] = (),
        details: dict[str, Any] | None = None,
        default: str = "",
    ) -> str:
        decision_id = f"d{self.state.seq + 1}"
        details = details or {}
        self.emit(
            ev.DecisionRequested, decision_id=decision_id, kind=kind, agent=agent, prompt=prompt, details=details, options=list(options)
        )
        request = DecisionRequest(id=decision_id, kind=kind, prompt=prompt, agent=agent, options=options, details=details, default=default)  # type: ignore[arg-type]
        try:
            answer = await self.decider.decide(request)
        except asyncio.CancelledError:
            # Withdrawn (abort, skip, Ctrl-C): close the question in the log so no state stays waiting.
            withdrawn = PERMISSION_CANCELLED if kind == "permission" else "withdrawn"
            self.emit(ev.DecisionAnswered, decision_id=decision_id, kind=kind, answer=withdrawn, by="policy")
            raise
        self._answered_by = "the person" if answer.by == "person" else "policy"
        value = answer.value
        if options and value not in options:
            value = options[-1]
        self.emit(ev.DecisionAnswered, decision_id=decision_id, kind=kind, answer=value, by=answer.by, reason=getattr(answer, "reason", ""))
        return value

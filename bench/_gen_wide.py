"""A second benchmark log with another shape than `_gen.py`'s, so nothing is tuned to one shape.

Wide and heavy instead of long and chatty: thousands of agents (a planner and a builder per task),
multi-KB unicode lines (CJK, accents, emoji in agent output and failure details), a checkpoint after
most steps (thousands of them), thousands of failures, crashes that tear the line being written and
are resumed (each `resumed` line carries the whole state: the later ones are over 1 MB), and a torn
last line. Deterministic (seeded), written with the real event models and `encode`.

    python bench/_gen_wide.py [EVENTS] [PATH]     # writes the log and prints a JSON summary
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import cache_log

from studio_tui.core import events as ev
from studio_tui.core.reducer import apply
from studio_tui.core.state import OrchestrationState

SEED = 20261130
START_TS = 1_796_000_000.0
ORCH_ID = "orch_20261130_120000_wide"
RESUMES = 20
"""Crashes (a torn line) each followed by a `resumed` event carrying the state at that point."""

EVENTS_PER_AGENT = 330
"""About 3,000 agents in 1M events."""

POOLS = {"reserved": 300_000, "learnings": 200_000, "plans": 300_000, "context7": 250_000, "working": 900_000}
WORDS = (
    "données",
    "requête",
    "schéma",
    "déploiement",
    "naïve",
    "façade",
    "Straße",
    "Größe",
    "über",
    "数据库",
    "迁移",
    "测试",
    "服务",
    "接口",
    "日志",
    "配置",
    "缓存",
    "队列",
    "テスト",
    "サーバー",
    "設定",
    "移行",
    "エラー",
    "データ",
    "проверка",
    "сервис",
    "ошибка",
    "данные",
    "ελέγχος",
    "σφάλμα",
    "מבחן",
    "اختبار",
    "🚀",
    "✅",
    "❌",
    "🔥",
    "📦",
    "⚠️",
    "🧪",
    "🛠️",
    "assert",
    "response",
    "status_code",
    "traceback",
    "line",
    "module",
    "expected",
    "got",
)


def _prose(rng: random.Random, low: int, high: int) -> str:
    """Unicode text of `low` to `high` characters."""
    target = rng.randint(low, high)
    words: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


class _Emitter:
    """Numbers events, moves the clock, folds every event (for the `resumed` snapshots) and writes lines."""

    def __init__(self, handle: Any, total: int, rng: random.Random) -> None:
        self.handle = handle
        self.total = total
        self.rng = rng
        self.seq = 0
        self.ts = START_TS
        self.state = OrchestrationState()
        self.counts: Counter[str] = Counter()
        self.resume_at = [total * (i + 1) // (RESUMES + 1) for i in range(RESUMES)]
        self.checkpoints: list[str] = []

    @property
    def room(self) -> int:
        return self.total - 1 - self.seq

    def emit(self, cls: type[ev._Event], gap: float | None = None, **fields: Any) -> ev._Event:
        self.ts += self.rng.expovariate(1 / 0.05) if gap is None else gap
        self.seq += 1
        event = cls(seq=self.seq, ts=round(self.ts, 3), orch_id=ORCH_ID, **fields)
        line = ev.encode(event)
        self.handle.write(line + "\n")
        self.counts[event.type] += 1  # type: ignore[attr-defined]
        apply(self.state, event)
        if self.resume_at and self.seq >= self.resume_at[0] and self.room > 100:
            self.resume_at.pop(0)
            self._crash_and_resume()
        return event

    def _crash_and_resume(self) -> None:
        """A crash tears the line being written; the resume starts a new line with the whole state."""
        torn = ev.encode(ev.AgentLog(seq=self.seq + 1, ts=self.ts, orch_id=ORCH_ID, agent="builder", message=_prose(self.rng, 200, 800)))
        self.handle.write(torn[: len(torn) // 2] + "\n")
        self.counts["torn"] += 1
        checkpoint = self.checkpoints[-1] if self.checkpoints else "cp_start"
        snapshot = self.state.to_dict()
        self.emit(ev.Resumed, gap=self.rng.uniform(30, 300), checkpoint_id=checkpoint, snapshot=snapshot)
        self.emit(ev.StatusChanged, status="executing", reason="resumed")


def _run_agent(out: _Emitter, rng: random.Random, key: str, role: str, task_id: str, budget: int) -> None:
    steps = rng.randint(6, 14)
    out.emit(
        ev.AgentStarted,
        agent=key,
        role=role,
        attempt=1,
        task_id=task_id,
        total_steps=steps,
        input={"task_id": task_id, "brief": _prose(rng, 100, 400)},
    )
    per_step = max(4, budget // steps)
    attempt = 1
    for step in range(1, steps + 1):
        if out.room <= 60:
            break
        out.emit(ev.AgentStep, agent=key, step=step, total=steps, description=_prose(rng, 20, 60), status="started")
        for _ in range(per_step - 4):
            if out.room <= 60:
                break
            if rng.random() < 0.05:
                out.emit(ev.TokensUsed, agent=key, pool="working", tokens=rng.randint(50, 400))
            else:
                level = rng.choice(("info", "info", "info", "warning", "debug"))
                out.emit(ev.AgentLog, agent=key, level=level, message=_prose(rng, 300, 1500))
        if rng.random() < 0.12:
            category = rng.choice(("transient", "code_error", "design_flaw", "blocker"))
            out.emit(ev.AgentFailed, agent=key, step=step, category=category, message=_prose(rng, 60, 200), details=_prose(rng, 1000, 3000))
            action = "escalate" if category == "blocker" else "replan" if category == "design_flaw" else "retry"
            out.emit(
                ev.RecoveryDecided, agent=key, step=step, category=category, action=action, retries_used=attempt, reason=_prose(rng, 20, 80)
            )
            if action == "escalate":
                decision_id = f"d{out.seq + 1}"
                out.emit(
                    ev.DecisionRequested,
                    decision_id=decision_id,
                    kind="escalation",
                    agent=key,
                    prompt=_prose(rng, 40, 120),
                    details={"step": step},
                    options=["retry", "skip", "abort"],
                )
                out.emit(ev.DecisionAnswered, gap=rng.uniform(20, 400), decision_id=decision_id, kind="escalation", answer="retry")
            attempt += 1
            out.emit(ev.AgentStarted, agent=key, role=role, attempt=attempt, task_id=task_id, total_steps=steps)
        out.emit(ev.AgentStep, agent=key, step=step, status="completed")
        if rng.random() < 0.6:
            checkpoint_id = f"cp_{out.seq}"
            out.checkpoints.append(checkpoint_id)
            out.emit(ev.CheckpointSaved, checkpoint_id=checkpoint_id, name=f"{key}_step_{step}", after_agent=key, reason="progress")
    out.emit(ev.AgentCompleted, agent=key, output={"task_id": task_id, "summary": _prose(rng, 100, 300)})


def generate(path: Path, total: int = 1_000_000, seed: int = SEED) -> dict[str, Any]:
    """Write `total` events (plus torn lines) to `path`, the last line torn; return a summary."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as handle:
        out = _Emitter(handle, total, rng)
        out.emit(
            ev.OrchestrationStarted,
            goal="Port every service to the new platform — 全部迁移 🚀",
            mode="explicit",
            workspace="/srv/big/.studio",
        )
        out.emit(
            ev.RoutingDecided,
            workflow="decompose_first",
            complexity="complex",
            confidence=0.64,
            reason="many tasks",
            sequence=[ev.SlotSpec(key="architect", agent="architect")],
        )
        out.emit(ev.BudgetAllocated, pools={name: ev.PoolSpec(used=0, soft=soft) for name, soft in POOLS.items()})
        out.emit(ev.StatusChanged, status="executing")
        _run_agent(out, rng, "architect", "architect", "arch", EVENTS_PER_AGENT)
        task = 0
        while out.room > 200:
            task += 1
            task_id = f"T{task}"
            out.emit(
                ev.SequenceExtended,
                sequence=[
                    ev.SlotSpec(key=f"planner:{task_id}", agent="planner", task_id=task_id),
                    ev.SlotSpec(key=f"builder:{task_id}", agent="builder", task_id=task_id),
                ],
            )
            _run_agent(out, rng, f"planner:{task_id}", "planner", task_id, EVENTS_PER_AGENT // 3)
            out.emit(
                ev.HandoffRecorded,
                from_agent=f"planner:{task_id}",
                to_agent=f"builder:{task_id}",
                context={"task_id": task_id, "plan": _prose(rng, 200, 600)},
                tokens=rng.randint(500, 3000),
            )
            _run_agent(out, rng, f"builder:{task_id}", "builder", task_id, EVENTS_PER_AGENT * 5 // 3)
        while out.room > 0:
            out.emit(ev.AgentLog, agent="orchestrator", message=_prose(rng, 50, 200))
        out.emit(ev.OrchestrationFinished, status="completed", summary=f"{task} tasks ported")
        torn = ev.encode(ev.AgentLog(seq=out.seq + 1, ts=out.ts, orch_id=ORCH_ID, agent="orchestrator", message=_prose(rng, 100, 300)))
        handle.write(torn[: len(torn) // 3])  # the torn last line: no newline
    return {
        "events": out.seq,
        "bytes": path.stat().st_size,
        "tasks": task,
        "agents": len(out.state.agent_states),
        "checkpoints": len(out.state.checkpoints),
        "failures": len(out.state.failures),
        "types": dict(out.counts.most_common()),
    }


def cached_log(total: int = 1_000_000, seed: int = SEED) -> Path:
    """The wide log in the temp dir, made once per (size, seed, generator source) and reused."""
    return cache_log("wide", __file__, total, seed)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.gettempdir()) / "studio-tui-bench" / "wide.jsonl"
    print(json.dumps(generate(target, count, int(sys.argv[3]) if len(sys.argv) > 3 else SEED)))

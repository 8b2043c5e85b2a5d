"""A deterministic, realistic event log for the benchmarks, written with the real `encode`.

One long decompose_first orchestration: a planner and a builder per task, chatty agents (test output,
compiler lines), token accounting, budget pressure and optimisations, transient failures retried,
design flaws replanned, blockers escalated to a person (with the long idle gap a person takes),
checkpoints after progress, handoffs between agents. The mix of types follows the example run's
(`studio-tui demo`), with agent_log lines dominating as they do in long real runs.

    python bench/_gen.py [EVENTS] [PATH]     # writes the log and prints a JSON summary
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from studio_tui.core import events as ev

SEED = 20261124
"""Fixed, so every run of a benchmark replays the very same bytes."""

START_TS = 1_795_000_000.0
ORCH_ID = "orch_20261018_101010_beef"

POOLS = {"reserved": 30_000, "learnings": 20_000, "backlog": 15_000, "plans": 30_000, "context7": 25_000, "working": 30_000}
LOG_LINES = (
    "pytest -q tests/{mod}: {n} passed",
    "ruff check studio/{mod}.py: all checks passed",
    "compiling studio/{mod}.py",
    "PASSED tests/test_{mod}.py::test_case_{n}",
    "FAILED tests/test_{mod}.py::test_case_{n} - AssertionError: expected 200, got 500",
    "editing studio/{mod}.py: +{n} -{m} lines",
    "reading docs for {mod} (context7)",
    "running migration {n:04d}_{mod}",
    "npm run build: {n} modules transformed",
    "mypy studio/{mod}.py: Success: no issues found in {m} source files",
)
MODULES = ("auth", "session", "routes", "models", "billing", "search", "cache", "queue", "mailer", "export", "admin", "api")
STEP_DESCRIPTIONS = (
    "Read the module and its tests",
    "Write the failing test",
    "Implement the change",
    "Wire the routes",
    "Migrate the schema",
    "Update the fixtures",
    "Run the quality gates",
    "Refactor the helpers",
)


RESERVE = 40
"""Events kept free while an agent runs, so every agent and the run itself can still finish properly."""


class _Emitter:
    """Numbers events, moves the clock and writes one JSON line per event, up to a fixed total."""

    def __init__(self, handle: Any, total: int, rng: random.Random) -> None:
        self.handle = handle
        self.total = total
        self.rng = rng
        self.seq = 0
        self.ts = START_TS
        self.counts: Counter[str] = Counter()
        self.buffer: list[str] = []

    @property
    def room(self) -> int:
        """Events left before the final orchestration_finished."""
        return self.total - 1 - self.seq

    def emit(self, cls: type[ev._Event], gap: float | None = None, **fields: Any) -> None:
        assert self.seq < self.total, "the generator ran past its total: raise RESERVE"
        self.ts += self.rng.expovariate(1 / 0.02) if gap is None else gap
        self.seq += 1
        event = cls(seq=self.seq, ts=round(self.ts, 3), orch_id=ORCH_ID, **fields)
        self.buffer.append(ev.encode(event))
        self.counts[event.type] += 1  # type: ignore[attr-defined]
        if len(self.buffer) >= 4096:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.handle.write("\n".join(self.buffer) + "\n")
            self.buffer.clear()


def _log_line(rng: random.Random) -> str:
    return rng.choice(LOG_LINES).format(mod=rng.choice(MODULES), n=rng.randint(1, 999), m=rng.randint(1, 60))


def _run_agent(out: _Emitter, rng: random.Random, key: str, role: str, task_id: str, steps: int, used: dict[str, int]) -> None:
    """One agent from start to completion: steps of logs and tokens, failures and their recovery."""
    attempt = 1
    out.emit(
        ev.AgentStarted,
        agent=key,
        role=role,
        attempt=attempt,
        task_id=task_id,
        total_steps=steps,
        input={"task_id": task_id, "plan_id": f"bp_{task_id}"},
        restart_steps=False,
    )
    held = 0
    step = 1
    replans = retries = 0
    while step <= steps and out.room > RESERVE:
        out.emit(ev.AgentStep, agent=key, step=step, total=steps, description=rng.choice(STEP_DESCRIPTIONS), status="started")
        chatter = int(rng.paretovariate(1.5) * 120) if role == "builder" else rng.randint(3, 12)
        for _ in range(min(chatter, 5000)):
            if out.room <= RESERVE:
                break
            if rng.random() < 0.02:
                out.emit(ev.TokensUsed, agent=key, pool="working", tokens=rng.randint(100, 400))
                continue
            level = "warning" if rng.random() < 0.03 else "info"
            out.emit(ev.AgentLog, agent=key, level=level, message=_log_line(rng))
        for pool in ("working", "context7") if rng.random() < 0.4 else ("working",):
            tokens = rng.randint(500, 4000)
            out.emit(ev.TokensUsed, agent=key, pool=pool, tokens=tokens)
            used[pool] += tokens
            held += tokens if pool == "working" else 0
            if used[pool] > POOLS[pool] * 0.95:
                before = used[pool]
                used[pool] = int(before * 0.4)
                out.emit(
                    ev.AgentLog,
                    agent="orchestrator",
                    level="warning",
                    message=f"context budget CRITICAL ({pool}): optimising before continuing",
                )
                step_name = "clear_context7" if pool == "context7" else "compact_working"
                out.emit(
                    ev.OptimizationApplied,
                    step=step_name,
                    pool=pool,
                    before=before,
                    after=used[pool],
                    detail=f"{before - used[pool]} tokens freed",
                    kept_agent=key if pool == "context7" else None,
                )
                held = min(held, used["working"])
        roll = rng.random()
        if roll < 0.04:
            category = rng.choice(("transient", "transient", "code_error", "design_flaw", "blocker"))
            out.emit(
                ev.AgentFailed,
                agent=key,
                step=step,
                category=category,
                message=f"step {step} failed: {_log_line(rng)}",
                details="Traceback (most recent call last): ...",
            )
            if category == "blocker" or (category == "design_flaw" and replans >= 1):
                out.emit(
                    ev.RecoveryDecided,
                    agent=key,
                    step=step,
                    category=category,
                    action="escalate",
                    retries_used=retries,
                    replans_used=replans,
                    reason=f"{category}: a person must decide",
                )
                decision_id = f"d{out.seq + 1}"
                out.emit(
                    ev.DecisionRequested,
                    decision_id=decision_id,
                    kind="escalation",
                    agent=key,
                    prompt=f"{key} failed at step {step} after {retries} retries.",
                    details={"agent": key, "step": step, "category": category},
                    options=["retry", "skip", "abort"],
                )
                out.emit(
                    ev.DecisionAnswered, gap=rng.uniform(20, 600), decision_id=decision_id, kind="escalation", answer="retry", by="person"
                )
            elif category == "design_flaw":
                replans += 1
                out.emit(
                    ev.RecoveryDecided,
                    agent=key,
                    step=step,
                    category=category,
                    action="replan",
                    retries_used=retries,
                    replans_used=replans,
                    reason=f"design flaw: replan ({replans}/1)",
                )
            else:
                retries += 1
                out.emit(
                    ev.RecoveryDecided,
                    agent=key,
                    step=step,
                    category=category,
                    action="retry",
                    retries_used=retries,
                    replans_used=replans,
                    reason=f"{category}: retry ({retries}/5)",
                )
            attempt += 1
            out.emit(
                ev.AgentStarted,
                gap=rng.uniform(0.5, 10),
                agent=key,
                role=role,
                attempt=attempt,
                task_id=task_id,
                total_steps=steps,
                input={"task_id": task_id, "plan_id": f"bp_{task_id}"},
                restart_steps=False,
            )
            continue
        out.emit(ev.AgentStep, agent=key, step=step, status="completed")
        if step % 5 == 0:
            out.emit(ev.CheckpointSaved, checkpoint_id=f"cp_{int(out.ts)}", name=f"{key}_step_{step}", after_agent=key, reason="progress")
        step += 1
    out.emit(ev.AgentCompleted, agent=key, output={"task_id": task_id, "steps": steps})
    freed = min(held, used["working"])
    used["working"] -= freed
    out.emit(ev.BudgetReleased, pool="working", tokens=freed, reason=f"{role} finished: its working context is freed", agent=key)
    out.emit(ev.CheckpointSaved, checkpoint_id=f"cp_{int(out.ts)}", name=f"{key}_complete", after_agent=key, reason="agent_completed")


def generate(path: Path, total: int = 1_000_000, seed: int = SEED) -> dict[str, Any]:
    """Write exactly `total` events to `path`; return a summary (counts per type, bytes)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as handle:
        out = _Emitter(handle, total, rng)
        out.emit(
            ev.OrchestrationStarted,
            goal="Split the monolith into services, one task at a time",
            mode="implicit",
            workspace="/srv/app/.studio",
        )
        out.emit(ev.StatusChanged, status="analyzing")
        out.emit(
            ev.RoutingDecided,
            workflow="decompose_first",
            complexity="complex",
            confidence=0.72,
            signals=['"split" -> decompose_first'],
            reason="1 signal for decompose_first",
            sequence=[ev.SlotSpec(key="architect", agent="architect")],
        )
        out.emit(ev.BudgetAllocated, pools={name: ev.PoolSpec(used=0, soft=soft) for name, soft in POOLS.items()})
        out.emit(ev.StatusChanged, status="executing")
        used = dict.fromkeys(POOLS, 0)
        _run_agent(out, rng, "architect", "architect", "arch", 4, used)
        task = 0
        while out.room > 2 * RESERVE:
            task += 1
            task_id = f"T{task}"
            out.emit(
                ev.SequenceExtended,
                sequence=[
                    ev.SlotSpec(key=f"planner:{task_id}", agent="planner", task_id=task_id),
                    ev.SlotSpec(key=f"builder:{task_id}", agent="builder", task_id=task_id),
                ],
            )
            _run_agent(out, rng, f"planner:{task_id}", "planner", task_id, rng.randint(2, 4), used)
            out.emit(
                ev.HandoffRecorded,
                from_agent=f"planner:{task_id}",
                to_agent=f"builder:{task_id}",
                context={"task_id": task_id, "plan_id": f"bp_{task_id}", "plan_summary": f"{rng.randint(3, 9)} steps for {task_id}"},
                tokens=rng.randint(500, 3000),
            )
            _run_agent(out, rng, f"builder:{task_id}", "builder", task_id, rng.randint(20, 60), used)
            out.emit(ev.BacklogUpdated, task_id=task_id, status="done")
        while out.room > 0:
            out.emit(ev.AgentLog, agent="orchestrator", level="info", message="session cleaned up")
        out.emit(ev.OrchestrationFinished, status="completed", summary=f"{task} tasks built")
        out.flush()
    return {"events": out.seq, "bytes": path.stat().st_size, "tasks": task, "types": dict(out.counts.most_common())}


def cache_log(name: str, generator_file: str, total: int, seed: int) -> Path:
    """A generated log in the temp dir, made once per (name, size, seed, generator source) and reused."""
    source = hashlib.sha256(Path(generator_file).read_bytes()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "studio-tui-bench"
    path = folder / f"{name}-{total}-{seed}-{source}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        print(f"generating {total:,} events ({name}) into {path} ...", file=sys.stderr)
        partial = path.with_suffix(".partial")
        # In a child process: a parent that generated a big log in-process keeps its pages, and a child
        # it then forks starts with that resident set, which inflates every peak RSS measured after.
        subprocess.run([sys.executable, generator_file, str(total), str(partial), str(seed)], check=True, stdout=subprocess.DEVNULL)
        partial.replace(path)
        print(f"generated in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def cached_log(total: int = 1_000_000, seed: int = SEED) -> Path:
    """The generated log in the temp dir, made once per (size, seed, generator source) and reused."""
    return cache_log("events", __file__, total, seed)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.gettempdir()) / "studio-tui-bench" / "events.jsonl"
    print(json.dumps(generate(target, count, int(sys.argv[3]) if len(sys.argv) > 3 else SEED)))


def load_events(count: int) -> list[ev.Event]:
    """The first `count` events of the cached 1M-event log, decoded (shared by the benchmarks)."""
    from studio_tui.core.replay import LogIndex, decode_line

    path = cached_log(max(count, 1_000_000))
    with LogIndex(path) as index:
        while index.lines_indexed < count and not index.complete:
            index.index_chunk()
        return [decode_line(raw) for _, raw in index.iter_lines(0, count)]

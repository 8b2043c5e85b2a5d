"""Listing 1,000 checkpoints: the index (`studio-tui checkpoints`) against parsing every file.

Two shapes of workspace, each with 1,000 checkpoints written by the real `Workspace.write_checkpoint`:
- `one_run`: one orchestration, a small state (a build of a few steps);
- `many_runs`: 50 orchestrations of 20 checkpoints each, a state 10x bigger (an agent 300 steps in,
  failures and handoffs), so each file is bigger and the index covers 50 folders.

For each shape, rounds interleave the two ways of listing and keep min/median/max:
- `indexed`: `Workspace.list_checkpoints()`, what `studio-tui checkpoints` runs (index + digests);
- `baseline`: what it did before, `load_checkpoint` (parse + validate) on every file.
Also the whole `studio-tui checkpoints --json` subprocess once per round, and a bare
`studio-tui --version` beside it: on a loaded machine the interpreter's start-up alone can take
seconds, so the target applies to the listing (`indexed`), the command's figures are reported.

    python bench/checkpoints.py [--rounds N]

Prints one JSON object: per shape the timings (seconds), the median ratio indexed/baseline, and
`pass` (1,000 checkpoints listed in under 1 s, every round).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.store import CheckpointMeta, Workspace

TARGET_S = 1.0
COUNT = 1000


def _state(orch_id: str, steps: int, extra: int):
    events: list[ev.Event] = []
    seq = 0

    def add(cls, **fields):
        nonlocal seq
        seq += 1
        events.append(cls(seq=seq, ts=1_800_000_000 + seq, orch_id=orch_id, **fields))

    add(ev.OrchestrationStarted, goal="Benchmark the checkpoint listing", mode="implicit", workspace="/w")
    add(
        ev.RoutingDecided,
        workflow="build_only",
        complexity="simple",
        confidence=0.9,
        signals=[],
        reason="bench",
        sequence=[ev.SlotSpec(key="builder", agent="builder")],
    )
    add(ev.AgentStarted, agent="builder", role="builder", attempt=1)
    for step in range(1, steps + 1):
        add(ev.AgentStep, agent="builder", step=step, total=steps, description=f"step {step} " + "x" * 40, status="started")
        add(ev.AgentStep, agent="builder", step=step, status="completed")
    for n in range(extra):
        add(ev.HandoffRecorded, **{"from": "planner", "to": "builder"}, context={"note": "y" * 200, "n": n}, tokens=60)
    return fold(events)


def make_workspace(folder: Path, orchestrations: int, per_run: int, steps: int, extra: int) -> Workspace:
    ws = Workspace(folder / ".studio")
    number = 0
    for o in range(orchestrations):
        orch_id = f"orch_20261130_{o:06d}_beef"
        state = _state(orch_id, steps, extra)
        ws.orch_dir(orch_id).mkdir(parents=True)
        for _ in range(per_run):
            number += 1
            meta = CheckpointMeta(
                id=f"cp_{number}",
                orch_id=orch_id,
                name=f"builder_step_{number}",
                after_agent="builder",
                seq=state.seq,
                ts=1_800_000_000 + number,
                reason="progress",
            )
            ws.write_checkpoint(meta, state)
    return ws


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def baseline(ws: Workspace) -> int:
    records = [ws.load_checkpoint(path) for _, path in ws.checkpoint_paths()]
    return len(records)


def indexed(ws: Workspace) -> int:
    listed, problems = ws.list_checkpoints()
    assert not problems, problems[:3]
    return len(listed)


def command(ws: Workspace) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "studio_tui", "--workspace", str(ws.root), "checkpoints", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return len(json.loads(done.stdout))


def startup() -> None:
    subprocess.run([sys.executable, "-m", "studio_tui", "--version"], capture_output=True, check=True)


def summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4), "max": round(max(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    shapes = {
        "one_run": {"orchestrations": 1, "per_run": COUNT, "steps": 5, "extra": 0},
        "many_runs": {"orchestrations": 50, "per_run": COUNT // 50, "steps": 300, "extra": 20},
    }
    out: dict[str, object] = {"checkpoints": COUNT, "rounds": args.rounds, "target_s": TARGET_S}
    ok = True
    with tempfile.TemporaryDirectory(prefix="studio-tui-bench-cp-") as tmp:
        for name, shape in shapes.items():
            print(f"{name}: writing {COUNT} checkpoints", file=sys.stderr)
            ws = make_workspace(Path(tmp) / name, **shape)
            sizes = [p.stat().st_size for _, p in ws.checkpoint_paths()]
            assert indexed(ws) == baseline(ws) == command(ws) == COUNT
            times: dict[str, list[float]] = {"indexed": [], "baseline": [], "command": [], "startup": []}
            for r in range(args.rounds):
                print(f"{name}: round {r + 1}/{args.rounds}", file=sys.stderr)
                times["indexed"].append(_time(lambda ws=ws: indexed(ws)))
                times["baseline"].append(_time(lambda ws=ws: baseline(ws)))
                times["command"].append(_time(lambda ws=ws: command(ws)))
                times["startup"].append(_time(startup))
            ratio = statistics.median(times["indexed"]) / statistics.median(times["baseline"])
            passed = max(times["indexed"]) < TARGET_S
            ok = ok and passed
            out[name] = {
                "shape": shape,
                "file_bytes_median": int(statistics.median(sizes)),
                "indexed_s": summary(times["indexed"]),
                "baseline_parse_every_file_s": summary(times["baseline"]),
                "command_s": summary(times["command"]),
                "bare_startup_s": summary(times["startup"]),
                "ratio_indexed_vs_baseline": round(ratio, 3),
                "pass": passed,
            }
    out["pass"] = ok
    if not ok:
        out["missed_by"] = {name: out[name]["indexed_s"]["max"] for name in shapes if not out[name]["pass"]}  # type: ignore[index]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()

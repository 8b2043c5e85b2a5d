"""Parallel Builders benchmark: wall time of a 6-task backlog with --parallel 1, 2, 3 and on a Dask LocalCluster.

    python bench/parallel.py [--sleep SECONDS] [--rounds N] [--no-dask]

Prints one JSON object on stdout (progress on stderr). Each run is the real CLI (`run-backlog
--headless`) on a fresh git project whose Builder is a command agent that sleeps SECONDS (default 2)
and writes one file. Rounds are interleaved and medians kept, so every figure shares the machine's
load with the others.

- `wall_s`: process launch to exit, as a person waits for it (interpreter start, and for Dask the
  LocalCluster's two worker processes, included).
- `tasks_s`: the first Builder start to the last merge, from the run's own log (startup excluded).
- `speedup`: --parallel 1's `tasks_s` over this one's (`wall_speedup` the same with `wall_s`); the
  ideal is min(N, 6 / ceil(6 / N)): 2.0 at N=2, 3.0 at N=3. --parallel 1 runs one task after another
  in the project itself; N > 1 adds a worktree, a commit and a merge per task.

Targets: speedup >= 1.6 at N=2 and >= 2.2 at N=3 (80% and 73% of ideal: the per-task git work and a
loaded 2-core machine take their share); Dask (2 workers, like N=2) >= 1.4 (the clone and push per task).
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

import yaml

TASKS = 6
TARGETS = {"parallel_2": 1.6, "parallel_3": 2.2, "dask_local_cluster_2": 1.4}
RUN_TIMEOUT_S = 600

AGENT = r"""
import json, os, sys, time
handoff = json.loads(sys.stdin.readline())
def emit(**m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
emit(type="progress", step=1, total=1, description="sleep and write")
time.sleep(float(os.environ["BENCH_SLEEP"]))
with open(os.path.join(handoff["project_root"], handoff["task_id"] + ".txt"), "w") as f:
    f.write("made by " + handoff["task_id"] + "\n")
emit(type="progress", step=1, total=1, done=True)
emit(type="result", output={"task_id": handoff["task_id"]})
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_project(folder: Path, sleep: float, execution: dict) -> Path:
    root = folder / "project"
    studio = root / ".studio"
    studio.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("bench\n")
    (root / ".gitignore").write_text(".studio/\n")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "base")
    agent = folder / "agent.py"
    agent.write_text(AGENT)
    command = {"kind": "command", "command": [sys.executable, str(agent)], "env": {"BENCH_SLEEP": str(sleep)}}
    config = {
        "agents": {"builder": command, "planner": command, "architect": command},
        "checkpoints": {"every_steps": 0},
        "execution": execution,
    }
    (studio / "config.yaml").write_text(yaml.safe_dump(config))
    tasks = [{"id": f"T{i}", "title": f"Task {i}"} for i in range(1, TASKS + 1)]
    backlog = {"epics": [{"id": "E", "title": "E", "features": [{"id": "F", "title": "F", "tasks": tasks}]}]}
    (studio / "backlog.yaml").write_text(yaml.safe_dump(backlog))
    return studio


def run_once(name: str, execution: dict, sleep: float, scratch: Path) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch))
    studio = make_project(folder, sleep, execution)
    env = {**os.environ, "CI": "true", "NO_COLOR": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "studio_tui", "--workspace", str(studio), "run-backlog", "--headless"],
        cwd=studio.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: the run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    (orch,) = list((studio / "orchestration").iterdir())
    events = [json.loads(line) for line in (orch / "events.jsonl").read_text().splitlines() if line.strip()]
    first = min(e["ts"] for e in events if e["type"] == "agent_started")
    last = max(e["ts"] for e in events if e["type"] in ("task_merged", "agent_completed"))
    return {"wall_s": wall, "tasks_s": last - first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each Builder sleeps (default 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true", help="skip the LocalCluster runs")
    args = parser.parse_args()
    configs: dict[str, dict] = {
        "parallel_1": {"parallel": 1},
        "parallel_2": {"parallel": 2},
        "parallel_3": {"parallel": 3},
    }
    if not args.no_dask:
        try:
            import distributed  # noqa: F401

            configs["dask_local_cluster_2"] = {"engine": "dask", "dask_workers": 2}
        except ImportError:
            print("dask extra not installed: LocalCluster runs skipped", file=sys.stderr)
    scratch = Path(tempfile.gettempdir()) / "studio-tui-bench" / "parallel"
    scratch.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[dict]] = {name: [] for name in configs}
    for round_no in range(1, args.rounds + 1):
        for name, execution in configs.items():
            sample = run_once(name, execution, args.sleep, scratch)
            samples[name].append(sample)
            print(f"round {round_no} {name}: wall {sample['wall_s']:.2f}s, tasks {sample['tasks_s']:.2f}s", file=sys.stderr)
    medians = {name: {k: statistics.median(s[k] for s in runs) for k in ("wall_s", "tasks_s")} for name, runs in samples.items()}
    base = medians["parallel_1"]
    results = {}
    for name, figures in medians.items():
        results[name] = {
            "wall_s": round(figures["wall_s"], 3),
            "tasks_s": round(figures["tasks_s"], 3),
            "speedup": round(base["tasks_s"] / figures["tasks_s"], 3),
            "wall_speedup": round(base["wall_s"] / figures["wall_s"], 3),
        }
    missed = {
        name: {"speedup": results[name]["speedup"], "target": target}
        for name, target in TARGETS.items()
        if name in results and results[name]["speedup"] < target
    }
    report = {
        "benchmark": "parallel",
        "tasks": TASKS,
        "sleep_s": args.sleep,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "results": results,
        "targets": {name: t for name, t in TARGETS.items() if name in results},
        "pass": not missed,
    }
    if missed:
        report["missed_by"] = missed
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

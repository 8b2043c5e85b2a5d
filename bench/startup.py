"""Startup benchmark: time to the dashboard's first frame against a bare Textual app, same run.

    python bench/startup.py [--rounds N]

Prints one JSON object on stdout (progress on stderr). Both apps start in fresh processes, rounds
interleaved, medians kept:

- dashboard: `StudioApp` viewing the example workspace after one full demo run (`studio-tui demo
  --speed 0` in a temp folder, untimed), so its first frame has a real orchestration to show.
- bare: a Textual `App` with one `Static`: the floor every Textual program pays.

Each child runs headless (`run_test`, 120x40) and reports when its first frame is on screen (mounted,
and the first refresh done: `pilot.pause()`); the dashboard also reports when the folded run is on
screen (`data_frame`). Times are from process launch (interpreter start included, as a person
experiences it); `*_in_process_s` leave the interpreter start out (stricter, as imports dominate).
Both use the same warmed bytecode cache, as an installed package would.

`ratio` = dashboard / bare, launch to first frame (medians); target <= 1.5. `ratio_spread` is the min /
median / max of the per-round ratios (each round's dashboard over the same round's bare app). `*_cpu_s`
is each child's CPU time (user + system, threads included): steadier than wall time on a loaded machine.

`--breakdown` adds two children per round to say where the difference goes:
- bare_imports: the bare app after importing what the dashboard's process imports (`studio_tui.core.store`,
  `studio_tui.ui.app`): `imports_s` = it - bare.
- dashboard_empty: the dashboard over a workspace with no run (nothing to fold or fill):
  `compose_s` = it - bare_imports (the panes: widgets, CSS, layout, first render).
- `data_s` = dashboard - dashboard_empty (read and fold the run, fill the tables and the log).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import load_note

TARGET_RATIO = 1.5
DATA_FRAME_DEADLINE_S = 30.0
"""Longest the dashboard child waits for the folded run to reach the screen before giving up."""

DASHBOARD = r"""
import time
started = time.perf_counter()
import asyncio, json, sys
from pathlib import Path
from studio_tui.core.store import Workspace
from studio_tui.ui.app import Launch, StudioApp
imported = time.perf_counter()

async def main():
    app = StudioApp(Launch(Workspace(Path(sys.argv[1])), action="view"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first, first_wall = time.perf_counter(), time.time()
        deadline = first + float(sys.argv[2])
        while (not app.feed.state.id or app.feed.dirty) and time.perf_counter() < deadline:
            await pilot.pause()
        data = time.perf_counter()
        shown = bool(app.feed.state.id) and not app.feed.dirty
    print(json.dumps({"first_in_process": first - started, "first_wall": first_wall, "import": imported - started,
                      "data_in_process": data - started, "data_shown": shown}))

asyncio.run(main())
"""

DASHBOARD_EMPTY = r"""
import time
started = time.perf_counter()
import asyncio, json, sys
from pathlib import Path
from studio_tui.core.store import Workspace
from studio_tui.ui.app import Launch, StudioApp
imported = time.perf_counter()

async def main():
    app = StudioApp(Launch(Workspace(Path(sys.argv[1])), action="view"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first, first_wall = time.perf_counter(), time.time()
    print(json.dumps({"first_in_process": first - started, "first_wall": first_wall, "import": imported - started}))

asyncio.run(main())
"""

BARE = r"""
import time
started = time.perf_counter()
import asyncio, json
from textual.app import App
from textual.widgets import Static
imported = time.perf_counter()

class Bare(App):
    def compose(self):
        yield Static("hello")

async def main():
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first, first_wall = time.perf_counter(), time.time()
    print(json.dumps({"first_in_process": first - started, "first_wall": first_wall, "import": imported - started}))

asyncio.run(main())
"""


BARE_IMPORTS = BARE.replace(
    "from textual.widgets import Static\n", "from textual.widgets import Static\nimport studio_tui.core.store, studio_tui.ui.app\n"
)


def child_env(pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["TZ"] = "UTC"
    return env


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    launched, cpu_before = time.time(), children_cpu_s()
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False)
    cpu = children_cpu_s() - cpu_before
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(f"a startup child failed ({done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["first_from_launch"] = result["first_wall"] - launched
    result["cpu"] = cpu
    return result


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--breakdown", action="store_true", help="also time the imports alone and an empty dashboard")
    args = parser.parse_args()

    load_before = load_note()
    with tempfile.TemporaryDirectory(prefix="studio-bench-startup-") as tmp:
        folder = Path(tmp)
        pycache = folder / "pycache"
        env = child_env(pycache)
        print("running the demo once to have an orchestration to show ...", file=sys.stderr)
        demo = subprocess.run(
            [sys.executable, "-m", "studio_tui", "demo", "--speed", "0", "--into", str(folder / "project")],
            env={**env, "CI": "true", "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        workspace = folder / "project" / ".studio"
        if not any((workspace / "orchestration").glob("orch_*/events.jsonl")):
            print(demo.stdout, demo.stderr, file=sys.stderr)
            raise SystemExit("the demo run left no orchestration to show")
        empty = folder / "empty" / ".studio"
        shutil.copytree(workspace, empty, ignore=shutil.ignore_patterns("orchestration", "checkpoints", "lock"))
        run_child(BARE, [], env)  # warm the bytecode cache for both
        run_child(DASHBOARD, [str(workspace), str(DATA_FRAME_DEADLINE_S)], env)
        dashboard: list[dict[str, float]] = []
        bare: list[dict[str, float]] = []
        bare_imports: list[dict[str, float]] = []
        dashboard_empty: list[dict[str, float]] = []
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr)
            bare.append(run_child(BARE, [], env))
            dashboard.append(run_child(DASHBOARD, [str(workspace), str(DATA_FRAME_DEADLINE_S)], env))
            if args.breakdown:
                bare_imports.append(run_child(BARE_IMPORTS, [], env))
                dashboard_empty.append(run_child(DASHBOARD_EMPTY, [str(empty)], env))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    dash_first, bare_first = median(dashboard, "first_from_launch"), median(bare, "first_from_launch")
    dash_in, bare_in = median(dashboard, "first_in_process"), median(bare, "first_in_process")
    ratio = dash_first / bare_first
    result = {
        "benchmark": "startup",
        "rounds": args.rounds,
        "terminal": "120x40 headless run_test",
        "dashboard_first_frame_s": round(dash_first, 3),
        "bare_first_frame_s": round(bare_first, 3),
        "ratio": round(ratio, 3),
        "dashboard_first_frame_in_process_s": round(dash_in, 3),
        "bare_first_frame_in_process_s": round(bare_in, 3),
        "ratio_in_process": round(dash_in / bare_in, 3),
        "dashboard_import_s": round(median(dashboard, "import"), 3),
        "bare_import_s": round(median(bare, "import"), 3),
        "dashboard_after_import_s": round(dash_in - median(dashboard, "import"), 3),
        "bare_after_import_s": round(bare_in - median(bare, "import"), 3),
        "dashboard_data_frame_in_process_s": round(median(dashboard, "data_in_process"), 3),
        "data_shown": all(run["data_shown"] for run in dashboard),
        "ratio_spread": spread([d["first_from_launch"] / b["first_from_launch"] for d, b in zip(dashboard, bare, strict=True)]),
        "dashboard_first_frame_spread": spread([run["first_from_launch"] for run in dashboard]),
        "bare_first_frame_spread": spread([run["first_from_launch"] for run in bare]),
        "dashboard_cpu_s": round(median(dashboard, "cpu"), 3),
        "bare_cpu_s": round(median(bare, "cpu"), 3),
        "cpu_ratio": round(median(dashboard, "cpu") / median(bare, "cpu"), 3),
        "target_ratio": TARGET_RATIO,
        "load_before": load_before,
        "load_after": load_note(),
        "pass": ratio <= TARGET_RATIO,
    }
    if args.breakdown:
        bare_imports_first, empty_first = median(bare_imports, "first_from_launch"), median(dashboard_empty, "first_from_launch")
        result["breakdown"] = {
            "bare_s": round(bare_first, 3),
            "bare_imports_s": round(bare_imports_first, 3),
            "dashboard_empty_s": round(empty_first, 3),
            "dashboard_s": round(dash_first, 3),
            "imports_s": round(bare_imports_first - bare_first, 3),
            "compose_s": round(empty_first - bare_imports_first, 3),
            "data_s": round(dash_first - empty_first, 3),
            "cpu_s": {
                "bare": round(median(bare, "cpu"), 3),
                "bare_imports": round(median(bare_imports, "cpu"), 3),
                "dashboard_empty": round(median(dashboard_empty, "cpu"), 3),
                "dashboard": round(median(dashboard, "cpu"), 3),
            },
        }
    if not result["pass"]:
        result["missed_by"] = f"{ratio:.2f}x the bare app against {TARGET_RATIO}x ({(ratio / TARGET_RATIO - 1) * 100:.0f}% over)"
    print(json.dumps(result))


if __name__ == "__main__":
    main()

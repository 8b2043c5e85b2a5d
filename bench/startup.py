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

`ratio` = dashboard / bare, launch to first frame; target <= 1.5.
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


def child_env(pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["TZ"] = "UTC"
    return env


def run_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    launched = time.time()
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(f"a startup child failed ({done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["first_from_launch"] = result["first_wall"] - launched
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

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
        run_child(BARE, [], env)  # warm the bytecode cache for both
        run_child(DASHBOARD, [str(workspace), str(DATA_FRAME_DEADLINE_S)], env)
        dashboard: list[dict[str, float]] = []
        bare: list[dict[str, float]] = []
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr)
            bare.append(run_child(BARE, [], env))
            dashboard.append(run_child(DASHBOARD, [str(workspace), str(DATA_FRAME_DEADLINE_S)], env))

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
        "target_ratio": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO,
    }
    if not result["pass"]:
        result["missed_by"] = f"{ratio:.2f}x the bare app against {TARGET_RATIO}x ({(ratio / TARGET_RATIO - 1) * 100:.0f}% over)"
    print(json.dumps(result))


if __name__ == "__main__":
    main()

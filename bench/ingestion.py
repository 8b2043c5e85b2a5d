"""Ingestion benchmark: events a second through the running dashboard against the bare reducer.

    python bench/ingestion.py [--events N] [--rounds N] [--slice N]

Prints one JSON object on stdout (progress on stderr). The same realistic events (the first N of the
generated log, decoded once, untimed) are used, in the same process and the same run:

- reducer: `apply(state, event)` for every event on a fresh state: the bare rate.
- dashboard: the real `StudioApp` (headless `run_test`, 120x40, viewing an example workspace) is fed
  every event through its `Feed.apply` (reduce + keep for the log pane), `--slice` events at a time
  with a yield to the event loop in between, as a live run hands over events; the app's 20 Hz
  timer keeps redrawing every pane meanwhile. Timed from the first event to the frame that shows the
  last one. `frames_per_s` counts the screen updates the app really wrote while it ingested, so a
  rate bought by starving the screen would show.

`ratio` = dashboard rate / reducer rate (median of `--rounds` interleaved rounds); target >= 0.70.
`dashboard_ms_per_frame` is the time the dashboard spent beyond the reducer, per frame written;
`frame_budget_for_target_ms` is what a frame may cost at 20 Hz for the target to hold (~21 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import load_events

from studio_tui.core import events as ev
from studio_tui.core.example import make_demo_workspace
from studio_tui.core.reducer import apply
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import Workspace

TARGET_RATIO = 0.70
FRAME_RATE = 20
"""The dashboard's refresh rate (ui.app.FRAME_RATE), for the per-frame budget the target implies."""
SLICE = 250
"""Events handed over between two yields to the event loop: about as many as a busy orchestrator
emits between awaits, and small enough (~0.5 ms) that the frame timer is never held up."""


def bare_reducer(events: list[ev.Event]) -> float:
    state = OrchestrationState()
    started = time.perf_counter()
    for event in events:
        apply(state, event)
    return time.perf_counter() - started


async def dashboard(events: list[ev.Event], workspace: Workspace, slice_size: int) -> dict[str, float]:
    from studio_tui.ui.app import Launch, StudioApp

    app = StudioApp(Launch(workspace, action="view"))
    displayed = 0
    original_display = app._display

    def counting_display(screen, renderable):  # type: ignore[no-untyped-def]
        nonlocal displayed
        displayed += 1
        return original_display(screen, renderable)

    app._display = counting_display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        feed = app.feed
        frames_before = displayed
        started = time.perf_counter()
        for start in range(0, len(events), slice_size):
            for event in events[start : start + slice_size]:
                feed.apply(event)
            await asyncio.sleep(0)
        while feed.dirty:  # noqa: ASYNC110 - no event fires on a repaint: yield until the feed is clean; the frame that shows the last event
            await asyncio.sleep(0)
        await pilot.pause()
        elapsed = time.perf_counter() - started
        frames = displayed - frames_before
        assert feed.state.seq == events[-1].seq
    return {"seconds": elapsed, "frames": frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slice", type=int, default=SLICE)
    args = parser.parse_args()

    print(f"loading {args.events:,} events ...", file=sys.stderr)
    events = load_events(args.events)
    reducer_s: list[float] = []
    dashboard_s: list[float] = []
    frames: list[float] = []
    overhead_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="studio-bench-ingest-") as tmp:
        workspace = Workspace(make_demo_workspace(Path(tmp) / "project"))
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr)
            gc.collect()
            reducer_s.append(statistics.median(bare_reducer(events) for _ in range(3)))
            gc.collect()
            run = asyncio.run(dashboard(events, workspace, args.slice))
            dashboard_s.append(run["seconds"])
            frames.append(run["frames"] / run["seconds"])
            overhead_ms.append((run["seconds"] - reducer_s[-1]) / max(1, run["frames"]) * 1000)

    reducer_rate = len(events) / statistics.median(reducer_s)
    dashboard_rate = len(events) / statistics.median(dashboard_s)
    ratio = dashboard_rate / reducer_rate
    result = {
        "benchmark": "ingestion",
        "events": len(events),
        "rounds": args.rounds,
        "slice": args.slice,
        "terminal": "120x40 headless run_test",
        "reducer_events_per_s": round(reducer_rate),
        "dashboard_events_per_s": round(dashboard_rate),
        "ratio": round(ratio, 3),
        "dashboard_seconds": [round(s, 3) for s in dashboard_s],
        "reducer_seconds": [round(s, 4) for s in reducer_s],
        "frames_per_s": round(statistics.median(frames), 1),
        "dashboard_ms_per_frame": round(statistics.median(overhead_ms), 1),
        "frame_budget_for_target_ms": round((1 / TARGET_RATIO - 1) * 1000 / FRAME_RATE, 1),
        "target_ratio": TARGET_RATIO,
        "pass": ratio >= TARGET_RATIO,
    }
    if not result["pass"]:
        result["missed_by"] = (
            f"the dashboard keeps {ratio * 100:.1f}% of the reducer's rate against {TARGET_RATIO * 100:.0f}%: "
            f"a frame costs ~{result['dashboard_ms_per_frame']:.0f} ms against a ~{result['frame_budget_for_target_ms']:.0f} ms budget"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

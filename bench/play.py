"""Play benchmark: replay played at max speed from the first line to the end of a 1M-event log (both shapes).

    python bench/play.py [--log gen|wide|both|PATH] [--events N] [--runs 3] [--ui]

In a fresh process: index the log, then a `Player` at max speed is advanced frame by frame as the
replay screen's 20 Hz timer does (each `advance` folds for most of a frame and returns; drawing is not
part of these two figures):

- `play_s`: pressing play as soon as the log is indexed, before any keyframe exists: the player plays
  along the keyframe frontier (it reduces each line once, for itself and the keyframes, decoding every
  line as the keyframes need: bad lines and marks).
- `play_with_keyframes_s`: playing again once every keyframe exists: folding only (agent_log lines
  told by their bytes are not decoded).

The baseline is a headless fold of the same log from its first line in the same child
(`state_at_seq(..., snapshots=False)`): `ratio_vs_fold`. With `--ui`, the same in the real replay
screen (headless `run_test`, 120x40, drawing every frame): `ui_right_after_opening` (the background
worker builds the keyframes meanwhile) and `ui_after_keyframes`. 3 runs, min/median/max. Target: the
end of 1M events in <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import RUNS, load_note, logs, spread, timed_child

TARGET_S = 15.0
UI_DEADLINE_S = 600.0

CHILD = r"""
import json, math, sys, time
from studio_tui.core.replay import Player, ReplayModel, state_at_seq
path = sys.argv[1]
model = ReplayModel(path)
started = time.perf_counter()
model.build_index()
indexed = time.perf_counter() - started
player = Player(model, speed=math.inf)
player.toggle()
started = time.perf_counter()
frames = 0
while player.playing:
    player.advance(0.05)
    frames += 1
play_s = time.perf_counter() - started
first_state = player.state
player.toggle()  # from the end: starts over, every keyframe built now (the fold-only path)
started = time.perf_counter()
while player.playing:
    player.advance(0.05)
replay_s = time.perf_counter() - started
started = time.perf_counter()
folded, _ = state_at_seq(path, None, snapshots=False)
fold_s = time.perf_counter() - started
print(json.dumps({"index_s": indexed, "play_s": play_s, "frames": frames, "fold_s": fold_s, "play_with_keyframes_s": replay_s,
                  "position": player.position, "length": model.length,
                  "same_state": folded == first_state and folded == player.state}))
"""

UI_CHILD = r"""
import asyncio, json, math, sys, time
from pathlib import Path
from studio_tui.core.store import Workspace
from studio_tui.ui.app import StudioApp
from studio_tui.ui.launch import Launch

WAIT_S = float(sys.argv[3])

async def main():
    path = Path(sys.argv[1])
    app = StudioApp(Launch(Workspace(Path(sys.argv[2])), action="replay", log_path=path))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        deadline = time.monotonic() + WAIT_S
        while not screen.ready:
            assert time.monotonic() < deadline, "the replay never showed its first frame"
            await pilot.pause(0.01)
        if sys.argv[4] == "after_keyframes":
            while not screen.model.keyframes_complete:
                assert time.monotonic() < deadline, "keyframes never finished"
                await pilot.pause(0.05)
        while not math.isinf(screen.player.speed):
            await pilot.press("plus")
        started = time.perf_counter()
        await pilot.press("space")
        while screen.player.playing or not screen.player.at_end:
            assert time.monotonic() < deadline, "play never reached the end"
            await pilot.pause(0.02)
        play_s = time.perf_counter() - started
        print(json.dumps({"ui_play_s": play_s, "position": screen.player.position, "length": screen.model.length,
                          "keyframes_complete_at_start": sys.argv[4] == "after_keyframes"}))

asyncio.run(main())
"""
"""The real replay screen (headless run_test, 120x40): open the log, wait for the first frame (or
for the keyframes too), set max speed, press space, and time it to the end, drawing every frame."""


def ui_runs(path: Path, runs: int, when: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        walls, rss = [], []
        for _ in range(runs):
            print(f"{path.name}: playing in the replay screen ({when}) ...", file=sys.stderr)
            done = timed_child([sys.executable, "-c", UI_CHILD, str(path), str(Path(folder) / ".studio"), str(UI_DEADLINE_S), when])
            row = json.loads(done["stdout"])
            assert row["position"] == row["length"], row
            walls.append(row["ui_play_s"])
            rss.append(done["peak_rss_mb"])
    return {"play_s": spread(walls), "peak_rss_mb": spread(rss), "pass": statistics.median(walls) <= TARGET_S}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="both", help="gen, wide, both, or a path to an events.jsonl")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--ui", action="store_true", help="also play in the real replay screen, drawing every frame")
    args = parser.parse_args()
    chosen = logs(args.log, args.events) if args.log in ("gen", "wide", "both") else {"given": Path(args.log)}
    result: dict = {"benchmark": "play", "runs": args.runs, "load_before": load_note(), "logs": {}}
    for name, path in chosen.items():
        rows = []
        for _ in range(args.runs):
            print(f"{name}: playing at max speed ...", file=sys.stderr)
            done = timed_child([sys.executable, "-c", CHILD, str(path)])
            rows.append({**json.loads(done["stdout"]), "peak_rss_mb": done["peak_rss_mb"]})
        play = [r["play_s"] for r in rows]
        entry = {
            "path": str(path),
            "play_s": spread(play),
            "index_s": spread([r["index_s"] for r in rows]),
            "fold_s": spread([r["fold_s"] for r in rows]),
            "play_with_keyframes_s": spread([r["play_with_keyframes_s"] for r in rows]),
            "frames": rows[-1]["frames"],
            "peak_rss_mb": spread([r["peak_rss_mb"] for r in rows]),
            "ratio_vs_fold": round(statistics.median(play) / statistics.median([r["fold_s"] for r in rows]), 2),
            "reached_end": all(r["position"] == r["length"] for r in rows),
            "same_state_as_fold": all(r["same_state"] for r in rows),
            "target_s": TARGET_S,
            "pass": statistics.median(play) <= TARGET_S,
        }
        if args.ui:
            entry["ui_right_after_opening"] = ui_runs(path, args.runs, "at_once")
            entry["ui_after_keyframes"] = ui_runs(path, args.runs, "after_keyframes")
        result["logs"][name] = entry
    result["load_after"] = load_note()
    result["all_pass"] = all(e["pass"] and e["reached_end"] and e["same_state_as_fold"] for e in result["logs"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

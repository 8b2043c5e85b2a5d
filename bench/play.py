"""Play benchmark: replay played at max speed from the first line to the end of a 1M-event log (both shapes).

    python bench/play.py [--log gen|wide|both|PATH] [--events N] [--runs 3]

In a fresh process: index the log, then a `Player` at max speed is advanced frame by frame as the
replay screen's 20 Hz timer does (each `advance` folds for most of a frame, through the fast path, and
returns; drawing happens between frames and is not part of this figure). `play_s` is the time from
pressing play to the end; `frames` how many advances it took. The baseline is a headless fold of the
same log from its first line in the same child (`state_at_seq(..., snapshots=False)`): `ratio_vs_fold`.
3 runs, min/median/max. Target: the end of 1M events in <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import RUNS, load_note, logs, spread, timed_child

TARGET_S = 15.0

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
started = time.perf_counter()
folded, _ = state_at_seq(path, None, snapshots=False)
fold_s = time.perf_counter() - started
print(json.dumps({"index_s": indexed, "play_s": play_s, "frames": frames, "fold_s": fold_s,
                  "position": player.position, "length": model.length, "same_state": folded == player.state}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="both", help="gen, wide, both, or a path to an events.jsonl")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
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
            "frames": rows[-1]["frames"],
            "peak_rss_mb": spread([r["peak_rss_mb"] for r in rows]),
            "ratio_vs_fold": round(statistics.median(play) / statistics.median([r["fold_s"] for r in rows]), 2),
            "reached_end": all(r["position"] == r["length"] for r in rows),
            "same_state_as_fold": all(r["same_state"] for r in rows),
            "target_s": TARGET_S,
            "pass": statistics.median(play) <= TARGET_S,
        }
        result["logs"][name] = entry
    result["load_after"] = load_note()
    result["all_pass"] = all(e["pass"] and e["reached_end"] and e["same_state_as_fold"] for e in result["logs"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

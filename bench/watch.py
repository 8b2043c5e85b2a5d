"""Watch benchmark: time to the latest state, and peak RSS, on an already-written 1M-event log (both shapes).

    python bench/watch.py [--log gen|wide|both|PATH] [--events N] [--runs 3]

What `watch` (and the dashboard opening a finished or foreign run) does before it follows new lines:
`core.replay.catchup.CatchUp` (the code `follow(catch_up=True)` and the dashboard's view run) folds
the log from its nearest state snapshot to the end and reads the newest 2,000 events for the log
pane. Measured in a fresh process from launch (interpreter start and imports included) to that state
in hand, 3 runs, min/median/max, with the child's peak RSS; the state is checked against a headless
fold from the first line (`replay --json`, not timed). The baseline is `wc -l` on the same log in the
same run. Targets: <= 3 s and <= 400 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import RUNS, baseline_wc, load_note, logs, spread, timed_child

TARGET_S, TARGET_MB = 3.0, 400.0

CHILD = r"""
import json, sys, time
from studio_tui.core.replay.catchup import CatchUp
with CatchUp(sys.argv[1]) as up:
    state = up.run()
    recent = up.recent_events()
    print(json.dumps({"seq": state.seq, "agents": len(state.agent_states), "checkpoints": len(state.checkpoints),
                      "failures": len(state.failures), "recent": len(recent), "started_at_line": up.started_at_line,
                      "digest": __import__("hashlib").sha256(state.model_dump_json().encode()).hexdigest()}))
"""

CHECK = r"""
import hashlib, json, sys
from studio_tui.core.replay import state_at_seq
state, _ = state_at_seq(sys.argv[1], None, snapshots=False)
print(json.dumps({"digest": hashlib.sha256(state.model_dump_json().encode()).hexdigest()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="both", help="gen, wide, both, or a path to an events.jsonl")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-check", action="store_true", help="skip checking the state against a fold from the first line")
    args = parser.parse_args()
    chosen = logs(args.log, args.events) if args.log in ("gen", "wide", "both") else {"given": Path(args.log)}
    result: dict = {"benchmark": "watch", "runs": args.runs, "load_before": load_note(), "logs": {}}
    for name, path in chosen.items():
        wc = [baseline_wc(path) for _ in range(args.runs)]
        walls, rss = [], []
        out: dict = {}
        for _ in range(args.runs):
            print(f"{name}: catching up ...", file=sys.stderr)
            done = timed_child([sys.executable, "-c", CHILD, str(path)])
            out = json.loads(done["stdout"])
            walls.append(done["wall_s"])
            rss.append(done["peak_rss_mb"])
        entry = {
            "path": str(path),
            "bytes": path.stat().st_size,
            "time_to_latest_state_s": spread(walls),
            "peak_rss_mb": spread(rss),
            "wc_l_s": spread(wc),
            "ratio_vs_wc": round(statistics.median(walls) / statistics.median(wc), 2),
            **{k: v for k, v in out.items() if k != "digest"},
            "target": {"wall_s": TARGET_S, "peak_rss_mb": TARGET_MB},
            "pass": statistics.median(walls) <= TARGET_S and max(rss) <= TARGET_MB,
        }
        if not args.no_check:
            print(f"{name}: checking against a fold from the first line ...", file=sys.stderr)
            check = json.loads(timed_child([sys.executable, "-c", CHECK, str(path)])["stdout"])
            entry["same_state_as_full_fold"] = check["digest"] == out["digest"]
        result["logs"][name] = entry
    result["load_after"] = load_note()
    result["all_pass"] = all(e["pass"] and e.get("same_state_as_full_fold", True) for e in result["logs"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Headless replay benchmark: `studio-tui replay LOG --to N --json` for N = 1, N/2 and N, on both logs.

    python bench/replay_headless.py [--log gen|wide|both] [--events N] [--runs 3]

Each figure is the whole command in a fresh process (interpreter start, imports, reading, folding,
printing the JSON), 3 runs, min/median/max, with its peak RSS; the baseline is `wc -l` on the same
log in the same run (`ratio_vs_wc`). Targets: `--to 1` <= 0.5 s and <= 150 MB, `--to N` <= 10 s and
<= 400 MB. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import RUNS, baseline_wc, load_note, logs, spread, timed_child

TARGETS = {"to_1": (0.5, 150.0), "to_n": (10.0, 400.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="both", help="gen, wide, both, or a path to an events.jsonl")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    chosen = logs(args.log, args.events) if args.log in ("gen", "wide", "both") else {"given": Path(args.log)}
    result: dict = {"benchmark": "replay_headless", "runs": args.runs, "load_before": load_note(), "logs": {}}
    for name, path in chosen.items():
        wc = [baseline_wc(path) for _ in range(args.runs)]
        per: dict = {"path": str(path), "bytes": path.stat().st_size, "wc_l_s": spread(wc)}
        for label, to in (("to_1", 1), ("to_half", args.events // 2), ("to_n", args.events)):
            walls, rss = [], []
            for _ in range(args.runs):
                print(f"{name} --to {to} ...", file=sys.stderr)
                done = timed_child([sys.executable, "-m", "studio_tui", "replay", str(path), "--to", str(to), "--json"])
                report = json.loads(done["stdout"])["replay"]
                walls.append(done["wall_s"])
                rss.append(done["peak_rss_mb"])
            entry = {
                "wall_s": spread(walls),
                "peak_rss_mb": spread(rss),
                "reached_seq": report["reached_seq"],
                "started_at_line": report.get("started_at_line"),
                "ratio_vs_wc": round(statistics_median(walls) / statistics_median(wc), 2),
            }
            if label in TARGETS:
                limit_s, limit_mb = TARGETS[label]
                entry["target"] = {"wall_s": limit_s, "peak_rss_mb": limit_mb}
                entry["pass"] = statistics_median(walls) <= limit_s and max(rss) <= limit_mb
            per[label] = entry
        result["logs"][name] = per
    result["load_after"] = load_note()
    result["all_pass"] = all(v.get("pass", True) for per in result["logs"].values() for v in per.values() if isinstance(v, dict))
    print(json.dumps(result))


def statistics_median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


if __name__ == "__main__":
    main()

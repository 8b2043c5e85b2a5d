"""Replay benchmark: a 1,000,000-event log, indexed and sought through `studio_tui.core.replay`.

    python bench/replay.py [--log gen|wide|both|PATH] [--events N] [--seeks N] [--runs 3]

Prints one JSON object on stdout (progress on stderr). Everything is measured in a fresh Python
process (cold objects, nothing cached in the interpreter), after the log was generated and read
once (so the file is in the page cache, as it is for a log a person just produced):

- first_frame_s: open the log, index the first chunk, state after the first 200 lines: what the
  dashboard needs to paint. `first_frame_with_import_s` adds importing the replay module (pydantic,
  the event models), still excluding interpreter start-up.
- full_index_s: open to every line start known (newline scan of the whole mmap, plus mark candidates).
- keyframes_s: reducing every line once to lay down keyframes (a background worker's job; no target).
- seek_median_ms / seek_p95_ms: 100 random `state_at(position)` once the keyframes exist.
- peak_rss_mb: the child process's peak resident set over all of the above: one model, as in a
  replay session.
- cold_seek_end_s / cold_peak_rss_mb: in a second fresh process, `state_at(end)` on a freshly indexed
  model (no keyframes yet): the worst seek a person can ask for before the background worker is done
  (it lays the keyframes up to the end on the way), and that process's peak. Its end state must
  equal the first process's (compared by the digest of its JSON, made as bytes: a `str` of a state
  with emoji takes 4 bytes a character, 60 MB more peak for the wide log's).
- baseline_read_s: reading the file with plain `read()` calls and counting newlines in the same run,
  to tell a slow machine from a slow index.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import load_note, logs, spread

TARGETS = {"first_frame_s": 1.0, "full_index_s": 3.0, "seek_median_ms": 20.0, "peak_rss_mb": 400.0}
FIRST_FRAME_LINES = 200

CHILD = r"""
import hashlib, json, random, resource, statistics, sys, time
started = time.perf_counter()
from studio_tui.core.replay import ReplayModel
imported = time.perf_counter()
path, seeks, first_lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

opened = time.perf_counter()
model = ReplayModel(path)
model.index_chunk()
state = model.state_at(min(first_lines, model.length))
first_frame = time.perf_counter() - opened
assert state.seq == first_lines, state.seq

model.build_index()
full_index = time.perf_counter() - opened
marks_started = time.perf_counter()
marks = model.marks()
marks_s = time.perf_counter() - marks_started

keyframes_started = time.perf_counter()
model.build_keyframes()
keyframes = time.perf_counter() - keyframes_started

rng = random.Random(7)
times = []
for _ in range(seeks):
    position = rng.randrange(model.length + 1)
    t = time.perf_counter()
    model.state_at(position)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
final = model.state_at(model.length)
print(json.dumps({
    "import_s": imported - started,
    "first_frame_s": first_frame,
    "first_frame_with_import_s": first_frame + (imported - started),
    "full_index_s": full_index,
    "lines": model.length,
    "marks": len(marks),
    "marks_s": marks_s,
    "keyframes_s": keyframes,
    "keyframes": model.keyframe_count,
    "keyframe_every": model.keyframe_every,
    "keyframe_mb": model.keyframe_bytes / 2**20,
    "seek_median_ms": statistics.median(times),
    "seek_p95_ms": times[int(len(times) * 0.95) - 1],
    "seek_max_ms": times[-1],
    "bad_lines": len(model.bad_lines),
    "final_seq": final.seq,
    "final_digest": hashlib.sha256(final.__pydantic_serializer__.to_json(final)).hexdigest(),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""

COLD_CHILD = r"""
import hashlib, json, resource, sys, time
from studio_tui.core.replay import ReplayModel
cold = ReplayModel(sys.argv[1])
cold.build_index()
started = time.perf_counter()
end_state = cold.state_at(cold.length)
print(json.dumps({
    "cold_seek_end_s": time.perf_counter() - started,
    "end_digest": hashlib.sha256(end_state.__pydantic_serializer__.to_json(end_state)).hexdigest(),
    "cold_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def baseline_read(path: Path) -> float:
    """Seconds to read the file in 4 MiB blocks and count its newlines."""
    started = time.perf_counter()
    count = 0
    with open(path, "rb", buffering=0) as handle:
        while block := handle.read(4 << 20):
            count += block.count(b"\n")
    return time.perf_counter() - started


def _child(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(f"the measuring process failed ({done.returncode})")
    return json.loads(done.stdout)


def measure(path: Path, seeks: int) -> dict:
    row = _child(CHILD, str(path), str(seeks), str(FIRST_FRAME_LINES))
    cold = _child(COLD_CHILD, str(path))
    if cold.pop("end_digest") != row.pop("final_digest"):
        raise SystemExit(f"{path}: the state at the end differs between a cold seek and the keyframes")
    return {**row, **cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", default="gen", help="gen (bench/_gen.py), wide (bench/_gen_wide.py), both, or a path to an events.jsonl")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seeks", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    chosen = logs(args.log, args.events) if args.log in ("gen", "wide", "both") else {"given": Path(args.log)}
    result: dict = {
        "benchmark": "replay",
        "runs": args.runs,
        "load_before": load_note(),
        "measured_in": "fresh subprocess (cold interpreter and objects; file in page cache)",
        "first_frame_lines": FIRST_FRAME_LINES,
        "targets": TARGETS,
        "logs": {},
    }
    for name, path in chosen.items():
        baseline = min(baseline_read(path) for _ in range(2))  # also brings the file into the page cache
        rows = []
        for _ in range(args.runs):
            print(f"{name}: measuring in a fresh process ...", file=sys.stderr)
            rows.append(measure(path, args.seeks))
        figures = {key: spread([row[key] for row in rows]) for key, value in rows[0].items() if isinstance(value, float)}
        medians = {key: value["median"] for key, value in figures.items()}
        entry = {
            "path": str(path),
            "log_bytes": path.stat().st_size,
            "lines": rows[0]["lines"],
            "marks": rows[0]["marks"],
            "keyframes": rows[0]["keyframes"],
            "keyframe_every": rows[0]["keyframe_every"],
            "bad_lines": rows[0]["bad_lines"],
            **figures,
            "baseline_read_s": round(baseline, 4),
            "index_vs_plain_read": round(medians["full_index_s"] / baseline, 2) if baseline else None,
            "pass": {name_: medians[name_] <= limit for name_, limit in TARGETS.items()},
        }
        result["logs"][name] = entry
    result["load_after"] = load_note()
    result["all_pass"] = all(all(e["pass"].values()) for e in result["logs"].values())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

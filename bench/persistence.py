"""Persistence benchmark: events a second appended to events.jsonl by the orchestrator's writer.

    python bench/persistence.py [--events N] [--rounds N]

Prints one JSON object on stdout (progress on stderr). The same realistic events (the first N of
the generated log, decoded once, untimed) go through, in the same run and the same folder:

- writer: `EventLogWriter.append(event)` for each event (encode + one unbuffered write, as the
  orchestrator does), with `sync()` after checkpoints, escalations and the finish, as the
  orchestrator fsyncs there. `events_per_s` is this one; the target is >= 50,000/s.
- writer_no_sync: the same without any fsync, to show what the syncs cost.
- raw_write: `file.write(line)` of the same lines already encoded, one unbuffered write each: the
  syscall floor under the writer. `ratio_vs_raw` = writer / raw_write (1.0 = the writer adds nothing).
- encode_only: `encode(event)` alone, to show where the writer's time goes.

Each variant runs `--rounds` times, interleaved, and the median is kept (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import load_events

from studio_tui.core import events as ev
from studio_tui.core.store import EventLogWriter

TARGET_EVENTS_PER_S = 50_000
_SYNC_AFTER = (ev.CheckpointSaved, ev.DecisionRequested, ev.OrchestrationFinished)


def run_writer(folder: Path, events: list[ev.Event], sync: bool) -> tuple[float, int]:
    path = folder / f"writer-{sync}.jsonl"
    path.unlink(missing_ok=True)
    writer = EventLogWriter(path)
    syncs = 0
    started = time.perf_counter()
    for event in events:
        writer.append(event)
        if sync and isinstance(event, _SYNC_AFTER):
            writer.sync()
            syncs += 1
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed, syncs


def run_raw(folder: Path, lines: list[bytes]) -> float:
    path = folder / "raw.jsonl"
    path.unlink(missing_ok=True)
    with open(path, "ab", buffering=0) as handle:
        write = handle.write
        started = time.perf_counter()
        for line in lines:
            write(line)
        return time.perf_counter() - started


def run_encode(events: list[ev.Event]) -> float:
    encode = ev.encode
    started = time.perf_counter()
    for event in events:
        encode(event).encode("utf-8")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    print(f"loading {args.events:,} events ...", file=sys.stderr)
    events = load_events(args.events)
    lines = [ev.encode(e).encode("utf-8") + b"\n" for e in events]
    timings: dict[str, list[float]] = {"writer": [], "writer_no_sync": [], "raw_write": [], "encode_only": []}
    syncs = 0
    with tempfile.TemporaryDirectory(prefix="studio-bench-persist-") as tmp:
        folder = Path(tmp)
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr)
            elapsed, syncs = run_writer(folder, events, sync=True)
            timings["writer"].append(elapsed)
            timings["writer_no_sync"].append(run_writer(folder, events, sync=False)[0])
            timings["raw_write"].append(run_raw(folder, lines))
            timings["encode_only"].append(run_encode(events))
        written = (folder / "writer-True.jsonl").read_bytes()
        assert written == b"".join(lines), "the writer must write exactly the encoded lines"
        filesystem = os.statvfs(folder)

    median = {name: statistics.median(values) for name, values in timings.items()}
    rate = {name: len(events) / seconds for name, seconds in median.items()}
    result = {
        "benchmark": "persistence",
        "events": len(events),
        "bytes": len(written),
        "rounds": args.rounds,
        "folder": tempfile.gettempdir(),
        "fsyncs": syncs,
        "events_per_s": round(rate["writer"]),
        "writer_no_sync_events_per_s": round(rate["writer_no_sync"]),
        "raw_write_events_per_s": round(rate["raw_write"]),
        "encode_only_events_per_s": round(rate["encode_only"]),
        "ratio_vs_raw": round(rate["writer"] / rate["raw_write"], 3),
        "encode_share_of_writer_time": round(median["encode_only"] / median["writer"], 3),
        "fs_block_size": filesystem.f_bsize,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "pass": rate["writer"] >= TARGET_EVENTS_PER_S,
    }
    if not result["pass"]:
        result["missed_by"] = f"{(1 - rate['writer'] / TARGET_EVENTS_PER_S) * 100:.0f}% below target"
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Every benchmark of issue 14, one after another, and the README's Performance table from their figures.

    python bench/all.py [--runs 3] [--only NAME ...] [--markdown]

Runs replay.py, replay_headless.py, watch.py and play.py on both logs (`--log both`), then startup.py
and ingestion.py, each in its own process (nothing is shared between them but the cached logs), one at
a time so they do not compete for the machine. Each one's JSON is kept in
`$TMPDIR/studio-tui-bench/results/<name>.json` (never in the repository). Prints one JSON object:
every result, the load before and after, and `table`, the Markdown rows of the README's Performance
table (min / median / max of the runs for each figure); `--markdown` prints only the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import load_note

HERE = Path(__file__).resolve().parent
BENCHMARKS: dict[str, list[str]] = {
    "replay": ["replay.py", "--log", "both"],
    "replay_headless": ["replay_headless.py", "--log", "both"],
    "watch": ["watch.py", "--log", "both"],
    "play": ["play.py", "--log", "both", "--ui"],
    "startup": ["startup.py"],
    "ingestion": ["ingestion.py"],
}
RUNS_FLAG = {"startup": "--rounds", "ingestion": "--rounds"}


def _span(figure: Any, unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
    """`min / median / max unit` from a spread, or the value alone."""
    if isinstance(figure, dict) and "median" in figure:
        parts = [figure["min"], figure["median"], figure["max"]]
        return " / ".join(f"{value * scale:.{digits}f}" for value in parts) + unit
    if isinstance(figure, (int, float)):
        return f"{figure * scale:.{digits}f}{unit}"
    return "n/a"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**missed**")


def table(results: dict[str, Any]) -> str:
    """The README's rows: one per figure and log, each with its command and target."""
    rows = ["| benchmark | command | target | log | measured (min / median / max) | |", "| --- | --- | --- | --- | --- | --- |"]
    for name, entry in results.get("replay", {}).get("logs", {}).items():
        passed = entry.get("pass", {})
        rows.append(
            f"| replay: first frame | `python bench/replay.py --log both` | ≤ 1 s | {name} | {_span(entry.get('first_frame_s'), ' s', digits=3)} "
            f"| {_verdict(passed.get('first_frame_s'))} |"
        )
        rows.append(
            f"| replay: seek median | same | ≤ 20 ms | {name} | {_span(entry.get('seek_median_ms'), ' ms', digits=1)} "
            f"(p95 {_span(entry.get('seek_p95_ms'), ' ms', digits=1)}) | {_verdict(passed.get('seek_median_ms'))} |"
        )
        rows.append(
            f"| replay: peak RSS | same | ≤ 400 MB | {name} | {_span(entry.get('peak_rss_mb'), ' MB', digits=0)} | {_verdict(passed.get('peak_rss_mb'))} |"
        )
    for name, per in results.get("replay_headless", {}).get("logs", {}).items():
        for label, title, target in (
            ("to_1", "`--to 1`", "≤ 0.5 s, ≤ 150 MB"),
            ("to_half", "`--to N/2`", "—"),
            ("to_n", "`--to N`", "≤ 10 s, ≤ 400 MB"),
        ):
            entry = per.get(label, {})
            rows.append(
                f"| headless replay {title} | `python bench/replay_headless.py` | {target} | {name} | {_span(entry.get('wall_s'), ' s')}, "
                f"{_span(entry.get('peak_rss_mb'), ' MB', digits=0)} | {_verdict(entry.get('pass')) if 'pass' in entry else ''} |"
            )
    for name, entry in results.get("watch", {}).get("logs", {}).items():
        rows.append(
            f"| watch: latest state of a written log | `python bench/watch.py` | ≤ 3 s, ≤ 400 MB | {name} | "
            f"{_span(entry.get('time_to_latest_state_s'), ' s')}, {_span(entry.get('peak_rss_mb'), ' MB', digits=0)} "
            f"(`wc -l` {_span(entry.get('wc_l_s'), ' s')}) | {_verdict(entry.get('pass'))} |"
        )
    for name, entry in results.get("play", {}).get("logs", {}).items():
        fold = _span(entry.get("fold_s"), " s")
        rows.append(
            f"| play at max speed to the end: the player alone, right after opening | `python bench/play.py --ui` | ≤ 15 s | {name} | "
            f"{_span(entry.get('play_s'), ' s')} (a headless fold of the same log: {fold}), {_span(entry.get('peak_rss_mb'), ' MB', digits=0)} "
            f"| {_verdict(entry.get('pass'))} |"
        )
        rows.append(f"| the same, keyframes built | same | ≤ 15 s | {name} | {_span(entry.get('play_with_keyframes_s'), ' s')} | |")
        for key, title in (
            ("ui_right_after_opening", "in the replay screen, right after opening"),
            ("ui_after_keyframes", "in the replay screen, keyframes built"),
        ):
            ui = entry.get(key)
            if ui:
                rows.append(
                    f"| the same, {title} (drawing every frame) | same | ≤ 15 s | {name} | {_span(ui.get('play_s'), ' s')}, "
                    f"{_span(ui.get('peak_rss_mb'), ' MB', digits=0)} | {_verdict(ui.get('pass'))} |"
                )
    startup = results.get("startup")
    if startup:
        rows.append(
            f"| startup: first frame vs a bare Textual app | `python bench/startup.py` | ≤ 1.5x | example | "
            f"{_span(startup.get('ratio_spread', startup.get('ratio')), 'x')} ({_span(startup.get('dashboard_first_frame_s'), ' s')} vs "
            f"{_span(startup.get('bare_first_frame_s'), ' s')}) | {_verdict(startup.get('pass'))} |"
        )
    ingestion = results.get("ingestion")
    if ingestion:
        shapes = ingestion.get("shapes") or {"gen": ingestion}
        for name, entry in shapes.items():
            rows.append(
                f"| ingestion: dashboard vs bare reducer | `python bench/ingestion.py` | ≥ 0.70 | {name} | "
                f"{_span(entry.get('ratio_spread', entry.get('ratio')), '', digits=3)} ({entry.get('frames_per_s')} frames/s) | {_verdict(entry.get('pass'))} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these (the table shows what is kept from earlier runs)"
    )
    parser.add_argument("--markdown", action="store_true", help="print only the Markdown table")
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir()) / "studio-tui-bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    before = load_note()
    for name in args.only if args.only is not None else BENCHMARKS:
        argv = [sys.executable, str(HERE / BENCHMARKS[name][0]), *BENCHMARKS[name][1:], RUNS_FLAG.get(name, "--runs"), str(args.runs)]
        print(f"== {name}: {' '.join(argv[1:])}", file=sys.stderr)
        done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed ({done.returncode})")
        (folder / f"{name}.json").write_text(done.stdout)
    results = {name: json.loads(path.read_text()) for name in BENCHMARKS if (path := folder / f"{name}.json").is_file()}
    markdown = table(results)
    if args.markdown:
        print(markdown)
        return
    print(json.dumps({"benchmark": "all", "load_before": before, "load_after": load_note(), "results": results, "table": markdown}))


if __name__ == "__main__":
    main()
